//! A smoke run of the fleet simulator against a server it starts itself: small numbers, a few
//! seconds; the real runs are by hand (docs/performance.md). With `EDGESYNC_TEST_MQTT_URL` set
//! (CI sets it) the spawned server publishes to that broker and convergence is measured a second
//! time with nodes notified over MQTT.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn the_simulator_runs_and_reports_ratios() {
    let sim = edgesync_e2e::binary("edgesync-sim");
    let server = edgesync_e2e::binary("edgesync");
    let mqtt = std::env::var("EDGESYNC_TEST_MQTT_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    let mut sim = Command::new(sim);
    if let Some(url) = &mqtt {
        sim.args(["--mqtt", url]);
    }
    let out = sim
        .args([
            "--spawn",
            "--nodes",
            "40",
            "--duration",
            "1",
            "--concurrency",
            "8",
            "--converge-nodes",
            "20",
        ])
        .arg("--edgesync-bin")
        .arg(server)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "baseline GET /bench/hello",
        "authenticated heartbeats",
        "sync polls answered 304",
        "sync polls returning a plan",
        "convergence after a deploy",
        "telemetry batches",
        "sync cycles (plan + durable ack)",
        "steady fleet",
        "cold restart after SIGKILL",
        "× baseline",
    ] {
        assert!(report.contains(needle), "missing {needle:?} in:\n{report}");
    }
    let convergence = |name: &str| {
        report
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name:?} line in:\n{report}"))
    };
    assert!(
        convergence("convergence after a deploy (long poll)").contains("20/20 nodes"),
        "{report}"
    );
    if mqtt.is_some() {
        let line = convergence("convergence after a deploy (MQTT)");
        assert!(line.contains("20/20 nodes"), "{line}");
        assert!(line.contains("the long poll's speed"), "{line}");
    } else {
        eprintln!("EDGESYNC_TEST_MQTT_URL is unset: the MQTT convergence run was skipped");
    }
    let reads = report
        .lines()
        .find_map(|l| l.split_once("store calls by the 304 polls"))
        .unwrap()
        .1;
    assert_eq!(
        reads.split_whitespace().next(),
        Some("0"),
        "304s touched the store: {reads}"
    );
    let durable = report
        .lines()
        .find(|l| l.contains("heartbeat 1.2 s before the kill"))
        .unwrap();
    assert!(durable.contains("survived"), "{durable}");
    for l in report.lines().filter(|l| l.contains("errors")) {
        assert!(l.contains("errors 0"), "a phase had errors: {l}\n{report}");
    }
}
