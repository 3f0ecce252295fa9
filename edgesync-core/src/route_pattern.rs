//! HTTP route patterns and the routing table an edge node uses to pick a function.
//!
//! A [`RoutePattern`] is an optional host pattern, a path pattern and a method list.
//!
//! **Host.** `None` matches any host (including requests without one). `api.example.com` matches
//! that host exactly, case-insensitively. `*.example.com` matches one or more labels in front of
//! the suffix (`a.example.com`, `a.b.example.com`) but not `example.com` itself. Patterns are
//! stored lowercase and may not carry a port, a trailing dot or an IP-literal in brackets; a
//! request's port and trailing dot are ignored when matching (`API.example.com:8080` matches
//! `api.example.com`).
//!
//! **Path.** Starts with `/`; segments are separated by `/` and are either literals or parameters
//! `:name` (`name` matches `[A-Za-z_][A-Za-z0-9_]*` and is unique in the pattern). The last
//! segment may be `...`: the pattern then matches its prefix and anything below it, and the
//! remainder (without its leading slash, percent-decoded) is captured as the parameter
//! [`REST_PARAM`] (`rest`). Literals may use RFC 3986 `pchar`s only; percent-encodings are
//! normalized (hex digits uppercased, unreserved characters decoded), except that a literal
//! decoding to `...` is stored as `%2E%2E%2E`, so that it never reads back as a trailing `...`.
//! Empty segments (`//`), `.` and `..` are rejected. At most [`MAX_PATH_LEN`] bytes and
//! [`MAX_SEGMENTS`] segments.
//!
//! A single trailing slash is not significant: `/a/` is stored as `/a`, and the request paths
//! `/a` and `/a/` match the same routes. Consequently `/static/...` matches `/static`,
//! `/static/` and `/static/a/b` (with `rest` = `""`, `""` and `"a/b"`).
//!
//! **Request paths** are raw: the query string is ignored, and segments are percent-decoded
//! before they are compared with literals and captured as parameters. A request never matches
//! when its path does not start with `/`, contains an invalid percent-encoding, a `.` or `..`
//! segment (raw or encoded), or a parameter that is not UTF-8 once decoded. A parameter never
//! matches an empty segment; `rest` may be empty.
//!
//! **Methods.** A list of `GET`, `POST`, `PUT`, `PATCH`, `DELETE`, `HEAD`, `OPTIONS` (uppercase,
//! as HTTP methods are case-sensitive), stored sorted and deduplicated; the empty list matches
//! every method. A `HEAD` request also matches a route that lists `GET`.
//!
//! **Choosing a route.** [`RouteTable::lookup`] takes the matching route with the highest
//! [`Specificity`]. Among equally specific matches, a `HEAD` request prefers a route listing
//! `HEAD` over one matching through `GET`; remaining ties go to the route inserted first.

use std::fmt;

/// Longest path pattern accepted, in bytes.
pub const MAX_PATH_LEN: usize = 2048;
/// Most segments a path pattern may have (a trailing `...` included).
pub const MAX_SEGMENTS: usize = 32;
/// Name of the parameter that captures what a trailing `...` matched.
pub const REST_PARAM: &str = "rest";
/// The HTTP methods a route may list.
pub const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Longest host name, without the `*.` of a wildcard.
const MAX_HOST_LEN: usize = 253;

/// Why a route pattern is invalid.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum RoutePatternError {
    /// The host pattern is not a host name or a `*.` wildcard over one.
    #[error("invalid host pattern {host:?}: {reason}")]
    InvalidHost {
        /// The rejected host pattern (shortened when very long).
        host: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The path pattern breaks a rule at a byte offset.
    #[error("invalid path pattern at position {position}: {reason}")]
    InvalidPath {
        /// Byte offset of the problem in the path pattern.
        position: usize,
        /// What is wrong there.
        reason: &'static str,
    },
    /// Two parameters share a name (a trailing `...` counts as a parameter named `rest`).
    #[error("parameter name {name:?} is used more than once")]
    DuplicateParam {
        /// The repeated name.
        name: String,
    },
    /// A method is not one of [`METHODS`].
    #[error(
        "unsupported HTTP method {method:?}: expected one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
    )]
    InvalidMethod {
        /// The rejected method (shortened when very long).
        method: String,
    },
}

/// At most 64 characters of `s`, for echoing untrusted input in error messages.
fn excerpt(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &s[..end]),
        None => s.to_owned(),
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum HostPattern {
    Any,
    /// A lowercase host name.
    Exact(String),
    /// `*.` followed by a lowercase host name.
    Wildcard(String),
}

impl HostPattern {
    fn parse(host: Option<&str>) -> Result<Self, RoutePatternError> {
        let Some(host) = host else {
            return Ok(HostPattern::Any);
        };
        let lower = host.to_ascii_lowercase();
        let (name, wildcard) = match lower.strip_prefix("*.") {
            Some(suffix) => (suffix, true),
            None => (lower.as_str(), false),
        };
        check_host_name(name).map_err(|reason| RoutePatternError::InvalidHost {
            host: excerpt(host),
            reason,
        })?;
        Ok(if wildcard {
            HostPattern::Wildcard(lower)
        } else {
            HostPattern::Exact(lower)
        })
    }

