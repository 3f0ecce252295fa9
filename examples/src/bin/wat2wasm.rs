//! Compiles a WebAssembly text file to a binary module.
//!
//! `cargo run -p edgesync-examples --bin wat2wasm -- examples/functions/hello.wat hello.wasm`

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        bail!("usage: wat2wasm INPUT.wat OUTPUT.wasm");
    };
    let binary = wat::parse_file(input).with_context(|| format!("could not compile {input}"))?;
    std::fs::write(output, &binary).with_context(|| format!("could not write {output}"))?;
    eprintln!("wrote {output} ({} bytes)", binary.len());
    Ok(())
}
