//! `/health` and `/ready`.

use edgesync_core::EdgeSync;
use edgesync_wire as w;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;

/// Health endpoints (no authentication).
pub struct HealthApi {
    pub(crate) edgesync: EdgeSync,
}

/// Ready or not.
#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// The store and the artifact store answer.
    #[oai(status = 200)]
    Ready(Json<w::Readiness>),
    /// A required dependency does not answer; the body says which.
    #[oai(status = 503)]
    NotReady(Json<w::Readiness>),
}

fn check(name: &str, error: Option<String>, down: &str) -> w::DependencyCheck {
    w::DependencyCheck {
        name: name.to_owned(),
        status: if error.is_some() { down } else { "ok" }.to_owned(),
        error,
    }
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> Json<w::Health> {
        Json(w::Health {
            status: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    /// Readiness
    ///
    /// 200 when the store and the artifact store answer, 503 otherwise. A degraded notifier
    /// (MQTT broker down) is reported but does not make the server unready.
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self) -> ReadyResponse {
        let r = self.edgesync.readiness().await;
        let ready = r.is_ready();
        let body = w::Readiness {
            ready,
            checks: vec![
                check("store", r.store, "down"),
                check("artifacts", r.artifacts, "down"),
                check("notifier", r.notifier, "degraded"),
            ],
        };
        if ready {
            ReadyResponse::Ready(Json(body))
        } else {
            ReadyResponse::NotReady(Json(body))
        }
    }
}