    /// `host` is the request's host with port and trailing dot removed.
    fn matches(&self, host: Option<&str>) -> bool {
        let (pattern, host) = match (self, host) {
            (HostPattern::Any, _) => return true,
            (_, None) => return false,
            (HostPattern::Exact(exact), Some(host)) => return exact.eq_ignore_ascii_case(host),
            (HostPattern::Wildcard(pattern), Some(host)) => (pattern.as_bytes(), host.as_bytes()),
        };
        // `pattern` is `*.suffix`; the host must be `labels.suffix` with non-empty labels.
        let dotted_suffix = &pattern[1..];
        let Some(split) = host.len().checked_sub(dotted_suffix.len()) else {
            return false;
        };
        let (labels, suffix) = host.split_at(split);
        suffix.eq_ignore_ascii_case(dotted_suffix)
            && !labels.split(|&b| b == b'.').any(<[u8]>::is_empty)
    }

    fn text(&self) -> Option<&str> {
        match self {
            HostPattern::Any => None,
            HostPattern::Exact(text) | HostPattern::Wildcard(text) => Some(text),
        }
    }
}

/// Checks a lowercase host name: dot-separated labels of 1 to 63 of `[a-z0-9-]`, not starting
/// or ending with `-`, at most 253 characters in all.
fn check_host_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("host must not be empty");
    }
    if name.len() > MAX_HOST_LEN {
        return Err("host must be at most 253 characters");
    }
    if name.starts_with('[') {
        return Err("IP-literal hosts in brackets are not supported");
    }
    if name.contains(':') {
        return Err("host pattern must not include a port");
    }
    if name.contains('*') {
        return Err("'*' is only allowed as the whole first label, as in \"*.example.com\"");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("host must not contain empty labels or end with '.'");
        }
        if label.len() > 63 {
            return Err("host labels must be at most 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("host may contain only letters, digits, '-' and '.'");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("host labels must begin and end with a letter or digit");
        }
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Segment {
    /// `text` is the normalized pattern text, `decoded` the bytes a request segment must decode to.
    Literal {
        text: String,
        decoded: Vec<u8>,
    },
    Param(String),
    Rest,
}

impl Segment {
    /// Same shape: equal literals, or both parameters (names aside), or both `...`.
    fn same_shape(&self, other: &Segment) -> bool {
        match (self, other) {
            (Segment::Literal { decoded: a, .. }, Segment::Literal { decoded: b, .. }) => a == b,
            (Segment::Param(_), Segment::Param(_)) | (Segment::Rest, Segment::Rest) => true,
            _ => false,
        }
    }
}

fn invalid_path(position: usize, reason: &'static str) -> RoutePatternError {
    RoutePatternError::InvalidPath { position, reason }
}

/// Parses a path pattern into its normalized text and segments.
fn parse_path(path: &str) -> Result<(String, Vec<Segment>), RoutePatternError> {
    if path.len() > MAX_PATH_LEN {
        return Err(invalid_path(
            MAX_PATH_LEN,
            "path pattern must be at most 2048 bytes",
        ));
    }
    let Some(body) = path.strip_prefix('/') else {
        return Err(invalid_path(0, "path pattern must start with '/'"));
    };
    let body = strip_trailing_slash(body);
    let mut segments = Vec::new();
    if !body.is_empty() {
        let mut start = 1;
        for raw in body.split('/') {
            if segments.len() == MAX_SEGMENTS {
                return Err(invalid_path(
                    start,
                    "path pattern must have at most 32 segments",
                ));
            }
            if segments.last() == Some(&Segment::Rest) {
                return Err(invalid_path(start, "'...' must be the last segment"));
            }
            segments.push(parse_segment(raw, start)?);
            start += raw.len() + 1;
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for segment in &segments {
        let name = match segment {
            Segment::Literal { .. } => continue,
            Segment::Param(name) => name.as_str(),
            Segment::Rest => REST_PARAM,
        };
        if names.contains(&name) {
            return Err(RoutePatternError::DuplicateParam {
                name: name.to_owned(),
            });
        }
        names.push(name);
    }
    let mut text = String::with_capacity(path.len());
    for segment in &segments {
        text.push('/');
        match segment {
            Segment::Literal { text: literal, .. } => text.push_str(literal),
            Segment::Param(name) => {
                text.push(':');
                text.push_str(name);
            }
            Segment::Rest => text.push_str("..."),
        }
    }
    if text.is_empty() {
        text.push('/');
    }
    Ok((text, segments))
}

/// Parses one segment of a path pattern; `start` is its byte offset in the pattern.
fn parse_segment(raw: &str, start: usize) -> Result<Segment, RoutePatternError> {
    if raw.is_empty() {
        return Err(invalid_path(start, "empty segment ('//')"));
    }
    if raw == "..." {
        return Ok(Segment::Rest);
    }
    if let Some(name) = raw.strip_prefix(':') {
        let mut bytes = name.bytes();
        let valid = bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(invalid_path(
                start + 1,
                "parameter names must match [A-Za-z_][A-Za-z0-9_]*",
            ));
        }
        return Ok(Segment::Param(name.to_owned()));
    }
    let bytes = raw.as_bytes();
    let mut text = String::with_capacity(raw.len());
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex_value),
                bytes.get(i + 2).copied().and_then(hex_value),
            ) else {
                return Err(invalid_path(
                    start + i,
                    "'%' must be followed by two hex digits",
                ));
            };
            let byte = (hi << 4) | lo;
            if is_unreserved(byte) {
                text.push(char::from(byte));
            } else {
                text.push('%');
                text.push(char::from(HEX_DIGITS[usize::from(hi)]));
                text.push(char::from(HEX_DIGITS[usize::from(lo)]));
            }
            decoded.push(byte);
            i += 3;
        } else if is_unreserved(b) || b"!$&'()*+,;=:@".contains(&b) {
            text.push(char::from(b));
            decoded.push(b);
            i += 1;
        } else {
            return Err(invalid_path(
                start + i,
                "character not allowed in a path literal (percent-encode it)",
            ));
        }
    }
    if decoded == b"." || decoded == b".." {
        return Err(invalid_path(start, "'.' and '..' segments are not allowed"));
    }
    if decoded == b"..." {
        // Decoded, it would be stored as `...` and parsed back as the rest wildcard.
        text = "%2E%2E%2E".to_owned();
    }
    Ok(Segment::Literal { text, decoded })
}

