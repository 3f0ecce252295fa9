//! The console's whole state. Views draw from a `&App`; only
//! [`update`](crate::update::update) changes it.

use std::time::Duration;

use edgesync_client::wire::{
    ApiKeyInfo, CommandList, DeploymentInfo, DeploymentSummary, FunctionInfo, FunctionSummary,
    MigrationInfo, NodeInfo, RouteInfo, SyncHistory, SyncStats, TelemetrySeries,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::action::{ApiError, Request};

/// The views, in tab order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum View {
    /// The fleet's nodes.
    Nodes,
    /// Functions and their versions.
    Functions,
    /// Deployments and their rollouts.
    Deployments,
    /// Sync statistics and a node's sync history.
    Sync,
    /// A node's telemetry.
    Telemetry,
    /// The route table.
    Routes,
    /// Schema migrations.
    Schemas,
    /// Operator API keys.
    ApiKeys,
}

impl View {
    /// Every view, in tab order (`1`…`8`).
    pub const ALL: [View; 8] = [
        View::Nodes,
        View::Functions,
        View::Deployments,
        View::Sync,
        View::Telemetry,
        View::Routes,
        View::Schemas,
        View::ApiKeys,
    ];

    /// The tab title.
    pub fn title(self) -> &'static str {
        match self {
            View::Nodes => "Nodes",
            View::Functions => "Functions",
            View::Deployments => "Deployments",
            View::Sync => "Sync",
            View::Telemetry => "Telemetry",
            View::Routes => "Routes",
            View::Schemas => "Schemas",
            View::ApiKeys => "Keys",
        }
    }

    /// Position in [`View::ALL`].
    pub fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

/// Data that arrives over the network: what we have, whether a request is out, what failed.
#[derive(Clone, Debug, PartialEq)]
pub struct Loadable<T> {
    /// The last good answer.
    pub data: Option<T>,
    /// A request is in flight.
    pub loading: bool,
    /// The last request failed (the data, if any, is older).
    pub error: Option<ApiError>,
}

impl<T> Default for Loadable<T> {
    fn default() -> Self {
        Self {
            data: None,
            loading: false,
            error: None,
        }
    }
}

impl<T> Loadable<T> {
    /// Loaded with `data`.
    pub fn ready(data: T) -> Self {
        Self {
            data: Some(data),
            loading: false,
            error: None,
        }
    }

    /// Records an answer.
    pub fn set(&mut self, result: Result<T, ApiError>) {
        self.loading = false;
        match result {
            Ok(data) => {
                self.data = Some(data);
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Forgets everything (the subject changed).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// The header's fleet summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FleetSummary {
    /// Every node.
    pub nodes: u64,
    /// Online.
    pub online: u64,
    /// Offline.
    pub offline: u64,
    /// Draining.
    pub draining: u64,
    /// Decommissioned.
    pub decommissioned: u64,
    /// Deployments rolling out (in progress).
    pub rolling_out: u64,
    /// Deployments paused or halted.
    pub stopped: u64,
}

/// The nodes view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodesState {
    /// Nodes matching the selector, by name.
    pub list: Loadable<Vec<NodeInfo>>,
    /// Selected row.
    pub selected: usize,
    /// The label selector applied server-side.
    pub selector: Option<String>,
    /// The detail pane is open.
    pub detail_open: bool,
    /// The detail pane's node's recent syncs.
    pub history: Loadable<SyncHistory>,
    /// The detail pane's node's recent commands.
    pub commands: Loadable<CommandList>,
    /// The node `history` and `commands` are about.
    pub detail_node: Option<Uuid>,
}

/// The functions view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FunctionsState {
    /// Every function.
    pub list: Loadable<Vec<FunctionSummary>>,
    /// Selected row.
    pub selected: usize,
    /// The selected function with its versions.
    pub detail: Loadable<FunctionInfo>,
}

/// The deployments view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeploymentsState {
    /// Every deployment, newest first.
    pub list: Loadable<Vec<DeploymentSummary>>,
    /// Selected row.
    pub selected: usize,
    /// The selected deployment with its nodes.
    pub detail: Loadable<DeploymentInfo>,
    /// The per-node states are shown (Enter).
    pub nodes_open: bool,
    /// Selected row of the per-node table.
    pub node_selected: usize,
}

