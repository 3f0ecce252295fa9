//! `json_requests`: every JSON request body the server accepts, decoded and validated the way
//! the server does it.
//!
//! Input: byte 0 picks the body type, the rest is its JSON. Wire bodies (`edgesync-wire`) are
//! converted the way the server's handlers convert them and handed to the facade on a real
//! in-memory control plane (`edgesync_fuzz::Plane`: one node, one function) — or, where the
//! call would change the plane for later inputs (node updates, migrations, routes), to the
//! public validation the facade runs first. The core model types that are deserialized from
//! JSON directly are decoded and validated too.
//!
//! Checked, besides "never panics, never hangs, never balloons" on deep nesting, huge numbers
//! and odd strings:
//! * whatever decodes re-encodes, and decodes again (to an equal value, where the type has no
//!   floating point);
//! * validation answers with an error carrying an `invalid_input`-kind or a not-found code,
//!   never `internal`.
#![no_main]

use std::cell::RefCell;
use std::time::Duration;

use edgesync_core::control::{
    Ack, CommandResult, Event, MAX_ROTATION_GRACE, NewApiKey, NewCommand, NewDeployment, Sample,
};
use edgesync_core::model::{self as m, CommandId, FunctionId, PlanId};
use edgesync_core::route_pattern::RoutePattern;
use edgesync_core::selector::Selector;
use edgesync_core::{Config, ErrorKind, Quotas};
use edgesync_fuzz::Plane;
use edgesync_wire as w;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

thread_local! {
    static PLANE: RefCell<Option<Plane>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let [kind, json @ ..] = data else {
        return;
    };
    PLANE.with(|plane| {
        let mut plane = plane.borrow_mut();
        let p = plane.get_or_insert_with(|| Plane::new(Config::default()));
        if request(*kind, json, p) && p.wrote() {
            *plane = None;
        }
    });
});

