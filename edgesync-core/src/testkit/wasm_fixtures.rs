//! Small, real WebAssembly modules for tests, built from WAT.

/// A module exporting `_start` and a one-page memory that writes "hello" to stdout through WASI.
pub const HELLO_WAT: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "Content-Type: text/plain\n\nhello\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 32))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;

/// Compiles WAT to binary WebAssembly.
///
/// # Panics
/// When the WAT does not parse: fixtures are test code.
#[allow(clippy::expect_used)]
pub fn wasm(wat_source: &str) -> Vec<u8> {
    wat::parse_str(wat_source).expect("fixture WAT must parse")
}

/// The hello module as binary.
pub fn hello() -> Vec<u8> {
    wasm(HELLO_WAT)
}

/// A valid module that differs from the hello module by a custom constant, so tests can make
/// many distinct binaries.
pub fn numbered(n: u32) -> Vec<u8> {
    wasm(&format!(
        r#"(module (memory (export "memory") 1)
             (func (export "_start"))
             (func (export "id") (result i32) (i32.const {n})))"#
    ))
}
