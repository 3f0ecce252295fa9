//! Forms (queue a command, deploy) and confirmations of destructive actions.

use edgesync_client::wire::{CreateDeploymentRequest, DeploymentStatus, VersionStatus};
use uuid::Uuid;

use super::poll::send;
use super::{error, info};
use crate::action::{Effect, Request};
use crate::app::{App, Confirm, Field, FieldValue, Form, FormKind, Mode};
use crate::format::short_id;

pub(super) fn text(label: &'static str, value: impl Into<String>, hint: &'static str) -> Field {
    Field {
        label,
        value: FieldValue::Text(value.into()),
        hint,
    }
}

pub(super) fn open_command_form(app: &mut App) {
    let Some(node) = app.selected_node() else {
        error(app, "no node selected");
        return;
    };
    app.mode = Mode::Form(Form {
        kind: FormKind::Command {
            node: node.id,
            node_name: node.name.clone(),
        },
        fields: vec![
            text(
                "kind",
                "health_probe",
                "health_probe, restart_function, flush_cache, …",
            ),
            text("payload", "{}", "JSON arguments"),
        ],
        focus: 0,
        error: None,
    });
}

pub(super) fn open_deploy_form(app: &mut App) {
    let Some(function) = app.selected_function() else {
        error(app, "no function selected");
        return;
    };
    let latest_ready = app
        .function_detail()
        .and_then(|f| {
            f.versions
                .iter()
                .filter(|v| v.status == VersionStatus::Ready)
                .map(|v| v.version)
                .max()
        })
        .unwrap_or(function.latest_version);
    app.mode = Mode::Form(Form {
        kind: FormKind::Deploy {
            function: function.id,
            function_name: function.name.clone(),
        },
        fields: vec![
            text("version", latest_ready.to_string(), "a ready version"),
            text("selector", "", "label selector; empty: every node"),
            Field {
                label: "strategy",
                value: FieldValue::Choice {
                    options: vec!["all", "batches", "canary"],
                    index: 0,
                },
                hint: "← → to change",
            },
            text("batch size", "1", "nodes per batch (canary: its size)"),
            Field {
                label: "auto rollback",
                value: FieldValue::Toggle(false),
                hint: "on a breach, nodes go back",
            },
            Field {
                label: "allow breaking",
                value: FieldValue::Toggle(false),
                hint: "deploy despite breaking changes",
            },
        ],
        focus: 0,
        error: None,
    });
}

pub(super) fn edit_field(app: &mut App, edit: impl FnOnce(&mut FieldValue)) {
    if let Mode::Form(form) = &mut app.mode
        && let Some(field) = form.fields.get_mut(form.focus)
    {
        edit(&mut field.value);
        form.error = None;
    }
}

pub(super) fn focus_field(app: &mut App, delta: isize) {
    if let Mode::Form(form) = &mut app.mode {
        let n = form.fields.len().max(1) as isize;
        form.focus = (form.focus as isize + delta).rem_euclid(n) as usize;
    }
}

pub(super) fn submit_form(app: &mut App, out: &mut Vec<Effect>) {
    let Mode::Form(form) = &mut app.mode else {
        return;
    };
    let built = match &form.kind {
        FormKind::Command { node, node_name } => command_request(form, *node).map(|r| {
            (
                r,
                format!("queueing {} on {node_name} …", form.value("kind")),
            )
        }),
        FormKind::Deploy {
            function,
            function_name,
        } => deploy_request(form, *function).map(|r| (r, format!("deploying {function_name} …"))),
    };
    match built {
        Ok((request, message)) => {
            app.mode = Mode::Normal;
            info(app, message);
            send(app, request, out);
        }
        Err(e) => form.error = Some(e),
    }
}

