//! The worker and the embedded mode against a real control plane served in-process (sled
//! store and file artifacts in a temp dir, real HTTP on a loopback port).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use edgesync_client::Client;
use edgesync_client::wire::{
    CreateDeploymentRequest, DeploymentStatus, FunctionMetadata, RegisterNodeRequest,
};
use edgesync_server::config::ServeArgs;
use edgesync_server::{HttpLimits, app, wiring};
use edgesync_tui::action::{Effect, Event, Payload, Request};
use edgesync_tui::app::{App, Settings, View};
use edgesync_tui::embedded::{Embedded, IN_USE};
use edgesync_tui::update::update;
use edgesync_tui::worker::{Worker, execute};
use poem::listener::{Acceptor, Listener, TcpListener};
use time::OffsetDateTime;
use uuid::Uuid;

struct Server {
    _dir: tempfile::TempDir,
    client: Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start() -> Server {
    edgesync_server::tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
    let args = ServeArgs::defaults_for(dir.path().join("data"), addr);
    let edgesync = wiring::build(&args).await.unwrap();
    let admin = edgesync
        .bootstrap_admin_key()
        .await
        .unwrap()
        .unwrap()
        .secret;
    let endpoint = app(&edgesync, HttpLimits::default());
    let task = tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(acceptor)
            .run(endpoint)
            .await;
    });
    let client = Client::builder(format!("http://{addr}"))
        .api_key(admin)
        .build()
        .unwrap();
    Server {
        _dir: dir,
        client,
        task,
    }
}

