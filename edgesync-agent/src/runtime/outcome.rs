//! How a call ended.

use bytes::Bytes;

/// The end of one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// The entrypoint returned (or the module called `proc_exit(0)`).
    Completed {
        /// What it wrote to stdout.
        stdout: Bytes,
        /// What it wrote to stderr (capped).
        stderr: Bytes,
    },
    /// The module called `proc_exit` with a non-zero code.
    Exited {
        /// The exit code.
        code: i32,
        /// What it wrote to stderr (capped).
        stderr: Bytes,
    },
    /// The time limit was reached.
    TimedOut,
    /// The module tried to use more memory than its limit.
    MemoryLimit,
    /// The module wrote more than the output limit.
    OutputTooLarge,
    /// The module trapped, or could not be instantiated.
    Trapped {
        /// A short description (first line of the trap).
        message: String,
        /// What it wrote to stderr (capped).
        stderr: Bytes,
    },
}

impl CallOutcome {
    /// A stable name for logs, metrics and the `X-EdgeSync-Error` header.
    pub fn kind(&self) -> &'static str {
        match self {
            CallOutcome::Completed { .. } => "completed",
            CallOutcome::Exited { .. } => "exit_status",
            CallOutcome::TimedOut => "timeout",
            CallOutcome::MemoryLimit => "memory_limit",
            CallOutcome::OutputTooLarge => "output_too_large",
            CallOutcome::Trapped { .. } => "trap",
        }
    }
}
