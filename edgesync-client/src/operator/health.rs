//! `/health` and `/ready` (no credentials).

use edgesync_wire::{Health, Readiness};
use reqwest::StatusCode;

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::request::{Call, problem_or_unexpected};

impl Client {
    /// `GET /health`: the server process is alive.
    pub async fn health(&self) -> Result<Health> {
        self.json(Call::get("/health").no_auth()).await
    }

    /// `GET /ready`: whether the store and the artifact store answer. A `503` with its
    /// readiness body is an `Ok` with `ready: false`, not an error (and is not retried); a
    /// `503` problem (a server shutting down) is an error.
    pub async fn ready(&self) -> Result<Readiness> {
        let call = Call::get("/ready")
            .no_auth()
            .accept(&[StatusCode::SERVICE_UNAVAILABLE]);
        let resp = self.send(call).await?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(ClientError::Transport)?;
        match serde_json::from_slice::<Readiness>(&bytes) {
            Ok(readiness) => Ok(readiness),
            Err(_) if !status.is_success() => Err(problem_or_unexpected(status, &bytes)),
            Err(source) => Err(ClientError::Decode { status, source }),
        }
    }
}
