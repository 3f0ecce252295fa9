//! The WASM runtime against the example functions: WAGI in and out, and every limit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use edgesync_agent::runtime::wagi::{self, WagiRequest};
use edgesync_agent::runtime::{CallInput, CallLimits, CallOutcome, WasmRuntime};

fn example(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../examples/functions/{name}.wat",
        env!("CARGO_MANIFEST_DIR")
    );
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn limits(memory_pages: u32, max_execution_ms: u32) -> CallLimits {
    CallLimits {
        entrypoint: "_start".into(),
        memory_pages,
        max_execution_ms,
        max_output_bytes: 1024 * 1024,
    }
}

fn runtime() -> WasmRuntime {
    WasmRuntime::new(Duration::from_millis(2)).unwrap()
}

fn completed(outcome: CallOutcome) -> wagi::WagiResponse {
    match outcome {
        CallOutcome::Completed { stdout, .. } => wagi::parse_output(&stdout).unwrap(),
        other => panic!("expected a response, got {other:?}"),
    }
}

#[test]
fn hello_answers() {
    let rt = runtime();
    let module = rt.compile(&example("hello")).unwrap();
    rt.check(&module, "_start").unwrap();
    let resp = completed(rt.invoke(&module, &limits(4, 1000), CallInput::default()));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, "hello from the edge\n");
}

#[test]
fn hello_v2_echoes_the_request() {
    let rt = runtime();
    let module = rt.compile(&example("hello-v2")).unwrap();
    let params = vec![("name".to_owned(), "bob".to_owned())];
    let env = wagi::environment(&WagiRequest {
        method: "GET",
        path: "/hello/bob",
        query: "x=1",
        headers: vec![("host".into(), "edge.example:8081".into())],
        params: &params,
        route: "GET /hello/:name".into(),
        function_name: "hello",
        function_version: 2,
        node_name: "edge-1",
        ..WagiRequest::default()
    });
    let input = CallInput {
        args: vec!["hello".into()],
        env,
        stdin: Bytes::new(),
    };
    let resp = completed(rt.invoke(&module, &limits(8, 1000), input));
    let body = String::from_utf8(resp.body.to_vec()).unwrap();
    for line in [
        "hello v2 from the edge",
        "REQUEST_METHOD=GET",
        "PATH_INFO=/hello/bob",
        "QUERY_STRING=x=1",
        "X_PARAM_NAME=bob",
        "X_NODE_NAME=edge-1",
        "X_FUNCTION_VERSION=2",
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "{line:?} missing in {body}"
        );
    }
}

#[test]
fn echo_json_wraps_the_body() {
    let rt = runtime();
    let module = rt.compile(&example("echo-json")).unwrap();
    let input = CallInput {
        stdin: Bytes::from_static(br#"{"a": [1, 2]}"#),
        ..CallInput::default()
    };
    let resp = completed(rt.invoke(&module, &limits(32, 1000), input));
    assert_eq!(
        resp.headers,
        [("Content-Type".to_owned(), "application/json".to_owned())]
    );
    assert_eq!(resp.body, "{\"echo\":{\"a\": [1, 2]}}\n");
    let resp = completed(rt.invoke(&module, &limits(32, 1000), CallInput::default()));
    assert_eq!(resp.body, "{\"echo\":null}\n");
}

#[test]
fn an_endless_loop_is_interrupted_at_its_time_limit() {
    let rt = runtime();
    let module = rt.compile(&example("loop")).unwrap();
    let started = Instant::now();
    let outcome = rt.invoke(&module, &limits(1, 100), CallInput::default());
    let took = started.elapsed();
    assert_eq!(outcome, CallOutcome::TimedOut);
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_millis(400), "{took:?}");
}

#[test]
fn a_memory_bomb_hits_its_memory_limit() {
    let rt = runtime();
    let module = rt.compile(&example("memory-bomb")).unwrap();
    let outcome = rt.invoke(&module, &limits(64, 5000), CallInput::default());
    assert_eq!(outcome, CallOutcome::MemoryLimit);
    // A module whose initial memory exceeds the limit never starts.
    let module = rt.compile(&example("echo-json")).unwrap();
    assert_eq!(
        rt.invoke(&module, &limits(4, 1000), CallInput::default()),
        CallOutcome::MemoryLimit
    );
}

#[test]
fn traps_and_bad_modules_are_reported_not_fatal() {
    let rt = runtime();
    let trap = wat::parse_str(r#"(module (func (export "_start") unreachable))"#).unwrap();
    let module = rt.compile(&trap).unwrap();
    match rt.invoke(&module, &limits(1, 1000), CallInput::default()) {
        CallOutcome::Trapped { message, .. } => {
            assert!(message.contains("unreachable"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(rt.compile(b"not wasm").is_err());
    let module = rt.compile(&example("hello")).unwrap();
    assert_eq!(
        rt.check(&module, "main").unwrap_err().0,
        "entrypoint_missing"
    );
    let foreign =
        wat::parse_str(r#"(module (import "env" "nope" (func)) (func (export "_start")))"#)
            .unwrap();
    let module = rt.compile(&foreign).unwrap();
    assert_eq!(
        rt.check(&module, "_start").unwrap_err().0,
        "unsupported_import"
    );
    // No file system: a preview 1 module sees no preopened directory.
    let fs = wat::parse_str(
        r#"(module
            (import "wasi_snapshot_preview1" "fd_prestat_get" (func $p (param i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func (export "_start") (call $exit (call $p (i32.const 3) (i32.const 0)))))"#,
    )
    .unwrap();
    let module = rt.compile(&fs).unwrap();
    match rt.invoke(&module, &limits(1, 1000), CallInput::default()) {
        // EBADF (8): descriptor 3 is not a preopened directory.
        CallOutcome::Exited { code, .. } => assert_eq!(code, 8),
        other => panic!("{other:?}"),
    }
}

#[test]
fn output_is_capped() {
    let rt = runtime();
    let module = rt.compile(&example("hello-v2")).unwrap();
    let small = CallLimits {
        max_output_bytes: 10,
        ..limits(8, 1000)
    };
    assert_eq!(
        rt.invoke(&module, &small, CallInput::default()),
        CallOutcome::OutputTooLarge
    );
}
