//! Fresh databases on the test server, one per store, dropped when the test ends.

use std::sync::Mutex;

use edgesync_cockroach::{CockroachConfig, CockroachStore};
use sqlx::{AssertSqlSafe, Executor, PgPool};

/// What every test prints when the server is not configured.
pub const SKIPPED: &str = "SKIPPED: PostgreSQL tests need EDGESYNC_TEST_POSTGRES_URL";

/// The databases one test created, on the server `EDGESYNC_TEST_POSTGRES_URL` names.
pub struct TestDbs {
    admin_url: url::Url,
    admin: PgPool,
    created: Mutex<Vec<String>>,
}

impl TestDbs {
    /// `None` (after saying so) when no test server is configured.
    pub async fn new() -> Option<Self> {
        let Some(url) = std::env::var("EDGESYNC_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
        else {
            eprintln!("{SKIPPED}");
            return None;
        };
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .expect("EDGESYNC_TEST_POSTGRES_URL does not connect");
        Some(Self {
            admin_url: url::Url::parse(&url).expect("EDGESYNC_TEST_POSTGRES_URL parses"),
            admin,
            created: Mutex::new(Vec::new()),
        })
    }

    /// A new empty database (default transaction isolation SERIALIZABLE, like CockroachDB);
    /// returns its URL. `options` are appended to `CREATE DATABASE`.
    pub async fn empty_database_with(&self, options: &str) -> String {
        let name = format!(
            "edgesync_test_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..16]
        );
        self.admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name} {options}")))
            .await
            .expect("CREATE DATABASE");
        self.admin
            .execute(AssertSqlSafe(format!(
                "ALTER DATABASE {name} SET default_transaction_isolation TO 'serializable'"
            )))
            .await
            .expect("ALTER DATABASE");
        self.created.lock().unwrap().push(name.clone());
        let mut url = self.admin_url.clone();
        url.set_path(&format!("/{name}"));
        url.to_string()
    }

    /// A new empty database's URL.
    pub async fn empty_database(&self) -> String {
        self.empty_database_with("").await
    }

    /// A store on a new migrated database.
    pub async fn store(&self) -> CockroachStore {
        self.store_with(CockroachConfig::default()).await
    }

    /// A store with `config` on a new migrated database.
    pub async fn store_with(&self, config: CockroachConfig) -> CockroachStore {
        let url = self.empty_database().await;
        let store = CockroachStore::connect(&url, config).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    /// Drops every database this test created.
    pub async fn cleanup(self) {
        let names = std::mem::take(&mut *self.created.lock().unwrap());
        for name in names {
            self.admin
                .execute(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await
                .expect("DROP DATABASE");
        }
        self.admin.close().await;
    }
}