/// The sync view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncState {
    /// Fleet-wide statistics.
    pub stats: Loadable<SyncStats>,
    /// The context node's history.
    pub history: Loadable<SyncHistory>,
    /// The node `history` is about.
    pub node: Option<Uuid>,
}

/// Time windows of the telemetry view, in seconds.
pub const TELEMETRY_WINDOWS: [u64; 4] = [15 * 60, 60 * 60, 6 * 3600, 24 * 3600];

/// The telemetry view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TelemetryState {
    /// The context node's series.
    pub series: Loadable<TelemetrySeries>,
    /// The node `series` is about.
    pub node: Option<Uuid>,
    /// Index into [`TELEMETRY_WINDOWS`].
    pub window: usize,
}

impl TelemetryState {
    /// The window in seconds.
    pub fn window_s(&self) -> u64 {
        TELEMETRY_WINDOWS[self.window.min(TELEMETRY_WINDOWS.len() - 1)]
    }

    /// The bucket width: 60 buckets per window.
    pub fn step_s(&self) -> u64 {
        (self.window_s() / 60).max(1)
    }
}

/// A list with a selection (routes, schemas, keys).
#[derive(Clone, Debug, PartialEq)]
pub struct ListState<T> {
    /// The items.
    pub list: Loadable<Vec<T>>,
    /// Selected row.
    pub selected: usize,
}

impl<T> Default for ListState<T> {
    fn default() -> Self {
        Self {
            list: Loadable::default(),
            selected: 0,
        }
    }
}

/// One field of a form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Its label.
    pub label: &'static str,
    /// Its value.
    pub value: FieldValue,
    /// A hint shown beside it.
    pub hint: &'static str,
}

/// A form field's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldValue {
    /// Free text.
    Text(String),
    /// On or off (Space).
    Toggle(bool),
    /// One of a few options (Space, ←/→).
    Choice {
        /// The options.
        options: Vec<&'static str>,
        /// The chosen one.
        index: usize,
    },
}

impl FieldValue {
    /// The value as text.
    pub fn text(&self) -> String {
        match self {
            FieldValue::Text(s) => s.clone(),
            FieldValue::Toggle(b) => if *b { "yes" } else { "no" }.to_owned(),
            FieldValue::Choice { options, index } => {
                options.get(*index).copied().unwrap_or_default().to_owned()
            }
        }
    }

    /// Whether the field is typed into (rather than toggled).
    pub fn is_text(&self) -> bool {
        matches!(self, FieldValue::Text(_))
    }
}

/// What a form does when sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormKind {
    /// Queue a command on a node.
    Command {
        /// The node.
        node: Uuid,
        /// Its name.
        node_name: String,
    },
    /// Deploy a function.
    Deploy {
        /// The function.
        function: Uuid,
        /// Its name.
        function_name: String,
    },
}

/// A modal form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    /// What it does.
    pub kind: FormKind,
    /// The fields.
    pub fields: Vec<Field>,
    /// The focused field.
    pub focus: usize,
    /// Why the last submit was refused.
    pub error: Option<String>,
}

impl Form {
    /// The title of its dialog.
    pub fn title(&self) -> String {
        match &self.kind {
            FormKind::Command { node_name, .. } => format!("Queue a command on {node_name}"),
            FormKind::Deploy { function_name, .. } => format!("Deploy {function_name}"),
        }
    }

    /// The text of the field labelled `label`.
    pub fn value(&self, label: &str) -> String {
        self.fields
            .iter()
            .find(|f| f.label == label)
            .map(|f| f.value.text())
            .unwrap_or_default()
    }
}

/// A destructive action waiting for `y`.
#[derive(Clone, Debug, PartialEq)]
pub struct Confirm {
    /// The dialog's title.
    pub title: String,
    /// What will happen.
    pub message: String,
    /// Sent on `y`.
    pub request: Request,
}

/// What keys go to.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Mode {
    /// The views.
    #[default]
    Normal,
    /// The label-selector prompt; holds what was typed.
    Filter(String),
    /// A form.
    Form(Form),
    /// A confirmation dialog.
    Confirm(Confirm),
    /// The help overlay.
    Help,
}

/// How a status message looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusKind {
    /// Something worked.
    Info,
    /// Something failed.
    Error,
}

