//! What flows through the console: events from outside (keys, ticks, HTTP answers), the
//! actions [`update`](crate::update::update) understands, and the effects it asks for.
//!
//! Components never call each other: a key becomes an [`Action`] (see [`crate::keys`]),
//! `update` changes the [`App`](crate::app::App) and returns [`Effect`]s, and the worker turns
//! [`Request`]s into [`Response`]s that come back as events.

use crossterm::event::KeyEvent;
use edgesync_client::ClientError;
use edgesync_client::wire::{
    ApiKeyInfo, CommandInfo, CommandList, CreateDeploymentRequest, DeploymentInfo,
    DeploymentSummary, FunctionInfo, FunctionSummary, MigrationInfo, NodeInfo, RollbackResponse,
    RouteInfo, SyncHistory, SyncStats, TelemetrySeries,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::{FleetSummary, View};

/// Something that happened outside `update`.
#[derive(Debug)]
pub enum Event {
    /// A key press.
    Key(KeyEvent),
    /// The terminal changed size (the next draw lays out from the new size).
    Resize,
    /// Time passed (once a second).
    Tick(OffsetDateTime),
    /// An HTTP request finished.
    Response(Box<Response>),
}

/// What `update` understands. Keys map to these in [`crate::keys`].
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Leave the console.
    Quit,
    /// Time passed: refresh what is due.
    Tick(OffsetDateTime),
    /// Refresh the current view now.
    Refresh,
    /// Next view (Tab).
    NextView,
    /// Previous view (Shift-Tab).
    PrevView,
    /// Jump to a view.
    Show(View),
    /// Selection up.
    Up,
    /// Selection down.
    Down,
    /// Selection up a page.
    PageUp,
    /// Selection down a page.
    PageDown,
    /// First row.
    Top,
    /// Last row.
    Bottom,
    /// Open the selected row's detail (or per-node states of a deployment).
    Open,
    /// Close a pane, clear the filter.
    Back,
    /// Show or hide the help overlay.
    ToggleHelp,
    /// The node context of the sync and telemetry views: previous node.
    PrevNode,
    /// The node context of the sync and telemetry views: next node.
    NextNode,
    /// Telemetry: the next time window.
    CycleWindow,
    /// Open the label-selector prompt (`/`).
    StartFilter,
    /// Type into the prompt.
    FilterInput(char),
    /// Delete the last character of the prompt.
    FilterBackspace,
    /// Apply the prompt's selector.
    FilterSubmit,
    /// Leave the prompt, keeping the previous selector.
    FilterCancel,
    /// Open the queue-a-command form for the selected node.
    OpenCommandForm,
    /// Open the deploy form for the selected function.
    OpenDeployForm,
    /// Ask to roll back the selected function.
    AskRollback,
    /// Ask to pause the selected deployment.
    AskPause,
    /// Ask to resume the selected deployment.
    AskResume,
    /// Ask to abort the selected deployment.
    AskAbort,
    /// Type into the focused form field.
    FormInput(char),
    /// Delete the last character of the focused field.
    FormBackspace,
    /// Focus the next field.
    FormNext,
    /// Focus the previous field.
    FormPrev,
    /// Toggle a switch or step a choice (Space, ←/→).
    FormCycle(i8),
    /// Send the form.
    FormSubmit,
    /// Close the form.
    FormCancel,
    /// Confirm the pending destructive action.
    ConfirmYes,
    /// Cancel the pending destructive action.
    ConfirmNo,
    /// A request finished.
    Response(Box<Response>),
}

/// What `update` asks the outside world to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Send a request (off the UI thread); its answer comes back as [`Event::Response`].
    Request(Request),
    /// Leave.
    Quit,
}

