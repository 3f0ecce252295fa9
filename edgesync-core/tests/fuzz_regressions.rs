//! Inputs from fuzzing (`fuzz/`, see `fuzz/README.md`), kept as plain tests over the public API.
//!
//! Each test names the fuzz target that found or exercised its input. Two are bugs the targets
//! found (`route_pattern`: a literal `...` stored as the wildcard; `wasm_ingest`: duplicate
//! imports made a module incompatible with itself); the others are the most hostile inputs
//! tried, which must be rejected with an error (never a panic) and are kept so that they stay
//! that way.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgesync_core::model::{FunctionSpec, NewSchemaMigration, NodeRegistration, ReportedState};
use edgesync_core::route_pattern::{RoutePattern, RoutePatternError};
use edgesync_core::selector::{Selector, validate_label_key, validate_labels};
use edgesync_core::wasm::{InspectLimits, WasmError, WasmInspector, compare, inspect};

// --- route_pattern --------------------------------------------------------------------------

/// Found by `route_pattern`: the literal `.%2e%2e` decodes to `...` and was stored as `/...`,
/// which every agent parsed back as the catch-all `...`: a route for one odd literal path would
/// have served every path on the nodes.
#[test]
fn route_pattern_literal_three_dots_is_stored_encoded() {
    for path in ["/.%2e%2e", "/%2E%2E%2E", "/a/%2e.%2E/b"] {
        let pattern = RoutePattern::parse(None, path, &[]).unwrap();
        assert!(
            !pattern.path().split('/').any(|s| s == "..."),
            "{path}: {pattern}"
        );
        let stored = RoutePattern::parse(pattern.host(), pattern.path(), pattern.methods());
        assert_eq!(stored.as_ref(), Ok(&pattern), "{path}");
    }
    let literal = RoutePattern::parse(None, "/.%2e%2e", &[]).unwrap();
    assert_eq!(literal.path(), "/%2E%2E%2E");
    assert!(literal.matches(None, "GET", "/...").is_some());
    assert!(literal.matches(None, "GET", "/%2e%2e%2e").is_some());
    assert!(literal.matches(None, "GET", "/anything/else").is_none());
    assert!(literal.matches(None, "GET", "/").is_none());
    let rest = RoutePattern::parse(None, "/...", &[]).unwrap();
    assert!(!literal.conflicts_with(&rest));
}

/// Exercised by `route_pattern`: odd unicode, IP literals, ports and too many segments are
/// rejected with the position or the reason, never a panic.
#[test]
fn route_pattern_hostile_inputs_are_rejected() {
    let invalid_path = |host: Option<&str>, path: &str| match RoutePattern::parse(host, path, &[]) {
        Err(RoutePatternError::InvalidPath { position, .. }) => {
            assert!(position <= path.len(), "{path:?}: {position}")
        }
        other => panic!("{path:?}: {other:?}"),
    };
    invalid_path(None, "/é");
    invalid_path(None, "/a/\u{202e}b");
    invalid_path(None, "/a%zz");
    invalid_path(None, "/a%");
    invalid_path(None, "/%2e");
    invalid_path(None, "/.%2E");
    invalid_path(None, &format!("/{}", ["s"; 33].join("/")));
    invalid_path(None, &format!("/{}", "a".repeat(4096)));
    for host in [
        "bücher.example",
        "[::1]",
        "example.com:8080",
        "a.*.example.com",
        "",
    ] {
        assert!(
            matches!(
                RoutePattern::parse(Some(host), "/", &[]),
                Err(RoutePatternError::InvalidHost { .. })
            ),
            "{host:?}"
        );
    }
    assert!(matches!(
        RoutePattern::parse(None, "/:a/:a", &[]),
        Err(RoutePatternError::DuplicateParam { .. })
    ));
    assert!(matches!(
        RoutePattern::parse(None, "/", &["get".to_owned()]),
        Err(RoutePatternError::InvalidMethod { .. })
    ));
    let pattern = RoutePattern::parse(Some("*.example.com"), "/u/:id/...", &[]).unwrap();
    for (host, path) in [
        (Some("[::1"), "/u/1"),
        (Some("a.example.com"), "/u/%FF"),
        (Some("a.example.com"), "/u/%C3%A9/%2e%2e/x"),
        (None, "/u/1"),
    ] {
        assert!(
            pattern.matches(host, "GET", path).is_none(),
            "{host:?} {path}"
        );
    }
}

