//! Examples for EdgeSync. See `examples/README.md`.
