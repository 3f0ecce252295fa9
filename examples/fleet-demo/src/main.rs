//! `cargo run -p edgesync-fleet-demo --bin fleet-demo`
//!
//! Starts the EdgeSync control plane (sled in a temp directory) and three edge agents with
//! different labels, all real processes on loopback; uploads the `hello` function, deploys it
//! to `tier=edge`, routes `GET /hello/:name` to it and calls the route on every agent; then
//! uploads and rolls out v2 and shows the edge agents switch. Cleans up and prints a summary.

mod procs;

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use edgesync_client::Client;
use edgesync_client::wire::{CreateDeploymentRequest, FunctionMetadata, RouteRequest};
use procs::{Proc, build_binaries, free_port, wait_for};

/// How long convergence may take before the demo gives up.
const CONVERGE: Duration = Duration::from_secs(30);
/// The selector of the deployments.
const SELECTOR: &str = "tier=edge";

/// One agent of the demo fleet.
struct AgentSpec {
    name: &'static str,
    pop: &'static str,
    labels: &'static [(&'static str, &'static str)],
}

const FLEET: [AgentSpec; 3] = [
    AgentSpec {
        name: "edge-fra-1",
        pop: "fra",
        labels: &[("tier", "edge"), ("region", "eu")],
    },
    AgentSpec {
        name: "edge-nyc-1",
        pop: "nyc",
        labels: &[("tier", "edge"), ("region", "us")],
    },
    AgentSpec {
        name: "core-fra-1",
        pop: "fra",
        labels: &[("tier", "core"), ("region", "eu")],
    },
];

/// A started agent.
struct Agent {
    spec: &'static AgentSpec,
    url: String,
    proc: Proc,
}