// --- selector -------------------------------------------------------------------------------

/// Exercised by `selector`: odd unicode, dangling commas, oversized input; each error points
/// inside the input.
#[test]
fn selector_hostile_inputs_are_rejected() {
    let long = "x".repeat(4097);
    let inputs = [
        "é=ü",
        "\u{202e}tier=edge",
        "tier=\u{0000}",
        "a in (x,)",
        "a in ()",
        "!!a",
        "a=b=c",
        " , ",
        "a <  b",
        "example.com/a/b=c",
        "Example.com/a=b",
        long.as_str(),
    ];
    for input in inputs {
        let error = Selector::parse(input).unwrap_err();
        if let Some(position) = error.position {
            assert!(position <= input.len(), "{input:?}: {error}");
        }
    }
    // serde goes through the same parser.
    assert!(serde_json::from_str::<Selector>(r#""é=ü""#).is_err());
    assert!(validate_label_key(&format!("{}/a", "b".repeat(254))).is_err());
    let labels = [("é".to_owned(), "x".to_owned())].into_iter().collect();
    assert!(validate_labels(&labels).is_err());
}

// --- json_requests --------------------------------------------------------------------------

/// Exercised by `json_requests`: deep nesting and numbers out of range fail to decode, values at
/// the edge of their type decode but fail validation.
#[test]
fn json_hostile_bodies_are_rejected() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(serde_json::from_str::<FunctionSpec>(&deep).is_err());
    let nested = format!(r#"{{"functions":{deep}}}"#);
    assert!(serde_json::from_str::<ReportedState>(&nested).is_err());
    assert!(serde_json::from_str::<serde_json::Value>(&deep).is_err());

    let spec = |memory_pages: &str| {
        format!(
            r#"{{"name":"f","entrypoint":"_start","memory_pages":{memory_pages},
                "max_execution_ms":1,"max_concurrency":1,"description":""}}"#
        )
    };
    assert!(serde_json::from_str::<FunctionSpec>(&spec("4294967296")).is_err());
    assert!(serde_json::from_str::<FunctionSpec>(&spec("-1")).is_err());
    assert!(serde_json::from_str::<FunctionSpec>(&spec("1e999999")).is_err());
    let at_edge: FunctionSpec = serde_json::from_str(&spec("4294967295")).unwrap();
    assert!(at_edge.validate().is_err());

    let migration: NewSchemaMigration = serde_json::from_str(
        r#"{"version":18446744073709551615,"name":"m","up_sql":"x","down_sql":null}"#,
    )
    .unwrap();
    assert!(migration.validate().is_err());

    let state: ReportedState = serde_json::from_str(
        r#"{"functions":[],"schema_version":0,"routes_revision":"r\u0007",
            "sync_revision":null,"resources":{"cpu_percent":1e308,"memory_bytes":0,"disk_bytes":0}}"#,
    )
    .unwrap();
    assert!(state.validate().is_err());
    assert!(
        serde_json::from_str::<ReportedState>(
            r#"{"functions":[],"schema_version":0,"routes_revision":null,"sync_revision":null,
                "resources":{"cpu_percent":1e999,"memory_bytes":0,"disk_bytes":0}}"#,
        )
        .is_err()
    );

    let registration: NodeRegistration = serde_json::from_str(
        r#"{"name":"n\u202e","pop":"p","region":"","labels":{"é":"x"},"agent_version":"1",
            "capabilities":[],"memory_budget_bytes":18446744073709551615}"#,
    )
    .unwrap();
    assert!(registration.validate().is_err());
}

