//! `405 Method Not Allowed` answers name the methods the path does accept in `Allow`
//! (RFC 9110 §15.5.6). poem's router refuses the method without naming any, so the methods of
//! each path are read once from the OpenAPI document.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::http::header::{ALLOW, HeaderValue};
use poem::{Endpoint, IntoResponse, Request, Response};

use crate::api::error::{core_error_of_poem, problem_response};

/// HTTP methods an OpenAPI path item may hold, in the order `Allow` lists them.
const METHODS: [&str; 8] = [
    "get", "head", "post", "put", "patch", "delete", "options", "trace",
];

/// The methods each path of the API accepts.
#[derive(Clone, Debug, Default)]
pub struct AllowedMethods {
    /// Path templates split into segments (`None` for a `{parameter}`), with their `Allow`
    /// value.
    paths: Vec<(Vec<Option<String>>, HeaderValue)>,
}

impl AllowedMethods {
    /// Reads the paths and methods of an OpenAPI document (JSON). `HEAD` is listed wherever
    /// `GET` is: the router answers it.
    pub fn from_spec(spec: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let Some(paths) = doc.get("paths").and_then(serde_json::Value::as_object) else {
            return Self::default();
        };
        let paths = paths
            .iter()
            .filter_map(|(template, item)| {
                let has =
                    |m: &str| item.get(m).is_some() || (m == "head" && item.get("get").is_some());
                let methods: Vec<String> = METHODS
                    .iter()
                    .filter(|m| has(m))
                    .map(|m| m.to_ascii_uppercase())
                    .collect();
                let value = HeaderValue::from_str(&methods.join(", ")).ok()?;
                let segments = segments(template)
                    .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_owned()))
                    .collect();
                Some((segments, value))
            })
            .collect();
        Self { paths }
    }

    /// The `Allow` value for a request path: that of the documented path it matches, literal
    /// segments taking precedence over parameters as in the router.
    pub fn for_path(&self, path: &str) -> Option<&HeaderValue> {
        let wanted: Vec<&str> = segments(path).collect();
        self.paths
            .iter()
            .filter(|(template, _)| {
                template.len() == wanted.len()
                    && template
                        .iter()
                        .zip(&wanted)
                        .all(|(t, w)| t.as_deref().is_none_or(|t| t == *w))
            })
            .min_by_key(|(template, _)| template.iter().map(Option::is_none).collect::<Vec<_>>())
            .map(|(_, value)| value)
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// Answers a refused method with its problem body and `Allow`.
pub async fn middleware<E: Endpoint>(
    next: E,
    req: Request,
    allowed: Arc<AllowedMethods>,
) -> poem::Result<Response> {
    let path = req.uri().path().to_owned();
    let mut resp = match next.call(req).await {
        Err(err) if err.status() == StatusCode::METHOD_NOT_ALLOWED => {
            problem_response(&core_error_of_poem(&err))
        }
        other => other?.into_response(),
    };
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && !resp.headers().contains_key(ALLOW)
        && let Some(value) = allowed.for_path(&path)
    {
        resp.headers_mut().insert(ALLOW, value.clone());
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn paths_match_literals_before_parameters() {
        let allowed = AllowedMethods::from_spec(
            r#"{"paths": {
                "/api/v1/nodes/{id}": {"get": {}, "patch": {}},
                "/api/v1/nodes/register": {"post": {}},
                "/api/v1/nodes/{id}/commands/{cid}": {"get": {}},
                "/api/v1/nodes/{id}/commands/history": {"get": {}},
                "/health": {"get": {}}
            }}"#,
        );
        let allow = |p: &str| allowed.for_path(p).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            allow("/api/v1/nodes/abc").as_deref(),
            Some("GET, HEAD, PATCH")
        );
        assert_eq!(allow("/api/v1/nodes/register").as_deref(), Some("POST"));
        assert_eq!(
            allow("/api/v1/nodes/abc/commands/history").as_deref(),
            Some("GET, HEAD")
        );
        assert_eq!(allow("/health").as_deref(), Some("GET, HEAD"));
        assert_eq!(allow("/api/v1/nodes/a/b"), None);
        assert_eq!(allow("/nowhere"), None);
    }
}
