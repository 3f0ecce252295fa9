//! The WAGI convention: an HTTP request becomes a call's environment and stdin; the call's
//! stdout (CGI headers, a blank line, the body) becomes the response.
//!
//! Environment (every value as received, never percent-decoded unless said so):
//!
//! | variable | value |
//! |---|---|
//! | `REQUEST_METHOD` | `GET`, `POST`, … |
//! | `PATH_INFO` | the request path as sent (`/users/42`) |
//! | `QUERY_STRING` | the query without `?` (empty when none) |
//! | `REQUEST_URI` | path and query as sent |
//! | `SERVER_NAME`, `SERVER_PORT` | from the `Host` header |
//! | `SERVER_PROTOCOL`, `GATEWAY_INTERFACE`, `SERVER_SOFTWARE` | `HTTP/1.1`, `CGI/1.1`, `edgesync-agent/<v>` |
//! | `REMOTE_ADDR` | the client's address |
//! | `CONTENT_TYPE`, `CONTENT_LENGTH` | of the request body |
//! | `HTTP_<NAME>` | every other header, name uppercased with `-` → `_`; repeated headers joined with `, ` |
//! | `X_MATCHED_ROUTE` | the route's pattern (`GET /users/:id`) |
//! | `X_PARAM_<NAME>` | each route parameter, name uppercased, value percent-decoded (`X_PARAM_ID=42`; a trailing `...` is `X_PARAM_REST`) |
//! | `X_FUNCTION_NAME`, `X_FUNCTION_VERSION`, `X_NODE_NAME` | what runs where |
//!
//! `argv` is the function's name. The body is stdin.
//!
//! Output: header lines `Name: value` (LF or CRLF), a blank line, then the body. `Status: 404
//! Not Found` sets the status (default 200, or 302 with a `Location` header and no `Status`).

use bytes::Bytes;

/// Most header lines a function may write.
const MAX_HEADERS: usize = 100;

/// What a request tells a function.
#[derive(Clone, Debug, Default)]
pub struct WagiRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path as sent.
    pub path: &'a str,
    /// Query as sent, without `?`.
    pub query: &'a str,
    /// Headers (name, value); names in any case.
    pub headers: Vec<(String, String)>,
    /// Route parameters (name, percent-decoded value).
    pub params: &'a [(String, String)],
    /// The matched route's pattern.
    pub route: String,
    /// The client's address.
    pub remote_addr: String,
    /// Body length in bytes.
    pub content_length: usize,
    /// Function name.
    pub function_name: &'a str,
    /// Function version.
    pub function_version: u32,
    /// The node's name.
    pub node_name: &'a str,
}

/// The environment variables of a call serving `req`.
pub fn environment(req: &WagiRequest<'_>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::with_capacity(24 + req.headers.len());
    let mut set = |k: &str, v: &str| env.push((k.to_owned(), clean(v)));
    set(
        "SERVER_SOFTWARE",
        concat!("edgesync-agent/", env!("CARGO_PKG_VERSION")),
    );
    set("GATEWAY_INTERFACE", "CGI/1.1");
    set("SERVER_PROTOCOL", "HTTP/1.1");
    set("REQUEST_METHOD", req.method);
    set("PATH_INFO", req.path);
    set("QUERY_STRING", req.query);
    let uri = if req.query.is_empty() {
        req.path.to_owned()
    } else {
        format!("{}?{}", req.path, req.query)
    };
    set("REQUEST_URI", &uri);
    set("SCRIPT_NAME", "");
    set("REMOTE_ADDR", &req.remote_addr);
    set("CONTENT_LENGTH", &req.content_length.to_string());
    set("X_MATCHED_ROUTE", &req.route);
    set("X_FUNCTION_NAME", req.function_name);
    set("X_FUNCTION_VERSION", &req.function_version.to_string());
    set("X_NODE_NAME", req.node_name);
    let host = header(&req.headers, "host").unwrap_or_default();
    let (name, port) = split_host(&host);
    set("SERVER_NAME", name);
    set("SERVER_PORT", port);
    set(
        "CONTENT_TYPE",
        &header(&req.headers, "content-type").unwrap_or_default(),
    );
    for (name, value) in req.params {
        set(&format!("X_PARAM_{}", name.to_ascii_uppercase()), value);
    }
    // HTTP_<NAME>, repeated headers joined in order.
    let mut merged: Vec<(String, String)> = Vec::new();
    for (name, value) in &req.headers {
        let lower = name.to_ascii_lowercase();
        if lower == "content-type" || lower == "content-length" {
            continue;
        }
        let var = format!("HTTP_{}", lower.to_ascii_uppercase().replace('-', "_"));
        match merged.iter_mut().find(|(k, _)| *k == var) {
            Some((_, v)) => {
                v.push_str(", ");
                v.push_str(value);
            }
            None => merged.push((var, value.clone())),
        }
    }
    for (k, v) in merged {
        set(&k, &v);
    }
    env
}

