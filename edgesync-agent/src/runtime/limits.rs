//! The per-call resource limiter: memory growth beyond the function's `memory_pages` traps.

use wasmtime::ResourceLimiter;

/// Bytes in a WebAssembly page.
pub(crate) const PAGE_BYTES: usize = 64 * 1024;

/// Most table elements a call may have.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Limits one call's store; remembers whether the memory limit was hit.
#[derive(Debug)]
pub(crate) struct CallLimiter {
    max_memory_bytes: usize,
    /// Set when the module tried to grow beyond the limit.
    pub(crate) memory_limit_hit: bool,
}

impl CallLimiter {
    /// A limiter allowing `memory_pages` pages.
    pub(crate) fn new(memory_pages: u32) -> Self {
        Self {
            max_memory_bytes: (memory_pages as usize).saturating_mul(PAGE_BYTES),
            memory_limit_hit: false,
        }
    }
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            self.memory_limit_hit = true;
            return Err(wasmtime::format_err!(
                "memory limit exceeded: {desired} bytes requested, {} allowed",
                self.max_memory_bytes
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    // One module instance with one memory per call: the memory limit is the call's total.
    fn instances(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        4
    }
}