const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Removes one trailing slash from a path without its leading slash, unless that leaves
/// nothing: `a/` is `a`, but `/` (from `//`) stays an empty segment.
fn strip_trailing_slash(body: &str) -> &str {
    match body.strip_suffix('/') {
        Some(stripped) if !stripped.is_empty() => stripped,
        _ => body,
    }
}

/// Decodes `%XX` escapes; `None` when an escape is malformed.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push((hi << 4) | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// A request, normalized once so that it can be tried against many routes.
struct Request<'a> {
    /// Without port and trailing dot.
    host: Option<&'a str>,
    method: &'a str,
    /// Percent-decoded path segments, trailing slash and query removed.
    segments: Vec<Vec<u8>>,
}

impl<'a> Request<'a> {
    /// `None` when the path can match no route.
    fn new(host: Option<&'a str>, method: &'a str, path: &str) -> Option<Self> {
        let path = path.split_once('?').map_or(path, |(path, _query)| path);
        let body = path.strip_prefix('/')?;
        let body = strip_trailing_slash(body);
        let segments = if body.is_empty() {
            Vec::new()
        } else {
            body.split('/')
                .map(percent_decode)
                .collect::<Option<Vec<_>>>()?
        };
        if segments.iter().any(|s| s == b"." || s == b"..") {
            return None;
        }
        Some(Self {
            host: host.map(strip_port),
            method,
            segments,
        })
    }
}

/// `host[:port]` or `[v6]:port` without the port, and without a trailing dot.
fn strip_port(host: &str) -> &str {
    let host = if host.starts_with('[') {
        host.find(']').map_or(host, |end| &host[..=end])
    } else {
        host.split_once(':').map_or(host, |(name, _port)| name)
    };
    host.strip_suffix('.').unwrap_or(host)
}

/// How a route accepted a request's method.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MethodMatch {
    /// The route lists the method, or accepts all methods.
    Direct,
    /// A `HEAD` request accepted because the route lists `GET`.
    HeadAsGet,
}

/// A route's host, path and method patterns, in normalized form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoutePattern {
    host: HostPattern,
    path: String,
    segments: Vec<Segment>,
    methods: Vec<String>,
}

