//! Run real `edgesync-agent` processes: start, SIGKILL, start again on the same data directory
//! and port, and read their `/_agent/status`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{binary, free_port};

/// A running `edgesync-agent run`.
pub struct AgentProcess {
    child: Option<Child>,
    args: Vec<String>,
    /// `http://127.0.0.1:<port>`: where its routes answer.
    pub url: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Its name.
    pub name: String,
    http: reqwest::Client,
}

impl AgentProcess {
    /// Starts an agent that registers with `enroll_key` under `name` with `labels`, and waits
    /// until it has registered (its status shows a node id).
    pub async fn start(
        server_url: &str,
        enroll_key: &str,
        name: &str,
        labels: &[(&str, &str)],
        data_dir: &Path,
    ) -> Self {
        let port = free_port();
        let mut args = vec![
            "run".to_owned(),
            "--server".into(),
            server_url.into(),
            "--enroll-key".into(),
            enroll_key.into(),
            "--name".into(),
            name.into(),
            "--pop".into(),
            "test".into(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--heartbeat-interval-s".into(),
            "1".into(),
            "--telemetry-interval-s".into(),
            "1".into(),
            "--command-interval-s".into(),
            "1".into(),
        ];
        for (k, v) in labels {
            args.push("--label".into());
            args.push(format!("{k}={v}"));
        }
        let mut agent = Self {
            child: None,
            args,
            url: format!("http://127.0.0.1:{port}"),
            data_dir: data_dir.to_path_buf(),
            name: name.to_owned(),
            http: reqwest::Client::new(),
        };
        agent.spawn().await;
        agent
            .wait_status("registration", Duration::from_secs(30), |s| {
                s["node_id"].is_string()
            })
            .await;
        agent
    }

    async fn spawn(&mut self) {
        let child = Command::new(binary("edgesync-agent"))
            .args(&self.args)
            .env(
                "RUST_LOG",
                std::env::var("EDGESYNC_E2E_AGENT_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self
                .http
                .get(format!("{}/_agent/health", self.url))
                .send()
                .await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "agent {} did not start serving",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Kills the process with SIGKILL (no chance to clean up).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts the process again with the same flags, data directory and port.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// `GET /_agent/status`.
    pub async fn status(&self) -> Value {
        self.http
            .get(format!("{}/_agent/status", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Polls the status until `ready` holds; panics after `timeout`.
    pub async fn wait_status(
        &self,
        what: &str,
        timeout: Duration,
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.status().await;
            if ready(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "agent {}: {what} did not happen within {timeout:?}; status: {status:#}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The node id it registered as.
    pub async fn node_id(&self) -> uuid::Uuid {
        self.status().await["node_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// `GET <path>` on its listen address.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }

    /// Polls `GET <path>` until the answer has `status` and a body containing `needle`;
    /// returns the body. Panics after `timeout`.
    pub async fn wait_for_answer(
        &self,
        path: &str,
        status: u16,
        needle: &str,
        timeout: Duration,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let resp = self.get(path).await;
            let got = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            if got == status && body.contains(needle) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "agent {}: GET {path} still answers {got} {body:?} after {timeout:?} (want {status} with {needle:?})",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The counter `name` of its status (`artifact_downloads`, `plans_applied`, …).
    pub async fn counter(&self, name: &str) -> u64 {
        self.status().await["counters"][name].as_u64().unwrap()
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
