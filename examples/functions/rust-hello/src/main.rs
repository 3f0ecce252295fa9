//! A WAGI function: the request is in the environment (and the body on stdin); the response
//! is written to stdout as CGI headers, a blank line, and the body.

use std::io::{Read, Write};

fn main() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let mut body = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut body);

    let mut params: Vec<(String, String)> = std::env::vars()
        .filter_map(|(k, v)| Some((k.strip_prefix("X_PARAM_")?.to_lowercase(), v)))
        .collect();
    params.sort();

    let name = params
        .iter()
        .find(|(k, _)| k == "name")
        .map_or("world", |(_, v)| v.as_str());
    let mut out = String::new();
    out.push_str("Content-Type: text/plain; charset=utf-8\n\n");
    out.push_str(&format!("hello, {name}, from Rust on {}\n", var("X_NODE_NAME")));
    out.push_str(&format!(
        "{} {} (query {:?}, {} body bytes)\n",
        var("REQUEST_METHOD"),
        var("PATH_INFO"),
        var("QUERY_STRING"),
        body.len()
    ));
    for (k, v) in &params {
        out.push_str(&format!("param {k} = {v}\n"));
    }
    let _ = std::io::stdout().write_all(out.as_bytes());
}