impl RoutePattern {
    /// Parses and normalizes a route pattern; see the [module documentation](self) for the rules.
    pub fn parse(
        host: Option<&str>,
        path: &str,
        methods: &[String],
    ) -> Result<RoutePattern, RoutePatternError> {
        let host = HostPattern::parse(host)?;
        let (path, segments) = parse_path(path)?;
        if let Some(bad) = methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
            return Err(RoutePatternError::InvalidMethod {
                method: excerpt(bad),
            });
        }
        let mut methods = methods.to_vec();
        methods.sort();
        methods.dedup();
        Ok(RoutePattern {
            host,
            path,
            segments,
            methods,
        })
    }

    /// The host pattern, lowercase (`api.example.com` or `*.example.com`); `None` for any host.
    pub fn host(&self) -> Option<&str> {
        self.host.text()
    }

    /// The normalized path pattern, e.g. `/users/:id` or `/static/...`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The methods, sorted and deduplicated; empty means every method.
    pub fn methods(&self) -> &[String] {
        &self.methods
    }

    /// `Some(params)` when the request matches, with the parameters in pattern order (`rest`
    /// last) and their values percent-decoded. `path` is the raw request path, query allowed.
    pub fn matches(
        &self,
        host: Option<&str>,
        method: &str,
        path: &str,
    ) -> Option<Vec<(String, String)>> {
        let request = Request::new(host, method, path)?;
        self.match_request(&request).map(|(params, _)| params)
    }

    fn match_request(&self, request: &Request<'_>) -> Option<(Vec<(String, String)>, MethodMatch)> {
        let method = self.match_method(request.method)?;
        if !self.host.matches(request.host) {
            return None;
        }
        let mut params = Vec::new();
        let mut remaining = request.segments.as_slice();
        for segment in &self.segments {
            if *segment == Segment::Rest {
                let rest = String::from_utf8(remaining.join(&b'/')).ok()?;
                params.push((REST_PARAM.to_owned(), rest));
                return Some((params, method));
            }
            let (first, tail) = remaining.split_first()?;
            match segment {
                Segment::Literal { decoded, .. } if decoded == first => {}
                Segment::Param(name) if !first.is_empty() => {
                    let value = String::from_utf8(first.clone()).ok()?;
                    params.push((name.clone(), value));
                }
                _ => return None,
            }
            remaining = tail;
        }
        remaining.is_empty().then_some((params, method))
    }

    fn match_method(&self, method: &str) -> Option<MethodMatch> {
        let listed = |m: &str| self.methods.iter().any(|listed| listed == m);
        if self.methods.is_empty() || listed(method) {
            Some(MethodMatch::Direct)
        } else if method == "HEAD" && listed("GET") {
            Some(MethodMatch::HeadAsGet)
        } else {
            None
        }
    }

    /// How specific the pattern is, to pick the best of several matching routes.
    pub fn specificity(&self) -> Specificity {
        let count = |f: fn(&Segment) -> bool| self.segments.iter().filter(|s| f(s)).count();
        Specificity {
            host: match &self.host {
                HostPattern::Any => HostRank::Any,
                HostPattern::Wildcard(pattern) => HostRank::Wildcard {
                    labels: pattern.split('.').count() - 1,
                },
                HostPattern::Exact(_) => HostRank::Exact,
            },
            literals: count(|s| matches!(s, Segment::Literal { .. })),
            params: count(|s| matches!(s, Segment::Param(_))),
            exact_path: !self.segments.contains(&Segment::Rest),
            explicit_methods: !self.methods.is_empty(),
        }
    }

    /// Whether both patterns are the same for at least one method: equal host patterns, equal
    /// path shapes (parameter names aside: `/u/:id` and `/u/:name` conflict) and overlapping
    /// method lists (the empty list overlaps every list). `GET` and `HEAD` do not overlap.
    pub fn conflicts_with(&self, other: &RoutePattern) -> bool {
        let methods_overlap = self.methods.is_empty()
            || other.methods.is_empty()
            || self.methods.iter().any(|m| other.methods.contains(m));
        self.host == other.host
            && self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|(a, b)| a.same_shape(b))
            && methods_overlap
    }
}

/// `GET,POST api.example.com/users/:id`; the methods and host are left out when unrestricted.
impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.methods.is_empty() {
            write!(f, "{} ", self.methods.join(","))?;
        }
        write!(f, "{}{}", self.host().unwrap_or(""), self.path)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum HostRank {
    Any,
    /// More labels in the suffix rank higher.
    Wildcard {
        labels: usize,
    },
    Exact,
}

/// The rank of a [`RoutePattern`] among routes matching the same request; greater is more
/// specific. Compared, in order: exact host > wildcard host (more suffix labels first) > any
/// host; more literal segments; more parameters; no trailing `...`; an explicit method list
/// over all methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Specificity {
    host: HostRank,
    literals: usize,
    params: usize,
    exact_path: bool,
    explicit_methods: bool,
}

/// A route found by [`RouteTable::lookup`].
#[derive(Debug)]
pub struct RouteMatch<'a, T> {
    /// The value stored with the route.
    pub value: &'a T,
    /// The captured parameters, in pattern order, percent-decoded.
    pub params: Vec<(String, String)>,
    /// The route's pattern.
    pub pattern: &'a RoutePattern,
}

impl<T> RouteMatch<'_, T> {
    /// The value of the parameter `name`, if captured.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Clone, Debug)]
struct Entry<T> {
    pattern: RoutePattern,
    specificity: Specificity,
    value: T,
}

/// A node's compiled routing table: picks the most specific matching route, ties broken by
/// insertion order (see the [module documentation](self)). It does not reject conflicting
/// routes; use [`RoutePattern::conflicts_with`] before adding one.
#[derive(Clone, Debug)]
pub struct RouteTable<T> {
    /// Most specific first; equal specificities in insertion order.
    entries: Vec<Entry<T>>,
}

impl<T> RouteTable<T> {
    /// Compiles the table from routes in insertion order.
    pub fn new(routes: Vec<(RoutePattern, T)>) -> Self {
        let mut entries: Vec<Entry<T>> = routes
            .into_iter()
            .map(|(pattern, value)| Entry {
                specificity: pattern.specificity(),
                pattern,
                value,
            })
            .collect();
        // Stable: equal specificities keep their insertion order.
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.specificity));
        Self { entries }
    }

    /// The best route for a request, if any matches. `path` is the raw request path.
    pub fn lookup(
        &self,
        host: Option<&str>,
        method: &str,
        path: &str,
    ) -> Option<RouteMatch<'_, T>> {
        let request = Request::new(host, method, path)?;
        // A HEAD request matched through GET, kept while an equally specific route may list HEAD.
        let mut head_as_get: Option<(Specificity, RouteMatch<'_, T>)> = None;
        for entry in &self.entries {
            if let Some((specificity, _)) = &head_as_get
                && *specificity != entry.specificity
            {
                break;
            }
            match entry.pattern.match_request(&request) {
                Some((params, MethodMatch::Direct)) => return Some(entry.found(params)),
                Some((params, MethodMatch::HeadAsGet)) if head_as_get.is_none() => {
                    head_as_get = Some((entry.specificity, entry.found(params)));
                }
                _ => {}
            }
        }
        head_as_get.map(|(_, found)| found)
    }
}