// --- wasm_ingest ----------------------------------------------------------------------------

fn limits(max_memory_pages: u32) -> InspectLimits {
    InspectLimits {
        max_size_bytes: 1 << 20,
        max_memory_pages,
        entrypoint: "_start".to_owned(),
    }
}

/// Exercised by `wasm_ingest`: memories that declare far more than the limit (4 GiB, a 64-bit
/// memory of 2^40 pages, a shared one, an imported one) are refused on their declaration, before
/// anything is instantiated.
#[test]
fn wasm_huge_declared_memory_is_rejected() {
    for (wat, declared) in [
        (
            r#"(module (memory 65536) (func (export "_start")))"#,
            65_536,
        ),
        (
            r#"(module (memory i64 1099511627776) (func (export "_start")))"#,
            1 << 40,
        ),
        (
            r#"(module (memory 17 65536 shared) (func (export "_start")))"#,
            17,
        ),
        (
            r#"(module (import "env" "memory" (memory 65536)) (func (export "_start")))"#,
            65_536,
        ),
    ] {
        let bytes = wat::parse_str(wat).unwrap();
        assert_eq!(
            inspect(&bytes, limits(16)),
            Err(WasmError::MemoryTooLarge {
                declared_pages: declared,
                limit_pages: 16
            }),
            "{wat}"
        );
    }
}

/// Exercised by `wasm_ingest`: truncated, empty, component and garbage inputs are refused
/// whether they arrive whole or byte by byte, with the same error.
#[test]
fn wasm_malformed_modules_are_rejected_the_same_way_in_any_chunking() {
    let valid = wat::parse_str(r#"(module (func (export "_start")))"#).unwrap();
    let garbage: Vec<u8> = (0..=255u8).collect();
    let inputs: [&[u8]; 5] = [
        &valid[..valid.len() - 1],
        b"\0asm\x0d\0\x01\0",
        b"\0asm\x01\0\0\0\x01\xff\xff\xff\xff\x0f",
        &garbage,
        b"",
    ];
    for input in inputs {
        let whole = inspect(input, limits(16));
        assert!(whole.is_err(), "{input:?}");
        let mut inspector = WasmInspector::new(limits(16));
        let mut streamed = Ok(());
        for byte in input {
            streamed = inspector.update(std::slice::from_ref(byte));
            if streamed.is_err() {
                break;
            }
        }
        let streamed = streamed.and_then(|()| inspector.finish());
        assert_eq!(streamed, whole, "{input:?}");
    }
}

/// Found by `wasm_ingest` (a wasm-smith module): a module may import the same `module.name` twice
/// with different types. The compatibility check keyed imports by name only, so it compared
/// each import with the other one of that name and called a module breaking against itself: a
/// re-upload of the same binary would have needed `allow_breaking` to deploy.
#[test]
fn wasm_duplicate_import_names_are_compatible_with_themselves() {
    let module = |extra: &str| {
        wat::parse_str(format!(
            r#"(module
                 (type $empty (func))
                 (import "" "" (tag (type $empty)))
                 (import "" "" (func (result v128)))
                 {extra}
                 (func (export "_start")))"#
        ))
        .unwrap()
    };
    let report = inspect(&module(""), limits(16)).unwrap();
    assert_eq!(report.imports.len(), 2);
    let same = compare(&report, &report, "_start");
    assert!(!same.breaking && same.reasons.is_empty(), "{same:?}");

    // Still breaking: a third import of that name with a type the previous version did not have.
    let next = inspect(&module(r#"(import "" "" (func (param i32)))"#), limits(16)).unwrap();
    let verdict = compare(&report, &next, "_start");
    assert!(verdict.breaking, "{verdict:?}");
    assert_eq!(verdict.reasons.len(), 1, "{verdict:?}");
    // Dropping one of the duplicates is not breaking.
    assert!(!compare(&next, &report, "_start").breaking);
}