/// Three nodes (two `tier=edge`), a function and a batched deployment over every node.
async fn seed(client: &Client) -> (Vec<Uuid>, Uuid, Uuid) {
    let mut nodes = Vec::new();
    for (name, tier) in [("core-1", "core"), ("edge-1", "edge"), ("edge-2", "edge")] {
        let request = RegisterNodeRequest {
            name: name.into(),
            pop: "fra".into(),
            region: String::new(),
            labels: BTreeMap::from([("tier".to_owned(), tier.to_owned())]),
            agent_version: String::new(),
            capabilities: Vec::new(),
            memory_budget_bytes: None,
        };
        nodes.push(client.register_node(&request).await.unwrap().node_id);
    }
    let wasm = wat::parse_str(r#"(module (func (export "_start")))"#).unwrap();
    let meta: FunctionMetadata =
        serde_json::from_value(serde_json::json!({"name": "hello"})).unwrap();
    let function = client.upload_function(&meta, wasm).await.unwrap().id;
    let request: CreateDeploymentRequest = serde_json::from_value(serde_json::json!({
        "function_id": function, "version": 1, "name": "hello-rollout",
        "strategy": {"kind": "batches", "batch_size": 1},
    }))
    .unwrap();
    let deployment = client
        .create_deployment(&request)
        .await
        .unwrap()
        .deployment
        .id;
    (nodes, function, deployment)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_goes_through_the_typed_client() {
    let server = start().await;
    let c = &server.client;
    let (nodes, function, deployment) = seed(c).await;

    let Payload::Fleet(fleet) = execute(c, &Request::Fleet).await.unwrap() else {
        panic!()
    };
    assert_eq!((fleet.nodes, fleet.rolling_out), (3, 1));
    let edge = Request::Nodes {
        selector: Some("tier=edge".into()),
    };
    let Payload::Nodes(list) = execute(c, &edge).await.unwrap() else {
        panic!()
    };
    let names: Vec<_> = list.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["edge-1", "edge-2"]);

    // A bad selector is a problem with its code, not a crash.
    let bad = Request::Nodes {
        selector: Some("tier in (".into()),
    };
    let e = execute(c, &bad).await.unwrap_err();
    assert_eq!(e.status, Some(400));
    assert_eq!(e.code, "invalid_selector");
    assert!(!e.detail.is_empty());

    for request in [
        Request::NodeHistory(nodes[0]),
        Request::NodeCommands(nodes[0]),
        Request::Functions,
        Request::Function(function),
        Request::Deployments,
        Request::Deployment(deployment),
        Request::SyncStats,
        Request::SyncHistory(nodes[0]),
        Request::Telemetry {
            node: nodes[0],
            window_s: 900,
            step_s: 15,
        },
        Request::Routes,
        Request::Schemas,
        Request::ApiKeys,
    ] {
        execute(c, &request)
            .await
            .unwrap_or_else(|e| panic!("{request:?}: {e}"));
    }

    let queued = execute(
        c,
        &Request::QueueCommand {
            node: nodes[1],
            kind: "health_probe".into(),
            payload: serde_json::json!({"deep": true}),
        },
    )
    .await
    .unwrap();
    assert!(matches!(queued, Payload::CommandQueued(cmd) if cmd.kind == "health_probe"));

    // Pause, resume, abort: the client methods added for the console.
    let status = |p: Payload| match p {
        Payload::Deployment(d) => d.deployment.status,
        other => panic!("{other:?}"),
    };
    let paused = execute(c, &Request::Pause(deployment)).await.unwrap();
    assert_eq!(status(paused), DeploymentStatus::Paused);
    let resumed = execute(c, &Request::Resume(deployment)).await.unwrap();
    assert_eq!(status(resumed), DeploymentStatus::InProgress);
    let aborted = execute(c, &Request::Abort(deployment)).await.unwrap();
    assert_eq!(status(aborted), DeploymentStatus::Aborted);

    // Only one version: nothing to roll back to, which the server explains.
    let e = execute(c, &Request::Rollback { function })
        .await
        .unwrap_err();
    assert!(!e.code.is_empty(), "{e:?}");
}

/// The whole loop without a terminal: ticks and keys become requests, the worker answers on
/// the channel, answers land in the state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_fills_the_state_and_pauses_a_rollout() {
    let server = start().await;
    let (_, _, deployment) = seed(&server.client).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let worker = Worker::new(server.client.clone(), tx);
    let mut app = App::new(Settings::default(), OffsetDateTime::now_utc());

    let mut run = |app: &mut App, action| {
        for effect in update(app, action) {
            if let Effect::Request(r) = effect {
                worker.submit(r);
            }
        }
    };
    async fn settle(
        app: &mut App,
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
        run: &mut impl FnMut(&mut App, edgesync_tui::action::Action),
    ) {
        while !app.in_flight.is_empty() {
            let event = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("an answer within 10 s")
                .unwrap();
            if let Event::Response(r) = event {
                run(app, edgesync_tui::action::Action::Response(r));
            }
        }
    }

    run(
        &mut app,
        edgesync_tui::action::Action::Tick(OffsetDateTime::now_utc()),
    );
    settle(&mut app, &mut rx, &mut run).await;
    assert_eq!(app.nodes.list.data.as_ref().unwrap().len(), 3);
    assert_eq!(app.fleet.data.as_ref().unwrap().nodes, 3);

    run(
        &mut app,
        edgesync_tui::action::Action::Show(View::Deployments),
    );
    settle(&mut app, &mut rx, &mut run).await;
    assert_eq!(app.selected_deployment().unwrap().id, deployment);
    assert!(app.deployment_detail().is_some());

    run(&mut app, edgesync_tui::action::Action::AskPause);
    run(&mut app, edgesync_tui::action::Action::ConfirmYes);
    settle(&mut app, &mut rx, &mut run).await;
    assert_eq!(
        app.selected_deployment().unwrap().status,
        DeploymentStatus::Paused
    );
    assert_eq!(
        server
            .client
            .get_deployment(deployment)
            .await
            .unwrap()
            .deployment
            .status,
        DeploymentStatus::Paused
    );
    assert!(app.status.as_ref().unwrap().text.ends_with("is now paused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_mode_opens_a_free_data_dir_and_refuses_a_held_one() {
    edgesync_server::tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let first = Embedded::start(dir.path()).await.unwrap();
    // A fresh directory gets its admin key written, as `edgesync serve` does.
    let written = std::fs::read_to_string(dir.path().join("admin.key")).unwrap();
    assert_eq!(written.trim(), first.api_key);
    let client = Client::builder(&first.url)
        .api_key(&first.api_key)
        .build()
        .unwrap();
    assert!(
        client
            .list_all_nodes(&Default::default())
            .await
            .unwrap()
            .is_empty()
    );

    // The store is held: a second opener is told to use --server.
    let e = Embedded::start(dir.path()).await.unwrap_err();
    assert_eq!(e.to_string(), IN_USE);

    // Once released it opens again, with the same key.
    first.stop().await;
    let again = Embedded::start(dir.path()).await.unwrap();
    assert_eq!(again.api_key, written.trim());
    again.stop().await;

    // A key file that no longer works: a session key is made (and revoked on exit).
    std::fs::write(dir.path().join("admin.key"), "esk_not_a_key\n").unwrap();
    let third = Embedded::start(dir.path()).await.unwrap();
    assert_ne!(third.api_key, "esk_not_a_key");
    let client = Client::builder(&third.url)
        .api_key(&third.api_key)
        .build()
        .unwrap();
    client.list_api_keys().await.unwrap();
    third.stop().await;
}