impl<T> Entry<T> {
    fn found(&self, params: Vec<(String, String)>) -> RouteMatch<'_, T> {
        RouteMatch {
            value: &self.value,
            params,
            pattern: &self.pattern,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn methods(list: &str) -> Vec<String> {
        list.split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn pattern(host: Option<&str>, path: &str, list: &str) -> RoutePattern {
        RoutePattern::parse(host, path, &methods(list)).unwrap()
    }

    /// `expected` is the pattern's `Display` form on success, the error message on failure.
    fn check(host: Option<&str>, path: &str, list: &str, expected: Result<&str, &str>) {
        let actual = RoutePattern::parse(host, path, &methods(list))
            .map(|p| p.to_string())
            .map_err(|e| e.to_string());
        let actual = actual.as_deref().map_err(String::as_str);
        assert_eq!(actual, expected, "{host:?} {path:?} {list:?}");
    }

    #[test]
    fn parse_valid() {
        check(None, "/", "", Ok("/"));
        check(None, "/a/", "", Ok("/a"));
        check(None, "/users/:id", "GET", Ok("GET /users/:id"));
        check(None, "/static/...", "", Ok("/static/..."));
        check(None, "/static/.../", "", Ok("/static/..."));
        check(None, "/...", "", Ok("/..."));
        check(None, "/:_a1/:B", "", Ok("/:_a1/:B"));
        check(None, "/a%7eb%2f%41", "", Ok("/a~b%2FA"));
        check(
            None,
            "/a:b/@!$&'()*+,;=-._~",
            "",
            Ok("/a:b/@!$&'()*+,;=-._~"),
        );
        check(None, "/a...", "", Ok("/a..."));
        check(Some("API.Example.com"), "/", "", Ok("api.example.com/"));
        check(Some("*.example.com"), "/", "", Ok("*.example.com/"));
        check(Some("*.com"), "/", "", Ok("*.com/"));
        check(Some("10.0.0.1"), "/", "", Ok("10.0.0.1/"));
        check(None, "/", "POST,GET,POST", Ok("GET,POST /"));
        let max_segments = "/a".repeat(MAX_SEGMENTS);
        check(None, &max_segments, "", Ok(max_segments.as_str()));
    }

    #[test]
    fn parse_invalid() {
        let path = |position: usize, reason: &str| {
            format!("invalid path pattern at position {position}: {reason}")
        };
        let cases: &[(&str, String)] = &[
            ("", path(0, "path pattern must start with '/'")),
            ("a/b", path(0, "path pattern must start with '/'")),
            ("//", path(1, "empty segment ('//')")),
            ("/a//b", path(3, "empty segment ('//')")),
            ("/a/./b", path(3, "'.' and '..' segments are not allowed")),
            ("/a/..", path(3, "'.' and '..' segments are not allowed")),
            ("/%2e%2E", path(1, "'.' and '..' segments are not allowed")),
            (
                "/a b",
                path(
                    2,
                    "character not allowed in a path literal (percent-encode it)",
                ),
            ),
            (
                "/a?b",
                path(
                    2,
                    "character not allowed in a path literal (percent-encode it)",
                ),
            ),
            (
                "/é",
                path(
                    1,
                    "character not allowed in a path literal (percent-encode it)",
                ),
            ),
            ("/a%2", path(2, "'%' must be followed by two hex digits")),
            ("/a%zz", path(2, "'%' must be followed by two hex digits")),
            (
                "/:",
                path(2, "parameter names must match [A-Za-z_][A-Za-z0-9_]*"),
            ),
            (
                "/x/:1a",
                path(4, "parameter names must match [A-Za-z_][A-Za-z0-9_]*"),
            ),
            (
                "/:a-b",
                path(2, "parameter names must match [A-Za-z_][A-Za-z0-9_]*"),
            ),
            ("/.../a", path(5, "'...' must be the last segment")),
            (
                "/:id/:id",
                "parameter name \"id\" is used more than once".into(),
            ),
            (
                "/:rest/...",
                "parameter name \"rest\" is used more than once".into(),
            ),
        ];
        for (input, message) in cases {
            check(None, input, "", Err(message));
        }
        let too_many = "/a".repeat(MAX_SEGMENTS + 1);
        check(
            None,
            &too_many,
            "",
            Err(&path(65, "path pattern must have at most 32 segments")),
        );
        let too_long = format!("/{}", "a".repeat(MAX_PATH_LEN));
        check(
            None,
            &too_long,
            "",
            Err(&path(2048, "path pattern must be at most 2048 bytes")),
        );

        let host = |host: &str, reason: &str| format!("invalid host pattern {host:?}: {reason}");
        let hosts = [
            ("", "host must not be empty"),
            ("*.", "host must not be empty"),
            (
                "*",
                "'*' is only allowed as the whole first label, as in \"*.example.com\"",
            ),
            (
                "a.*.com",
                "'*' is only allowed as the whole first label, as in \"*.example.com\"",
            ),
            (
                "*a.com",
                "'*' is only allowed as the whole first label, as in \"*.example.com\"",
            ),
            ("a.com:80", "host pattern must not include a port"),
            (
                "a..com",
                "host must not contain empty labels or end with '.'",
            ),
            (
                "a.com.",
                "host must not contain empty labels or end with '.'",
            ),
            (
                "a_b.com",
                "host may contain only letters, digits, '-' and '.'",
            ),
            ("[::1]", "IP-literal hosts in brackets are not supported"),
            (
                "-a.com",
                "host labels must begin and end with a letter or digit",
            ),
        ];
        for (input, reason) in hosts {
            check(Some(input), "/", "", Err(&host(input, reason)));
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(RoutePattern::parse(Some(&long_label), "/", &[]).is_err());
        let long_host = format!("{}a", "a.".repeat(MAX_HOST_LEN / 2 + 1));
        assert!(RoutePattern::parse(Some(&long_host), "/", &[]).is_err());

        let method = |m: &str| {
            format!(
                "unsupported HTTP method {m:?}: expected one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
            )
        };
        check(None, "/", "get", Err(&method("get")));
        check(None, "/", "GET,TRACE", Err(&method("TRACE")));
        assert!(RoutePattern::parse(None, "/", &[String::new()]).is_err());
    }

    #[test]
    fn accessors() {
        let p = pattern(Some("*.Example.com"), "/a/:b/", "PUT,GET");
        assert_eq!(p.host(), Some("*.example.com"));
        assert_eq!(p.path(), "/a/:b");
        assert_eq!(p.methods(), ["GET", "PUT"]);
        assert_eq!(pattern(None, "/", "").host(), None);
    }

    /// `None` for no match, else the captured parameters.
    type Expected<'a> = Option<&'a [(&'a str, &'a str)]>;

    /// `expected`: `None` for no match, else the captured parameters.
    fn check_match(
        route: (Option<&str>, &str, &str),
        request: (Option<&str>, &str, &str),
        expected: Expected<'_>,
    ) {
        let (host, path, list) = route;
        let actual = pattern(host, path, list).matches(request.0, request.1, request.2);
        let expected: Option<Vec<(String, String)>> = expected.map(|params| {
            params
                .iter()
                .map(|&(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        });
        assert_eq!(actual, expected, "route {route:?} request {request:?}");
    }

    #[test]
    fn path_matching() {
        let any = (None, "GET");
        let cases: &[(&str, &str, Expected<'static>)] = &[
            ("/", "/", Some(&[])),
            ("/", "/?q=1", Some(&[])),
            ("/", "", None),
            ("/", "*", None),
            ("/", "/a", None),
            ("/a", "/a", Some(&[])),
            ("/a", "/a/", Some(&[])),
            ("/a/", "/a", Some(&[])),
            ("/a", "/a//", None),
            ("/", "//", None),
            ("/a", "/A", None),
            ("/a", "/a/b", None),
            ("/a", "/%61", Some(&[])),
            ("/a", "/a?x=/y", Some(&[])),
            ("/a%20b", "/a%20b", Some(&[])),
            ("/a%20b", "/a b", Some(&[])),
            ("/a!", "/a%21", Some(&[])),
            ("/users/:id", "/users/42", Some(&[("id", "42")])),
            ("/users/:id", "/users/a%20b", Some(&[("id", "a b")])),
            ("/users/:id", "/users/a%2Fb", Some(&[("id", "a/b")])),
            ("/users/:id", "/users/caf%C3%A9", Some(&[("id", "café")])),
            ("/users/:id", "/users/%FF", None),
            ("/users/:id", "/users/%zz", None),
            ("/users/:id", "/users/%4", None),
            ("/users/:id", "/users/", None),
            ("/users/:id", "/users", None),
            ("/users/:id", "/users/..", None),
            ("/users/:id", "/users/%2e", None),
            ("/users/:id", "/users/1/x", None),
            ("/:a/:b", "/x/y", Some(&[("a", "x"), ("b", "y")])),
            ("/static/...", "/static", Some(&[("rest", "")])),
            ("/static/...", "/static/", Some(&[("rest", "")])),
            ("/static/...", "/static/a", Some(&[("rest", "a")])),
            ("/static/...", "/static/a/b/", Some(&[("rest", "a/b")])),
            (
                "/static/...",
                "/static/a%20b/c?x",
                Some(&[("rest", "a b/c")]),
            ),
            ("/static/...", "/static/a/../b", None),
            ("/static/...", "/static/a/%zz", None),
            ("/static/...", "/staticx", None),
            ("/static/...", "/", None),
            ("/...", "/", Some(&[("rest", "")])),
            ("/...", "/x/y", Some(&[("rest", "x/y")])),
            (
                "/f/:name/...",
                "/f/n/a/b",
                Some(&[("name", "n"), ("rest", "a/b")]),
            ),
        ];
        for &(route, request, expected) in cases {
            check_match((any.0, route, ""), (any.0, any.1, request), expected);
        }
    }

    #[test]
    fn host_and_method_matching() {
        let ok: Expected<'static> = Some(&[]);
        let hosts = [
            (None, None, ok),
            (None, Some("anything"), ok),
            (Some("api.example.com"), Some("api.example.com"), ok),
            (Some("api.example.com"), Some("API.Example.COM"), ok),
            (Some("api.example.com"), Some("api.example.com:8080"), ok),
            (Some("api.example.com"), Some("api.example.com."), ok),
            (Some("api.example.com"), Some("x.api.example.com"), None),
            (Some("api.example.com"), None, None),
            (Some("*.example.com"), Some("a.example.com"), ok),
            (Some("*.example.com"), Some("a.b.example.com:443"), ok),
            (Some("*.example.com"), Some("A.EXAMPLE.com"), ok),
            (Some("*.example.com"), Some("example.com"), None),
            (Some("*.example.com"), Some(".example.com"), None),
            (Some("*.example.com"), Some("a..example.com"), None),
            (Some("*.example.com"), Some("aexample.com"), None),
            (Some("*.example.com"), Some("a.example.org"), None),
            (Some("*.example.com"), Some("é.example.com"), ok),
            (Some("*.example.com"), Some("ééééééééééé"), None),
            (Some("*.example.com"), None, None),
            (Some("10.0.0.1"), Some("10.0.0.1:80"), ok),
            (Some("example.com"), Some("[::1]:80"), None),
        ];
        for (route_host, request_host, expected) in hosts {
            check_match((route_host, "/", ""), (request_host, "GET", "/"), expected);
        }
        let methods = [
            ("", "GET", ok),
            ("", "PROPFIND", ok),
            ("GET", "GET", ok),
            ("GET", "get", None),
            ("GET", "POST", None),
            ("GET", "HEAD", ok),
            ("HEAD", "GET", None),
            ("POST,PUT", "PUT", ok),
            ("POST", "HEAD", None),
        ];
        for (list, method, expected) in methods {
            check_match((None, "/", list), (None, method, "/"), expected);
        }
    }

    #[test]
    fn specificity_order() {
        // Each pattern is strictly more specific than the next.
        let ranked = [
            pattern(Some("a.example.com"), "/", ""),
            pattern(Some("*.a.example.com"), "/", ""),
            pattern(Some("*.example.com"), "/", ""),
            pattern(None, "/a/b", ""),
            pattern(None, "/a/b/...", ""),
            pattern(None, "/a/:x", ""),
            pattern(None, "/a/...", "GET"),
            pattern(None, "/a/...", ""),
            pattern(None, "/:x/:y", ""),
            pattern(None, "/:x", "GET"),
            pattern(None, "/:x", ""),
            pattern(None, "/...", ""),
        ];
        for pair in ranked.windows(2) {
            assert!(
                pair[0].specificity() > pair[1].specificity(),
                "{} > {}",
                pair[0],
                pair[1]
            );
        }
        assert_eq!(
            pattern(None, "/:a/b", "").specificity(),
            pattern(None, "/a/:b", "").specificity()
        );
    }

    #[test]
    fn conflicts() {
        let cases = [
            ((None, "/u/:id", ""), (None, "/u/:name/", ""), true),
            (
                (None, "/u/:id", "GET"),
                (None, "/u/:name", "GET,POST"),
                true,
            ),
            ((None, "/u/:id", "GET"), (None, "/u/:id", ""), true),
            ((None, "/u/:id", "GET"), (None, "/u/:id", "POST"), false),
            ((None, "/u/:id", "GET"), (None, "/u/:id", "HEAD"), false),
            ((None, "/u/:id", ""), (None, "/u/id", ""), false),
            ((None, "/u/:id", ""), (None, "/u/...", ""), false),
            ((None, "/u/...", ""), (None, "/u/.../", ""), true),
            ((None, "/a~", ""), (None, "/a%7E", ""), true),
            ((None, "/a!", ""), (None, "/a%21", ""), true),
            ((Some("A.com"), "/", ""), (Some("a.com"), "/", ""), true),
            ((Some("a.com"), "/", ""), (None, "/", ""), false),
            (
                (Some("*.a.com"), "/", ""),
                (Some("b.a.com"), "/", ""),
                false,
            ),
        ];
        for (a, b, expected) in cases {
            let (a, b) = (pattern(a.0, a.1, a.2), pattern(b.0, b.1, b.2));
            assert_eq!(a.conflicts_with(&b), expected, "{a} vs {b}");
            assert_eq!(b.conflicts_with(&a), expected, "{b} vs {a}");
        }
    }

    #[test]
    fn table_lookup() {
        let table = RouteTable::new(vec![
            (pattern(None, "/...", ""), "fallback"),
            (pattern(None, "/users/:id", ""), "user"),
            (pattern(None, "/users/me", ""), "me"),
            (pattern(None, "/static/...", "GET"), "static"),
            (
                pattern(Some("*.example.com"), "/users/:id", ""),
                "wild user",
            ),
            (pattern(Some("api.example.com"), "/...", ""), "api"),
            (pattern(None, "/:a/b", ""), "first tie"),
            (pattern(None, "/a/:b", ""), "second tie"),
            (pattern(None, "/h", "GET"), "get h"),
            (pattern(None, "/h", "HEAD"), "head h"),
        ]);
        let cases = [
            (None, "GET", "/users/42", Some(("user", vec![("id", "42")]))),
            (None, "GET", "/users/me", Some(("me", vec![]))),
            (None, "GET", "/users/me/", Some(("me", vec![]))),
            (
                None,
                "GET",
                "/nope",
                Some(("fallback", vec![("rest", "nope")])),
            ),
            (
                None,
                "HEAD",
                "/static/x",
                Some(("static", vec![("rest", "x")])),
            ),
            (
                None,
                "POST",
                "/static/x",
                Some(("fallback", vec![("rest", "static/x")])),
            ),
            (
                Some("x.example.com"),
                "GET",
                "/users/1",
                Some(("wild user", vec![("id", "1")])),
            ),
            (
                Some("api.example.com"),
                "GET",
                "/users/1",
                Some(("api", vec![("rest", "users/1")])),
            ),
            (None, "GET", "/a/b", Some(("first tie", vec![("a", "a")]))),
            (None, "HEAD", "/h", Some(("head h", vec![]))),
            (None, "GET", "/h", Some(("get h", vec![]))),
            (None, "GET", "relative", None),
            (None, "GET", "/%zz", None),
        ];
        for (host, method, path, expected) in cases {
            let found = table.lookup(host, method, path);
            let actual = found.as_ref().map(|m| {
                let params: Vec<(&str, &str)> = m
                    .params
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                (*m.value, params)
            });
            assert_eq!(actual, expected, "{host:?} {method} {path}");
        }
        let found = table.lookup(None, "GET", "/users/7").unwrap();
        assert_eq!(found.param("id"), Some("7"));
        assert_eq!(found.param("nope"), None);
        assert_eq!(found.pattern.path(), "/users/:id");
        assert!(
            RouteTable::<()>::new(Vec::new())
                .lookup(None, "GET", "/")
                .is_none()
        );
    }

    const HOSTS: &[Option<&str>] = &[
        None,
        Some("api.example.com"),
        Some("*.example.com"),
        Some("*.a.example.com"),
    ];
    const PATHS: &[&str] = &[
        "/", "/a", "/a/b", "/a/:x", "/:x", "/:x/b", "/a/...", "/...", "/a/b/...", "/:x/:y",
    ];
    const METHOD_LISTS: &[&str] = &["", "GET", "POST", "GET,POST", "HEAD"];

    fn route() -> impl Strategy<Value = RoutePattern> {
        (
            proptest::sample::select(HOSTS),
            proptest::sample::select(PATHS),
            proptest::sample::select(METHOD_LISTS),
        )
            .prop_map(|(host, path, list)| pattern(host, path, list))
    }

    /// Routes with pairwise distinct specificities, in two insertion orders.
    fn distinct_routes() -> impl Strategy<Value = (Vec<RoutePattern>, Vec<RoutePattern>)> {
        proptest::collection::vec(route(), 1..10).prop_flat_map(|routes| {
            let mut distinct: Vec<RoutePattern> = Vec::new();
            for route in routes {
                if distinct
                    .iter()
                    .all(|r| r.specificity() != route.specificity())
                {
                    distinct.push(route);
                }
            }
            (Just(distinct.clone()), Just(distinct).prop_shuffle())
        })
    }

    proptest! {
        #[test]
        fn lookup_ignores_insertion_order(
            (routes, shuffled) in distinct_routes(),
            host in proptest::sample::select(&[None, Some("api.example.com:80"), Some("x.example.com"), Some("x.a.example.com"), Some("other.org")][..]),
            method in proptest::sample::select(&["GET", "POST", "HEAD", "PUT"][..]),
            path in proptest::sample::select(&["/", "/a", "/a/b", "/z", "/z/b", "/a/b/c", "/a/", "/q/r/s"][..]),
        ) {
            let table = |routes: &[RoutePattern]| {
                RouteTable::new(routes.iter().map(|r| (r.clone(), r.to_string())).collect())
            };
            let (first, second) = (table(&routes), table(&shuffled));
            let pick = |t: &RouteTable<String>| t.lookup(host, method, path).map(|m| m.value.clone());
            let expected = routes
                .iter()
                .filter(|r| r.matches(host, method, path).is_some())
                .max_by_key(|r| r.specificity())
                .map(ToString::to_string);
            prop_assert_eq!(pick(&first), expected.clone());
            prop_assert_eq!(pick(&second), expected);
        }

        #[test]
        fn parse_never_panics(
            host in proptest::option::of(any::<String>()),
            path in any::<String>(),
            list in proptest::collection::vec(any::<String>(), 0..3),
        ) {
            let _ = RoutePattern::parse(host.as_deref(), &path, &list);
        }

        #[test]
        fn parse_and_match_never_panic_on_pattern_like_input(
            host in proptest::option::of("[*.a-cé:-]{0,12}"),
            path in "[/:a-c.%2Fé?_ ]{0,24}",
            request_host in proptest::option::of("[*.a-cé:\\[\\]-]{0,12}"),
            request_path in "[/:a-c.%2Fé?_ ]{0,24}",
        ) {
            if let Ok(route) = RoutePattern::parse(host.as_deref(), &path, &[]) {
                let reparsed = RoutePattern::parse(route.host(), route.path(), route.methods());
                prop_assert_eq!(reparsed.as_ref(), Ok(&route));
                let _ = route.matches(request_host.as_deref(), "GET", &request_path);
            }
        }
    }
}