/// A header's value (names compared case-insensitively; repeated ones joined).
fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// `host:port` → (`host`, `port`); an IPv6 literal keeps its brackets.
fn split_host(host: &str) -> (&str, &str) {
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => (&host[..i], &host[i + 1..]),
        _ => (host, ""),
    }
}

/// Environment values cannot hold NUL bytes.
fn clean(v: &str) -> String {
    v.replace('\0', "")
}

/// A function's response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WagiResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers in the order written (without `Status`).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

/// Parses a call's stdout as a CGI response.
///
/// # Errors
/// A message for the operator when the output is not a CGI response: empty, no blank line
/// after the headers, a malformed header line, a bad `Status`.
pub fn parse_output(out: &Bytes) -> Result<WagiResponse, String> {
    if out.is_empty() {
        return Err("the function wrote nothing to stdout".into());
    }
    let mut pos = 0;
    let mut headers = Vec::new();
    let mut status = None;
    loop {
        let Some(nl) = out[pos..].iter().position(|&b| b == b'\n') else {
            return Err("the output has no blank line after the CGI headers".into());
        };
        let raw = &out[pos..pos + nl];
        pos += nl + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(format!("more than {MAX_HEADERS} header lines"));
        }
        let line = std::str::from_utf8(raw).map_err(|_| "a header line is not UTF-8".to_owned())?;
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("header line {:?} has no ':'", excerpt(line)))?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(format!("invalid header name {:?}", excerpt(name)));
        }
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            status = Some(parse_status(value)?);
        } else {
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    let status = status.unwrap_or_else(|| {
        if headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("location"))
        {
            302
        } else {
            200
        }
    });
    Ok(WagiResponse {
        status,
        headers,
        body: out.slice(pos..),
    })
}

fn parse_status(value: &str) -> Result<u16, String> {
    value
        .split_whitespace()
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|code| (100..=599).contains(code))
        .ok_or_else(|| format!("invalid Status header {:?}", excerpt(value)))
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn excerpt(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn environment_follows_the_convention() {
        let params = vec![
            ("id".to_owned(), "42".to_owned()),
            ("rest".to_owned(), "a/b".to_owned()),
        ];
        let env = environment(&WagiRequest {
            method: "POST",
            path: "/users/42/files/a/b",
            query: "x=1&y=%20",
            headers: vec![
                ("Host".into(), "api.example.com:8081".into()),
                ("Content-Type".into(), "application/json".into()),
                ("X-Trace".into(), "a".into()),
                ("x-trace".into(), "b".into()),
            ],
            params: &params,
            route: "POST /users/:id/files/...".into(),
            remote_addr: "127.0.0.1:5000".into(),
            content_length: 7,
            function_name: "hello",
            function_version: 3,
            node_name: "edge-1",
        });
        let get = |k: &str| {
            env.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("{k} missing"))
        };
        assert_eq!(get("REQUEST_METHOD"), "POST");
        assert_eq!(get("PATH_INFO"), "/users/42/files/a/b");
        assert_eq!(get("QUERY_STRING"), "x=1&y=%20");
        assert_eq!(get("REQUEST_URI"), "/users/42/files/a/b?x=1&y=%20");
        assert_eq!(get("SERVER_NAME"), "api.example.com");
        assert_eq!(get("SERVER_PORT"), "8081");
        assert_eq!(get("CONTENT_TYPE"), "application/json");
        assert_eq!(get("CONTENT_LENGTH"), "7");
        assert_eq!(get("HTTP_X_TRACE"), "a, b");
        assert_eq!(get("HTTP_HOST"), "api.example.com:8081");
        assert_eq!(get("X_PARAM_ID"), "42");
        assert_eq!(get("X_PARAM_REST"), "a/b");
        assert_eq!(get("X_FUNCTION_VERSION"), "3");
        assert!(!env.iter().any(|(k, _)| k == "HTTP_CONTENT_TYPE"));
    }

    #[test]
    fn cgi_output_parses() {
        let out =
            Bytes::from_static(b"Content-Type: text/plain\r\nStatus: 404 Not Found\r\n\r\nnope");
        let r = parse_output(&out).unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.headers, [("Content-Type".into(), "text/plain".into())]);
        assert_eq!(r.body, "nope");

        let r = parse_output(&Bytes::from_static(b"Location: /x\n\n")).unwrap();
        assert_eq!(r.status, 302);
        assert!(r.body.is_empty());

        let r = parse_output(&Bytes::from_static(b"\nbody only")).unwrap();
        assert_eq!((r.status, r.body.as_ref()), (200, &b"body only"[..]));

        for bad in [
            &b""[..],
            b"Content-Type: text/plain",
            b"no colon\n\n",
            b"Status: abc\n\n",
            b"Status: 99\n\n",
            b"Bad Name: x\n\n",
        ] {
            assert!(
                parse_output(&Bytes::copy_from_slice(bad)).is_err(),
                "{bad:?}"
            );
        }
    }
}
