//! End-to-end: the real `edgesync` server, and `edgesync-tui` in a real terminal (tmux). The
//! console filters nodes by a label selector, opens a rollout and pauses it; the screen and
//! the server must both say `paused`. Prints SKIPPED when tmux is not installed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use edgesync_client::Client;
use edgesync_client::wire::{
    CreateDeploymentRequest, DeploymentStatus, FunctionMetadata, RegisterNodeRequest,
};
use edgesync_e2e::{ServerProcess, binary, operator};
use uuid::Uuid;

/// A private tmux server (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn new() -> Self {
        Self {
            socket: format!("edgesync-tui-e2e-{}", std::process::id()),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    /// Starts `program args…` in a detached 120×35 session.
    fn start(&self, program: &Path, args: &[&str]) {
        let mut argv = vec![
            "new-session",
            "-d",
            "-s",
            "tui",
            "-x",
            "120",
            "-y",
            "35",
            program.to_str().unwrap(),
        ];
        argv.extend_from_slice(args);
        let out = self.run(&argv);
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Named keys (`Enter`, `Tab`) or single characters.
    fn keys(&self, keys: &[&str]) {
        let mut argv = vec!["send-keys", "-t", "tui"];
        argv.extend_from_slice(keys);
        assert!(self.run(&argv).status.success());
    }

    /// Text typed as is.
    fn type_text(&self, text: &str) {
        assert!(
            self.run(&["send-keys", "-t", "tui", "-l", text])
                .status
                .success()
        );
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "tui"]).stdout).into_owned()
    }

    fn alive(&self) -> bool {
        self.run(&["has-session", "-t", "tui"]).status.success()
    }

    /// Polls the screen until `check` accepts it (20 s at most).
    fn wait_until(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_for(&self, needle: &str) -> String {
        self.wait_until(&format!("{needle:?}"), |s| s.contains(needle))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Three nodes (two `tier=edge`), a function and a rollout in batches of one over all three.
async fn seed(client: &Client) -> Uuid {
    for (name, pop, tier) in [
        ("core-ams-1", "ams", "core"),
        ("edge-fra-1", "fra", "edge"),
        ("edge-fra-2", "fra", "edge"),
    ] {
        client
            .register_node(&RegisterNodeRequest {
                name: name.into(),
                pop: pop.into(),
                region: "eu".into(),
                labels: BTreeMap::from([("tier".to_owned(), tier.to_owned())]),
                agent_version: String::new(),
                capabilities: Vec::new(),
                memory_budget_bytes: None,
            })
            .await
            .unwrap();
    }
    let wasm = wat::parse_str(r#"(module (func (export "_start")))"#).unwrap();
    let meta: FunctionMetadata =
        serde_json::from_value(serde_json::json!({"name": "hello"})).unwrap();
    let function = client.upload_function(&meta, wasm).await.unwrap().id;
    let request: CreateDeploymentRequest = serde_json::from_value(serde_json::json!({
        "function_id": function,
        "version": 1,
        "name": "hello-rollout",
        "strategy": {"kind": "batches", "batch_size": 1},
    }))
    .unwrap();
    let created = client.create_deployment(&request).await.unwrap();
    assert_eq!(created.deployment.status, DeploymentStatus::InProgress);
    assert_eq!(created.deployment.rollout.batches, 3);
    created.deployment.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_filters_nodes_and_pauses_a_rollout() {
    if !Tmux::available() {
        eprintln!("SKIPPED: tmux is not installed (apt-get install tmux)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]).await;
    let client = operator(&server);
    let deployment = seed(&client).await;
    let tui = binary("edgesync-tui");
    let key_file = server.data_dir.join("admin.key");

    let tmux = Tmux::new();
    tmux.start(
        &tui,
        &[
            "--server",
            &server.url,
            "--key-file",
            key_file.to_str().unwrap(),
        ],
    );
    // Every node, then only those the selector picks (server-side).
    tmux.wait_for("core-ams-1");
    tmux.wait_for("nodes 3");
    tmux.keys(&["/"]);
    tmux.wait_for("Filter by label selector");
    tmux.type_text("tier=edge");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_until("the filtered table", |s| {
        s.contains("Nodes [tier=edge] (2)") && s.contains("edge-fra-2") && !s.contains("core-ams-1")
    });
    assert!(screen.contains("edge-fra-1"), "{screen}");

    // The deployments view: the rollout, its gauges, then its per-node states.
    tmux.keys(&["3"]);
    tmux.wait_for("Rollout of hello-rollout");
    tmux.wait_for("batch 1/3");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Nodes of hello-rollout (3)");

    // Pause, confirmed.
    tmux.keys(&["p"]);
    tmux.wait_for("Pause rollout");
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("deployment hello-rollout is now paused");
    assert!(
        screen.contains("Nodes of hello-rollout (3) · paused"),
        "{screen}"
    );
    let row = screen
        .lines()
        .find(|l| l.contains("hello-rollout") && l.contains("hello@v1"))
        .unwrap_or_else(|| panic!("no deployment row:\n{screen}"));
    assert!(row.contains("paused"), "{row}");

    let on_server = client.get_deployment(deployment).await.unwrap();
    assert_eq!(on_server.deployment.status, DeploymentStatus::Paused);

    // q leaves cleanly (the session ends with the program).
    tmux.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.alive() {
        assert!(Instant::now() < deadline, "the console did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Embedded mode refuses the directory the server holds.
    let out = Command::new(&tui)
        .arg("--data-dir")
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a server is running on this data directory; use --server instead"),
        "{stderr}"
    );
}