/// Decodes and validates one body; `true` when the call may have stored something.
fn request(kind: u8, json: &[u8], p: &Plane) -> bool {
    let e = &p.edgesync;
    match kind % 21 {
        0 => {
            let Some(r) = decode::<w::FunctionMetadata>(json, true) else {
                return false;
            };
            let spec = spec_from_wire(r);
            let checked = spec
                .validate()
                .and_then(|()| Quotas::default().check(&spec));
            let registered = p.block_on(e.register_function(spec));
            assert_eq!(checked.is_ok(), registered.is_ok(), "{registered:?}");
            verdict(registered)
        }
        1 => {
            let Some(r) = decode::<w::CreateDeploymentRequest>(json, false) else {
                return false;
            };
            let Ok(selector) = Selector::parse(&r.selector) else {
                return false;
            };
            let function_id = if r.function_id.is_nil() {
                p.function
            } else {
                FunctionId::from_uuid(r.function_id)
            };
            let new = NewDeployment {
                name: r.name,
                function_id,
                version: r.version,
                selector,
                pop: r.pop,
                priority: r.priority,
                allow_breaking: r.allow_breaking,
                strategy: strategy_from_wire(r.strategy),
            };
            // The dry run: every check of a deployment, nothing stored.
            verdict(p.block_on(e.preview_new_deployment(new)));
            false
        }
        2 => {
            let Some(r) = decode::<w::RouteRequest>(json, true) else {
                return false;
            };
            if let Ok(pattern) = RoutePattern::parse(r.host.as_deref(), &r.path, &r.methods) {
                let stored = RoutePattern::parse(pattern.host(), pattern.path(), pattern.methods());
                assert_eq!(stored.as_ref(), Ok(&pattern));
            }
            false
        }
        3 => {
            let Some(r) = decode::<w::CreateMigrationRequest>(json, true) else {
                return false;
            };
            let new = m::NewSchemaMigration {
                version: r.version,
                name: r.name,
                up_sql: r.up_sql,
                down_sql: r.down_sql,
            };
            if new.validate().is_ok() {
                assert_eq!(new.checksum().len(), 64);
            }
            false
        }
        4 => {
            let Some(r) = decode::<w::RegisterNodeRequest>(json, true) else {
                return false;
            };
            let registration = m::NodeRegistration {
                name: r.name,
                pop: r.pop,
                region: r.region,
                labels: r.labels,
                agent_version: r.agent_version,
                capabilities: r.capabilities,
                memory_budget_bytes: r.memory_budget_bytes,
            };
            if registration.validate().is_err() {
                return false;
            }
            verdict(p.block_on(e.register_node(registration)));
            true
        }
        5 => {
            let Some(r) = decode::<w::UpdateNodeRequest>(json, true) else {
                return false;
            };
            let _ = m::NodeUpdate {
                labels: r.labels,
                lifecycle: r.lifecycle.map(|l| match l {
                    w::NodeLifecycle::Active => m::NodeLifecycle::Active,
                    w::NodeLifecycle::Draining => m::NodeLifecycle::Draining,
                    w::NodeLifecycle::Decommissioned => m::NodeLifecycle::Decommissioned,
                }),
            }
            .validate();
            false
        }
        6 => {
            let Some(r) = decode::<w::ReportedState>(json, false) else {
                return false;
            };
            verdict(e.heartbeat(p.node, reported_from_wire(r)));
            false
        }
        7 => {
            let Some(r) = decode::<w::SyncAckRequest>(json, false) else {
                return false;
            };
            let ack = Ack {
                plan_id: PlanId::from_uuid(r.plan_id),
                results: r
                    .results
                    .into_iter()
                    .map(|r| m::ActionResult {
                        action_id: r.action_id,
                        succeeded: r.status == w::ActionStatus::Succeeded,
                        error_code: r.error_code,
                        error: r.error,
                    })
                    .collect(),
                state: r.state.map(reported_from_wire),
            };
            verdict(p.block_on(e.ack_plan(p.node, ack)));
            false
        }
        8 => {
            let Some(r) = decode::<w::QueueCommandRequest>(json, true) else {
                return false;
            };
            let new = NewCommand {
                kind: r.kind,
                payload: r.payload,
                timeout: Duration::from_secs(r.timeout_s),
                idempotency_key: r.idempotency_key,
            };
            verdict(p.block_on(e.queue_command(p.node, new)))
        }
        9 => {
            let Some(r) = decode::<w::CommandResultRequest>(json, true) else {
                return false;
            };
            let result = CommandResult {
                succeeded: r.status == w::CommandOutcome::Succeeded,
                output: r.output,
            };
            verdict(p.block_on(e.report_command_result(p.node, CommandId::ordered(), result)));
            false
        }
        10 => {
            let Some(r) = decode::<w::CreateApiKeyRequest>(json, true) else {
                return false;
            };
            let new = NewApiKey {
                name: r.name,
                scopes: r
                    .scopes
                    .into_iter()
                    .map(|s| match s {
                        w::ScopeName::Admin => m::Scope::Admin,
                        w::ScopeName::Deploy => m::Scope::Deploy,
                        w::ScopeName::Read => m::Scope::Read,
                        w::ScopeName::NodesRegister => m::Scope::NodesRegister,
                    })
                    .collect(),
                expires_at: r.expires_at.map(Into::into),
                require_signature: r.require_signature,
            };
            verdict(p.block_on(e.create_api_key(new)))
        }
        11 => {
            let Some(r) = decode::<w::RotateApiKeyRequest>(json, true) else {
                return false;
            };
            let grace = r
                .grace_s
                .map_or(Duration::from_secs(86_400), Duration::from_secs);
            let rotated = p.block_on(e.rotate_api_key(m::ApiKeyId::random(), grace));
            assert!(rotated.is_err());
            if grace > MAX_ROTATION_GRACE {
                assert_eq!(
                    rotated.err().map(|e| e.kind()),
                    Some(ErrorKind::InvalidInput)
                );
            }
            false
        }
        12 => {
            let Some(r) = decode::<w::RefreshTokenRequest>(json, true) else {
                return false;
            };
            let refreshed = p.block_on(e.refresh_node_token_with_secret(p.node, &r.refresh_token));
            assert_eq!(refreshed.is_ok(), r.refresh_token == p.refresh_secret);
            false
        }
        13 => {
            let Some(r) = decode::<w::RollbackRequest>(json, true) else {
                return false;
            };
            // No live deployment: always refused, nothing stored.
            let rolled = p.block_on(e.rollback_function(p.function, r.to_version, "fuzz"));
            assert!(rolled.is_err());
            verdict(rolled);
            false
        }
        14 => {
            let Some(r) = decode::<w::TelemetryBatch>(json, false) else {
                return false;
            };
            let samples = r
                .points
                .into_iter()
                .map(|s| Sample {
                    metric: s.metric,
                    value: s.value,
                    labels: s.labels,
                    ts: s.ts.into(),
                })
                .collect();
            let events = r
                .events
                .into_iter()
                .map(|e| Event {
                    kind: e.kind,
                    level: e.level,
                    message: e.message,
                    labels: e.labels,
                    ts: e.ts.into(),
                })
                .collect();
            verdict(p.block_on(e.ingest_telemetry(p.node, samples, events)))
        }
        // The core types that are decoded from JSON as they are.
        15 => {
            if let Some(spec) = decode::<m::FunctionSpec>(json, true) {
                let _ = spec.validate();
            }
            false
        }
        16 => {
            if let Some(r) = decode::<m::NodeRegistration>(json, true) {
                let _ = r.validate();
            }
            false
        }
        17 => {
            if let Some(r) = decode::<m::ReportedState>(json, false) {
                let _ = r.validate();
            }
            false
        }
        18 => {
            if let Some(r) = decode::<m::NewSchemaMigration>(json, true) {
                let _ = r.validate();
            }
            false
        }
        19 => {
            if let Some(s) = decode::<m::Strategy>(json, false) {
                let _ = s.validate();
            }
            false
        }
        _ => {
            if let Some(s) = decode::<Selector>(json, true) {
                assert_eq!(Selector::parse(&s.to_string()).as_ref(), Ok(&s));
            }
            false
        }
    }
}

