//! The checked-in OpenAPI document must match what the code generates.

#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Regenerate with: `cargo run -p edgesync-server -- openapi > openapi/openapi.json`
//! (or run this test with `UPDATE_OPENAPI=1`).

#[tokio::test]
async fn checked_in_openapi_document_is_current() {
    let generated = edgesync_server::openapi_json().await.unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, format!("{generated}\n")).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    let a: serde_json::Value = serde_json::from_str(&generated).unwrap();
    let b: serde_json::Value = serde_json::from_str(&checked_in).unwrap_or(serde_json::Value::Null);
    assert!(
        a == b,
        "openapi/openapi.json is out of date; regenerate it with\n  cargo run -p edgesync-server -- openapi > openapi/openapi.json"
    );
}

/// Every flag of `edgesync serve` and its environment variable are documented in
/// docs/operations.md.
#[test]
fn operations_guide_lists_every_setting() {
    use clap::CommandFactory;
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operations.md"),
    )
    .unwrap();
    let cli = edgesync_server::config::Cli::command();
    let serve = cli.find_subcommand("serve").unwrap();
    for arg in serve.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if long == "help" {
            continue;
        }
        assert!(
            doc.contains(&format!("`--{long}`")),
            "docs/operations.md does not document --{long}"
        );
        if let Some(env) = arg.get_env() {
            let env = env.to_string_lossy();
            assert!(
                doc.contains(&format!("`{env}`")),
                "docs/operations.md does not document {env}"
            );
        }
    }
}