/// The status line's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// Info or error.
    pub kind: StatusKind,
    /// The text.
    pub text: String,
    /// When it was set (it fades after a while).
    pub at: OffsetDateTime,
}

/// Settings that do not change while the console runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// What the header says about the server (`http://…` or `embedded: DIR`).
    pub server_label: String,
    /// The server's offline timeout (staleness colours).
    pub offline_timeout: Duration,
    /// How often the current view refreshes.
    pub refresh_every: Duration,
    /// How often the header's fleet summary refreshes.
    pub fleet_every: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server_label: "http://127.0.0.1:8080".into(),
            offline_timeout: Duration::from_secs(30),
            refresh_every: Duration::from_secs(2),
            fleet_every: Duration::from_secs(10),
        }
    }
}

/// The console's state.
#[derive(Clone, Debug, PartialEq)]
pub struct App {
    /// Fixed settings.
    pub settings: Settings,
    /// The current time (from the last tick), so drawing is a pure function of the state.
    pub now: OffsetDateTime,
    /// The view shown.
    pub view: View,
    /// Where keys go.
    pub mode: Mode,
    /// The header's summary.
    pub fleet: Loadable<FleetSummary>,
    /// Nodes.
    pub nodes: NodesState,
    /// Functions.
    pub functions: FunctionsState,
    /// Deployments.
    pub deployments: DeploymentsState,
    /// Sync.
    pub sync: SyncState,
    /// Telemetry.
    pub telemetry: TelemetryState,
    /// Routes.
    pub routes: ListState<RouteInfo>,
    /// Schemas.
    pub schemas: ListState<MigrationInfo>,
    /// API keys.
    pub api_keys: ListState<ApiKeyInfo>,
    /// The status line's message.
    pub status: Option<Status>,
    /// Requests sent and not answered yet.
    pub in_flight: Vec<Request>,
    /// When the current view was last refreshed.
    pub last_refresh: Option<OffsetDateTime>,
    /// When the fleet summary was last requested.
    pub last_fleet: Option<OffsetDateTime>,
    /// When the last answer arrived.
    pub last_answer: Option<OffsetDateTime>,
}

impl App {
    /// A fresh console.
    pub fn new(settings: Settings, now: OffsetDateTime) -> Self {
        Self {
            settings,
            now,
            view: View::Nodes,
            mode: Mode::Normal,
            fleet: Loadable::default(),
            nodes: NodesState::default(),
            functions: FunctionsState::default(),
            deployments: DeploymentsState::default(),
            sync: SyncState::default(),
            telemetry: TelemetryState::default(),
            routes: ListState::default(),
            schemas: ListState::default(),
            api_keys: ListState::default(),
            status: None,
            in_flight: Vec::new(),
            last_refresh: None,
            last_fleet: None,
            last_answer: None,
        }
    }

    /// The node selected in the nodes table (also the context of sync and telemetry).
    pub fn selected_node(&self) -> Option<&NodeInfo> {
        self.nodes.list.data.as_ref()?.get(self.nodes.selected)
    }

    /// The function selected in the functions table.
    pub fn selected_function(&self) -> Option<&FunctionSummary> {
        self.functions
            .list
            .data
            .as_ref()?
            .get(self.functions.selected)
    }

    /// The deployment selected in the deployments table.
    pub fn selected_deployment(&self) -> Option<&DeploymentSummary> {
        self.deployments
            .list
            .data
            .as_ref()?
            .get(self.deployments.selected)
    }

    /// The selected deployment's detail, when it has arrived.
    pub fn deployment_detail(&self) -> Option<&DeploymentInfo> {
        let id = self.selected_deployment()?.id;
        self.deployments
            .detail
            .data
            .as_ref()
            .filter(|d| d.deployment.id == id)
    }

    /// The selected function's detail, when it has arrived.
    pub fn function_detail(&self) -> Option<&FunctionInfo> {
        let id = self.selected_function()?.id;
        self.functions.detail.data.as_ref().filter(|f| f.id == id)
    }

    /// A function's name, when the functions list has it.
    pub fn function_name(&self, id: Uuid) -> Option<&str> {
        self.functions
            .list
            .data
            .as_ref()?
            .iter()
            .find(|f| f.id == id)
            .map(|f| f.name.as_str())
    }

    /// Whether any request is in flight.
    pub fn busy(&self) -> bool {
        !self.in_flight.is_empty()
    }
}