/// An HTTP call the worker makes through the typed client.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// Node counts by status and live deployments (the header).
    Fleet,
    /// Every node matching the selector.
    Nodes {
        /// The label selector (server-side).
        selector: Option<String>,
    },
    /// A node's recent syncs (node detail).
    NodeHistory(Uuid),
    /// A node's recent commands (node detail).
    NodeCommands(Uuid),
    /// Every function.
    Functions,
    /// A function with its versions.
    Function(Uuid),
    /// Every deployment.
    Deployments,
    /// A deployment with its nodes.
    Deployment(Uuid),
    /// Fleet-wide sync statistics.
    SyncStats,
    /// A node's sync history (sync view).
    SyncHistory(Uuid),
    /// A node's telemetry, downsampled.
    Telemetry {
        /// The node.
        node: Uuid,
        /// How far back, in seconds.
        window_s: u64,
        /// Bucket width, in seconds.
        step_s: u64,
    },
    /// Every route.
    Routes,
    /// Every schema migration.
    Schemas,
    /// Every API key.
    ApiKeys,
    /// Queue a command on a node.
    QueueCommand {
        /// The node.
        node: Uuid,
        /// The command kind.
        kind: String,
        /// Its arguments.
        payload: serde_json::Value,
    },
    /// Create a deployment.
    Deploy(Box<CreateDeploymentRequest>),
    /// Roll a function back to the previous ready version.
    Rollback {
        /// The function.
        function: Uuid,
    },
    /// Pause a rollout.
    Pause(Uuid),
    /// Resume a rollout.
    Resume(Uuid),
    /// Abort a deployment.
    Abort(Uuid),
}

impl Request {
    /// Whether the request only reads (reads are deduplicated and polled).
    pub fn is_read(&self) -> bool {
        !matches!(
            self,
            Request::QueueCommand { .. }
                | Request::Deploy(_)
                | Request::Rollback { .. }
                | Request::Pause(_)
                | Request::Resume(_)
                | Request::Abort(_)
        )
    }
}

/// A finished request.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// What was asked.
    pub request: Request,
    /// What came back.
    pub result: Result<Payload, ApiError>,
}

/// A successful answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// For [`Request::Fleet`].
    Fleet(FleetSummary),
    /// For [`Request::Nodes`].
    Nodes(Vec<NodeInfo>),
    /// For [`Request::NodeHistory`] and [`Request::SyncHistory`].
    History(SyncHistory),
    /// For [`Request::NodeCommands`].
    Commands(CommandList),
    /// For [`Request::Functions`].
    Functions(Vec<FunctionSummary>),
    /// For [`Request::Function`].
    Function(Box<FunctionInfo>),
    /// For [`Request::Deployments`].
    Deployments(Vec<DeploymentSummary>),
    /// For [`Request::Deployment`], [`Request::Deploy`], pause, resume and abort.
    Deployment(Box<DeploymentInfo>),
    /// For [`Request::SyncStats`].
    SyncStats(SyncStats),
    /// For [`Request::Telemetry`].
    Telemetry(TelemetrySeries),
    /// For [`Request::Routes`].
    Routes(Vec<RouteInfo>),
    /// For [`Request::Schemas`].
    Schemas(Vec<MigrationInfo>),
    /// For [`Request::ApiKeys`].
    ApiKeys(Vec<ApiKeyInfo>),
    /// For [`Request::QueueCommand`].
    CommandQueued(Box<CommandInfo>),
    /// For [`Request::Rollback`].
    RolledBack(Box<RollbackResponse>),
}

/// A failed request, as the status line shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
    /// The problem's `code` (`invalid_selector`, …), or `unreachable`, `unexpected_status`, ….
    pub code: String,
    /// What went wrong, for humans.
    pub detail: String,
}

impl ApiError {
    /// An error with a code and a detail.
    pub fn new(code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status: None,
            code: code.into(),
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        let status = e.status().map(|s| s.as_u16());
        if let Some(problem) = e.problem() {
            return Self {
                status,
                code: problem.code.clone(),
                detail: problem.detail.clone(),
            };
        }
        let code = match &e {
            ClientError::Transport(t) if t.is_timeout() => "timeout",
            ClientError::Transport(_) => "unreachable",
            ClientError::UnexpectedStatus { .. } => "unexpected_status",
            ClientError::Decode { .. } => "decode_error",
            ClientError::Io(_) if e.is_timeout() => "timeout",
            _ => "client_error",
        };
        Self {
            status,
            code: code.to_owned(),
            detail: error_chain(&e),
        }
    }
}

/// The error and its sources, `: `-joined (reqwest hides the useful part in the sources).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let message = s.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = s.source();
    }
    text
}
