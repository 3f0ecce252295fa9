//! `route_pattern`: route pattern parsing (`RoutePattern::parse`, what a route request goes
//! through and what an agent does again with the stored route) and request matching.
//!
//! Input (lossy UTF-8), fields separated by NUL bytes: host pattern (empty: any host), path
//! pattern, methods (comma-separated), then any number of requests as `host`, `method`,
//! `path` triples (empty host: no `Host` header).
//!
//! Checked, besides "never panics":
//! * the stored (normalized) form parses back to the same pattern: the server stores
//!   `host()`, `path()` and `methods()` and every agent parses them again;
//! * a pattern conflicts with itself and matches its own instantiation (parameters filled in,
//!   `...` empty, host and method it accepts, a query string appended);
//! * for every request: `matches` and a one-route `RouteTable::lookup` agree, captured
//!   parameter names are the pattern's, each once;
//! * a path error's position lies within the path.
#![no_main]

use edgesync_core::route_pattern::{REST_PARAM, RoutePattern, RoutePatternError, RouteTable};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut fields = text.split('\0');
    let host = fields.next().filter(|h| !h.is_empty());
    let path = fields.next().unwrap_or("/");
    let methods: Vec<String> = fields
        .next()
        .unwrap_or("")
        .split(',')
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect();
    let requests: Vec<&str> = fields.collect();

    let pattern = match RoutePattern::parse(host, path, &methods) {
        Ok(pattern) => pattern,
        Err(RoutePatternError::InvalidPath { position, reason }) => {
            assert!(position <= path.len(), "{position} past {path:?}: {reason}");
            return;
        }
        Err(_) => return,
    };
    let stored = RoutePattern::parse(pattern.host(), pattern.path(), pattern.methods());
    assert_eq!(
        stored.as_ref(),
        Ok(&pattern),
        "the stored form {pattern} does not parse back to the same pattern (from {path:?})"
    );
    let _ = pattern.to_string();
    assert!(pattern.conflicts_with(&pattern));

    let (own_host, own_path) = instantiate(&pattern);
    let own_method = pattern.methods().first().map_or("GET", String::as_str);
    for path in [own_path.clone(), format!("{own_path}?q=1")] {
        assert!(
            pattern
                .matches(own_host.as_deref(), own_method, &path)
                .is_some(),
            "{pattern} does not match its own instance {own_host:?} {own_method} {path:?}"
        );
    }

    let table = RouteTable::new(vec![(pattern.clone(), ())]);
    for request in requests.chunks(3) {
        let [host, method, path] = request else {
            break;
        };
        let host = Some(*host).filter(|h| !h.is_empty());
        let matched = pattern.matches(host, method, path);
        let looked_up = table.lookup(host, method, path);
        assert_eq!(
            matched.as_ref(),
            looked_up.as_ref().map(|m| &m.params),
            "matches and lookup disagree on {host:?} {method} {path:?}"
        );
        if let Some(params) = matched {
            let expected = param_names(&pattern);
            let names: Vec<&str> = params.iter().map(|(name, _)| name.as_str()).collect();
            assert_eq!(names, expected, "captured parameters of {pattern}");
        }
    }
});

/// The pattern's parameter names in order (`rest` last), read off its normalized path.
fn param_names(pattern: &RoutePattern) -> Vec<&str> {
    pattern
        .path()
        .split('/')
        .filter_map(|segment| match segment {
            "..." => Some(REST_PARAM),
            s => s.strip_prefix(':'),
        })
        .collect()
}

/// A host and path the pattern must match: parameters filled in, `...` left empty.
fn instantiate(pattern: &RoutePattern) -> (Option<String>, String) {
    let host = pattern.host().map(|h| match h.strip_prefix("*.") {
        Some(suffix) => format!("Any.{suffix}:8080"),
        None => h.to_ascii_uppercase(),
    });
    let mut path = String::new();
    for segment in pattern.path().split('/').skip(1) {
        path.push('/');
        match segment {
            "..." => {}
            s if s.starts_with(':') => path.push_str("x%20y"),
            s => path.push_str(s),
        }
    }
    if path.is_empty() {
        path.push('/');
    }
    (host, path)
}