pub(super) fn command_request(form: &Form, node: Uuid) -> Result<Request, String> {
    let kind = form.value("kind").trim().to_owned();
    if kind.is_empty() {
        return Err("kind is required".into());
    }
    let payload = form.value("payload");
    let payload = if payload.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_str(&payload).map_err(|e| format!("payload is not JSON: {e}"))?
    };
    Ok(Request::QueueCommand {
        node,
        kind,
        payload,
    })
}

pub(super) fn deploy_request(form: &Form, function: Uuid) -> Result<Request, String> {
    let version: u32 = form
        .value("version")
        .trim()
        .parse()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or("version must be a number ≥ 1")?;
    let kind = form.value("strategy");
    let mut strategy = serde_json::json!({
        "kind": kind,
        "auto_rollback": form.value("auto rollback") == "yes",
    });
    if kind != "all" {
        let size: u32 = form
            .value("batch size")
            .trim()
            .parse()
            .ok()
            .filter(|v| *v >= 1)
            .ok_or("batch size must be a number ≥ 1")?;
        strategy["batch_size"] = size.into();
    }
    // From JSON, so that fields the server adds later keep their defaults.
    let request: CreateDeploymentRequest = serde_json::from_value(serde_json::json!({
        "function_id": function,
        "version": version,
        "selector": form.value("selector").trim(),
        "allow_breaking": form.value("allow breaking") == "yes",
        "strategy": strategy,
    }))
    .map_err(|e| e.to_string())?;
    Ok(Request::Deploy(Box::new(request)))
}

pub(super) fn ask_rollback(app: &mut App) {
    let Some(function) = app.selected_function() else {
        error(app, "no function selected");
        return;
    };
    app.mode = Mode::Confirm(Confirm {
        title: "Roll back function".into(),
        message: format!(
            "Roll back {}? Every live deployment of it goes back to the previous ready version.",
            function.name
        ),
        request: Request::Rollback {
            function: function.id,
        },
    });
}

#[derive(Clone, Copy)]
pub(super) enum DeploymentChange {
    Pause,
    Resume,
    Abort,
}

pub(super) fn ask_deployment(app: &mut App, change: DeploymentChange) {
    let Some(d) = app.selected_deployment() else {
        error(app, "no deployment selected");
        return;
    };
    let label = crate::format::deployment_label(d);
    let function = app
        .function_name(d.function_id)
        .map_or_else(|| short_id(d.function_id), str::to_owned);
    let what = format!("{function}@v{}", d.version);
    let status = crate::format::deployment_status(d.status);
    let (allowed, title, message, request) = match change {
        DeploymentChange::Pause => (
            d.status == DeploymentStatus::InProgress,
            "Pause rollout",
            format!(
                "Pause deployment {label} ({what})? Released nodes keep it; no further batch is released until you resume."
            ),
            Request::Pause(d.id),
        ),
        DeploymentChange::Resume => (
            matches!(
                d.status,
                DeploymentStatus::Paused | DeploymentStatus::Halted
            ),
            "Resume rollout",
            format!(
                "Resume deployment {label} ({what})? The next batch is released once the current one is healthy."
            ),
            Request::Resume(d.id),
        ),
        DeploymentChange::Abort => (
            !matches!(
                d.status,
                DeploymentStatus::Aborted | DeploymentStatus::RolledBack
            ),
            "Abort deployment",
            format!(
                "Abort deployment {label} ({what})? Nodes drop it unless another deployment keeps the function. This cannot be undone."
            ),
            Request::Abort(d.id),
        ),
    };
    if !allowed {
        let verb = match change {
            DeploymentChange::Pause => "paused (only a rollout in progress can be)",
            DeploymentChange::Resume => "resumed (only a paused or halted rollout can be)",
            DeploymentChange::Abort => "aborted (it has already stopped)",
        };
        error(
            app,
            format!("deployment {label} is {status}: it cannot be {verb}"),
        );
        return;
    }
    app.mode = Mode::Confirm(Confirm {
        title: title.into(),
        message,
        request,
    });
}
