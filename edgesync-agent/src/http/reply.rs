//! Responses the agent writes itself: short text bodies with a machine-readable
//! `X-EdgeSync-Error` header, and a function's CGI response turned into HTTP.

use poem::Response;
use poem::http::{HeaderName, HeaderValue, StatusCode};

use crate::runtime::wagi::WagiResponse;

/// Header naming the agent-side reason of an error response.
pub(crate) const ERROR_HEADER: &str = "x-edgesync-error";
/// Header naming the function (and version) that answered.
pub(crate) const FUNCTION_HEADER: &str = "x-edgesync-function";

/// Headers a function may not set: they describe the connection, which the agent owns.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
];

/// A plain-text error with its reason code.
pub(crate) fn error(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> Response {
    let mut body = message.into();
    body.push('\n');
    Response::builder()
        .status(status)
        .content_type("text/plain; charset=utf-8")
        .header(ERROR_HEADER, code)
        .body(body)
}

/// The function's response as HTTP.
///
/// # Errors
/// A message when a status or header cannot be sent as HTTP.
pub(crate) fn from_wagi(out: WagiResponse) -> Result<Response, String> {
    let status =
        StatusCode::from_u16(out.status).map_err(|_| format!("invalid status {}", out.status))?;
    let mut resp = Response::builder().status(status).body(out.body);
    for (name, value) in out.headers {
        let lower = name.to_ascii_lowercase();
        if HOP_BY_HOP.contains(&lower.as_str()) || lower.starts_with("x-edgesync-") {
            continue;
        }
        let name = HeaderName::from_bytes(lower.as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        let value = HeaderValue::from_str(&value)
            .map_err(|_| format!("invalid value for header {name}"))?;
        resp.headers_mut().append(name, value);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bytes::Bytes;

    use super::*;

    #[test]
    fn wagi_responses_become_http() {
        let resp = from_wagi(WagiResponse {
            status: 201,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Set-Cookie".into(), "a=1".into()),
                ("Set-Cookie".into(), "b=2".into()),
                ("Transfer-Encoding".into(), "chunked".into()),
                ("X-EdgeSync-Error".into(), "spoofed".into()),
            ],
            body: Bytes::from_static(b"{}"),
        })
        .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(resp.headers().get_all("set-cookie").iter().count(), 2);
        assert!(resp.headers().get("transfer-encoding").is_none());
        assert!(resp.headers().get(ERROR_HEADER).is_none());
        assert!(
            from_wagi(WagiResponse {
                status: 200,
                headers: vec![("X".into(), "bad\u{7f}".into())],
                body: Bytes::new(),
            })
            .is_err()
        );
    }
}