/// Decodes `json`; what decodes must encode and decode again (equal, when `exact`).
fn decode<T>(json: &[u8], exact: bool) -> Option<T>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let value: T = serde_json::from_slice(json).ok()?;
    let encoded = serde_json::to_vec(&value).unwrap_or_else(|e| panic!("encode {value:?}: {e}"));
    let again: T = serde_json::from_slice(&encoded).unwrap_or_else(|e| {
        panic!(
            "{value:?} encodes to {} which does not decode: {e}",
            String::from_utf8_lossy(&encoded)
        )
    });
    if exact {
        assert_eq!(again, value, "decode ∘ encode changed the value");
    }
    Some(value)
}

/// A facade answer: errors must be the client's (bad input, not found, conflict …), never
/// `internal`. `true` when it succeeded (so may have stored something).
fn verdict<T: std::fmt::Debug>(result: edgesync_core::Result<T>) -> bool {
    match result {
        Ok(_) => true,
        Err(e) => {
            assert_ne!(e.kind(), ErrorKind::Internal, "internal error: {e:?}");
            false
        }
    }
}

fn spec_from_wire(meta: w::FunctionMetadata) -> m::FunctionSpec {
    m::FunctionSpec {
        name: meta.name,
        entrypoint: meta.entrypoint,
        memory_pages: meta.memory_pages,
        max_execution_ms: meta.max_execution_ms,
        max_concurrency: meta.max_concurrency,
        description: meta.description,
    }
}

fn strategy_from_wire(s: w::RolloutStrategy) -> m::Strategy {
    m::Strategy {
        kind: match s.kind {
            w::StrategyKind::All => m::StrategyKind::All,
            w::StrategyKind::Batches => m::StrategyKind::Batches,
            w::StrategyKind::Canary => m::StrategyKind::Canary,
        },
        batch_size: s.batch_size,
        batch_percent: s.batch_percent,
        order_by: s.order_by,
        max_failure_ratio: s.max_failure_ratio,
        min_executed: s.min_executed,
        batch_timeout_s: s.batch_timeout_s,
        bake_s: s.bake_s,
        max_per_minute: s.max_per_minute,
        auto_rollback: s.auto_rollback,
        max_retries: s.max_retries,
    }
}

fn reported_from_wire(r: w::ReportedState) -> m::ReportedState {
    m::ReportedState {
        functions: r
            .functions
            .into_iter()
            .map(|f| m::RunningFunction {
                function_id: FunctionId::from_uuid(f.function_id),
                version: f.version,
            })
            .collect(),
        schema_version: r.schema_version,
        routes_revision: r.routes_revision,
        sync_revision: r.sync_revision,
        resources: m::ResourceUsage {
            cpu_percent: r.resources.cpu_percent,
            memory_bytes: r.resources.memory_bytes,
            disk_bytes: r.resources.disk_bytes,
        },
    }
}
