//! Commands operators queue for the node: polled every interval, run, and their results
//! reported. Delivery is at-least-once, so results are remembered by command id and a
//! redelivered command is answered again without running twice.
//!
//! Kinds: `flush_cache` (drop every compiled module; they compile again from disk on the next
//! call), `health_probe` (answer the node's status), `reload` (re-read functions and routes
//! from the data directory), `restart_function` (payload `{"function_id": "…"}` or
//! `{"name": "…"}`: drop and recompile one function, with a fresh concurrency semaphore).
//! Any other kind fails with a message.

use std::collections::VecDeque;
use std::sync::Arc;

use edgesync_client::wire::{CommandInfo, CommandOutcome, CommandResultRequest};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::http::status;
use crate::session::{Session, unauthorized};
use crate::shared::Shared;

/// Results remembered for redeliveries.
const REMEMBERED: usize = 256;

/// Runs forever.
pub(crate) async fn run(shared: Arc<Shared>, session: Arc<Session>) {
    let mut tick = tokio::time::interval(shared.config.command_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut done: VecDeque<(Uuid, CommandResultRequest)> = VecDeque::new();
    loop {
        tick.tick().await;
        if session.ensure_fresh().await.is_err() {
            continue;
        }
        let commands = match session.node().receive_commands().await {
            Ok(list) => list.items,
            Err(e) if unauthorized(&e) => {
                if let Err(err) = session.recover().await {
                    shared.contact_failed("token refresh", &err);
                }
                continue;
            }
            Err(e) => {
                shared.contact_failed("commands", &e);
                continue;
            }
        };
        for command in commands {
            let known = done
                .iter()
                .find(|(id, _)| *id == command.id)
                .map(|(_, r)| r.clone());
            let result = match known {
                Some(r) => r,
                None => {
                    let r = execute(&shared, &command).await;
                    tracing::info!(command_id = %command.id, kind = %command.kind, status = ?r.status, "command ran");
                    done.push_back((command.id, r.clone()));
                    if done.len() > REMEMBERED {
                        done.pop_front();
                    }
                    r
                }
            };
            if let Err(e) = session
                .node()
                .report_command_result(command.id, &result)
                .await
            {
                tracing::warn!(command_id = %command.id, error = %e, "could not report a command's result; it will be reported again");
            }
        }
    }
}

fn ok(output: Value) -> CommandResultRequest {
    CommandResultRequest {
        status: CommandOutcome::Succeeded,
        output,
    }
}

fn failed(message: impl Into<String>) -> CommandResultRequest {
    CommandResultRequest {
        status: CommandOutcome::Failed,
        output: json!({ "error": message.into() }),
    }
}

/// Runs one command.
pub(crate) async fn execute(shared: &Shared, command: &CommandInfo) -> CommandResultRequest {
    match command.kind.as_str() {
        "flush_cache" => {
            let dropped = shared.functions.flush_modules();
            ok(json!({ "dropped_modules": dropped }))
        }
        "health_probe" => match serde_json::to_value(status::report(shared, false).await) {
            Ok(v) => ok(v),
            Err(e) => failed(e.to_string()),
        },
        "reload" => match shared.restore().await {
            Ok((functions, routes)) => ok(json!({ "functions": functions, "routes": routes })),
            Err(e) => failed(format!("reload failed: {e}")),
        },
        "restart_function" => restart_function(shared, &command.payload).await,
        other => failed(format!(
            "unknown command kind {other:?}; this agent runs flush_cache, health_probe, reload and restart_function"
        )),
    }
}

async fn restart_function(shared: &Shared, payload: &Value) -> CommandResultRequest {
    let by_id = payload
        .get("function_id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok());
    let by_name = payload.get("name").and_then(Value::as_str);
    let live =
        shared.functions.all().into_iter().find(|f| {
            by_id == Some(f.spec.function_id) || by_name.is_some_and(|n| n == f.spec.name)
        });
    let Some(live) = live else {
        return failed(
            "no such function runs on this node (payload: {\"function_id\": …} or {\"name\": …})",
        );
    };
    let spec = live.spec.clone();
    shared.functions.forget_module(&spec.sha256);
    match shared
        .functions
        .module(&shared.runtime, &shared.artifacts, &spec.sha256)
        .await
    {
        Ok(_) => {
            shared.functions.activate(spec.clone());
            ok(json!({
                "function_id": spec.function_id,
                "name": spec.name,
                "version": spec.version,
            }))
        }
        Err(e) => failed(format!("could not restart {}: {e}", spec.name)),
    }
}