impl Agent {
    fn labels(&self) -> String {
        self.spec
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("\nfleet demo failed: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> Result<()> {
    let started = Instant::now();
    println!(
        "EdgeSync fleet demo: one control plane, three edge agents, one function, two versions\n"
    );
    print!("building edgesync and edgesync-agent (once) … ");
    let bin = build_binaries()?;
    println!("ok");
    let tmp = tempfile::Builder::new()
        .prefix("edgesync-fleet-demo-")
        .tempdir()?;

    // The control plane.
    let port = free_port()?;
    let server_url = format!("http://127.0.0.1:{port}");
    let server = Proc::spawn(
        &bin.join("edgesync"),
        &[
            "serve".into(),
            "--data-dir".into(),
            tmp.path().join("server").display().to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ],
        tmp.path().join("server.log"),
    )?;
    let anon = Client::builder(server_url.clone()).build()?;
    wait_for("the control plane's readiness", CONVERGE, || async {
        anon.ready().await.ok().filter(|r| r.ready)
    })
    .await
    .with_context(|| server.tail(20))?;
    let key = std::fs::read_to_string(tmp.path().join("server").join("admin.key"))?
        .trim()
        .to_owned();
    let ops = Client::builder(server_url.clone()).api_key(&key).build()?;
    println!(
        "control plane   {server_url}  (sled store in {})",
        tmp.path().join("server").display()
    );

    // Three agents; the admin key doubles as the enrollment key here.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let mut agents = Vec::new();
    for spec in &FLEET {
        let port = free_port()?;
        let mut args = vec![
            "run".to_owned(),
            "--server".into(),
            server_url.clone(),
            "--enroll-key".into(),
            key.clone(),
            "--name".into(),
            spec.name.into(),
            "--pop".into(),
            spec.pop.into(),
            "--data-dir".into(),
            tmp.path().join(spec.name).display().to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--heartbeat-interval-s".into(),
            "2".into(),
        ];
        for (k, v) in spec.labels {
            args.extend(["--label".to_owned(), format!("{k}={v}")]);
        }
        let proc = Proc::spawn(
            &bin.join("edgesync-agent"),
            &args,
            tmp.path().join(format!("{}.log", spec.name)),
        )?;
        agents.push(Agent {
            spec,
            url: format!("http://127.0.0.1:{port}"),
            proc,
        });
    }
    for agent in &agents {
        let status_url = format!("{}/_agent/status", agent.url);
        let node_id = wait_for(
            &format!("{}'s registration", agent.spec.name),
            CONVERGE,
            || async {
                let status: serde_json::Value =
                    http.get(&status_url).send().await.ok()?.json().await.ok()?;
                status["node_id"].as_str().map(str::to_owned)
            },
        )
        .await
        .with_context(|| agent.proc.tail(20))?;
        println!(
            "agent {:<11} {}  labels {:<22} node {node_id}",
            agent.spec.name,
            agent.url,
            agent.labels()
        );
    }

    // v1.
    let wasm = example("hello")?;
    let v1 = ops.upload_function(&metadata("hello"), wasm).await?;
    println!(
        "\n1. uploaded hello v{} (examples/functions/hello.wat), sha256 {}",
        v1.version,
        v1.sha256.as_deref().unwrap_or("?")
    );
    let d1 = ops
        .create_deployment(&deployment(v1.id, v1.version)?)
        .await?;
    println!(
        "2. deployed hello v{} to `{SELECTOR}`: {} of {} nodes targeted",
        v1.version,
        d1.nodes.len(),
        FLEET.len()
    );
    ops.create_route(&RouteRequest {
        host: None,
        path: "/hello/:name".into(),
        methods: vec!["GET".into()],
        function_id: v1.id,
    })
    .await?;
    println!("3. routed GET /hello/:name to hello");
    let t = Instant::now();
    converge(&http, &agents, "/hello/world", "hello from the edge").await?;
    println!(
        "   the edge agents serve it after {:.2} s; calling GET /hello/world on each agent:",
        t.elapsed().as_secs_f64()
    );
    let before = call_all(&http, &agents, "/hello/world").await;

    // v2.
    let v2 = ops
        .upload_function(&metadata("hello"), example("hello-v2")?)
        .await?;
    let reasons = v2
        .compatibility
        .as_ref()
        .map(|c| c.reasons.join("; "))
        .unwrap_or_default();
    println!(
        "\n4. uploaded hello v{} (examples/functions/hello-v2.wat, echoes the request){}",
        v2.version,
        if reasons.is_empty() {
            String::new()
        } else {
            format!("\n   compatibility check: {reasons}")
        }
    );
    ops.create_deployment(&deployment(v2.id, v2.version)?)
        .await?;
    println!(
        "5. rolled out hello v{} to `{SELECTOR}` (allow_breaking: it reads the environment)",
        v2.version
    );
    let t = Instant::now();
    converge(&http, &agents, "/hello/world?lang=en", "hello v2").await?;
    println!(
        "   the edge agents switched after {:.2} s; calling GET /hello/world?lang=en on each agent:",
        t.elapsed().as_secs_f64()
    );
    let after = call_all(&http, &agents, "/hello/world?lang=en").await;

    // Summary.
    println!("\nSummary");
    println!(
        "  {:<11} {:<22} {:<38} {:<38} downloads",
        "agent", "labels", "v1 answer", "v2 answer"
    );
    for (i, agent) in agents.iter().enumerate() {
        let status: serde_json::Value = http
            .get(format!("{}/_agent/status", agent.url))
            .send()
            .await?
            .json()
            .await?;
        println!(
            "  {:<11} {:<22} {:<38} {:<38} {}",
            agent.spec.name,
            agent.labels(),
            first_line(&before[i]),
            first_line(&after[i]),
            status["counters"]["artifact_downloads"]
        );
    }
    let serving = after.iter().filter(|a| a.starts_with("200")).count();
    println!(
        "\n{serving} of {} agents serve hello v{} (the `{SELECTOR}` ones); the others were never targeted. Done in {:.1} s.",
        agents.len(),
        v2.version,
        started.elapsed().as_secs_f64()
    );
    drop(agents);
    drop(server);
    Ok(())
}

fn example(name: &str) -> Result<Vec<u8>> {
    let path = format!("{}/../functions/{name}.wat", env!("CARGO_MANIFEST_DIR"));
    wat::parse_file(&path).with_context(|| format!("compiling {path}"))
}

fn metadata(name: &str) -> FunctionMetadata {
    FunctionMetadata {
        name: name.into(),
        entrypoint: "_start".into(),
        memory_pages: 16,
        max_execution_ms: 500,
        max_concurrency: 8,
        description: "the fleet demo's greeting".into(),
    }
}

/// A deployment of `version` to [`SELECTOR`] (built from JSON, so that optional fields keep
/// their server defaults).
fn deployment(function_id: uuid::Uuid, version: u32) -> Result<CreateDeploymentRequest> {
    Ok(serde_json::from_value(serde_json::json!({
        "function_id": function_id,
        "version": version,
        "selector": SELECTOR,
        "name": format!("hello-v{version}"),
        "allow_breaking": true,
    }))?)
}

/// Waits until every agent labelled `tier=edge` answers `path` with a body containing
/// `needle`.
async fn converge(
    http: &reqwest::Client,
    agents: &[Agent],
    path: &str,
    needle: &str,
) -> Result<()> {
    for agent in agents
        .iter()
        .filter(|a| a.spec.labels.contains(&("tier", "edge")))
    {
        let url = format!("{}{path}", agent.url);
        wait_for(
            &format!("{} serving {needle:?}", agent.spec.name),
            CONVERGE,
            || async {
                let body = http.get(&url).send().await.ok()?.text().await.ok()?;
                body.contains(needle).then_some(())
            },
        )
        .await
        .with_context(|| agent.proc.tail(20))?;
    }
    Ok(())
}

/// Calls `path` on every agent and prints the answers; returns them as `"<status> <body>"`.
async fn call_all(http: &reqwest::Client, agents: &[Agent], path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for agent in agents {
        let answer = match http.get(format!("{}{path}", agent.url)).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                format!("{status} {}", body.trim_end())
            }
            Err(e) => format!("error {e}"),
        };
        let mut lines = answer.lines();
        println!(
            "   {:<11} {}",
            agent.spec.name,
            lines.next().unwrap_or_default()
        );
        for line in lines {
            println!("   {:<11}     {line}", "");
        }
        out.push(answer);
    }
    out
}

fn first_line(answer: &str) -> String {
    let line = answer.lines().next().unwrap_or_default();
    line.chars().take(38).collect()
}
