//! The engine, its epoch ticker, compilation checks, and one call under limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use wasmtime::{Config, Engine, ExternType, Linker, Module, Store, Trap};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};

use super::limits::CallLimiter;
use super::outcome::CallOutcome;
use crate::error::{AgentError, Result};

/// Most stderr bytes kept per call.
const STDERR_CAP: usize = 16 * 1024;
/// Most characters of a trap message given to callers.
const MAX_TRAP_MESSAGE: usize = 200;
/// Native stack a call may use.
const MAX_WASM_STACK: usize = 1024 * 1024;

/// What one call's store holds.
pub(crate) struct CallState {
    wasi: WasiP1Ctx,
    limiter: CallLimiter,
}

/// The limits of one call (from the function's install action).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallLimits {
    /// The exported function to invoke.
    pub entrypoint: String,
    /// Memory limit in 64 KiB pages.
    pub memory_pages: u32,
    /// Time limit in milliseconds.
    pub max_execution_ms: u32,
    /// Most bytes the call may write to stdout.
    pub max_output_bytes: usize,
}

/// What a call receives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallInput {
    /// Arguments (`argv`, the first being the program name).
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Standard input.
    pub stdin: Bytes,
}

/// The WASM engine of an agent and the WASI preview 1 linker every call uses.
///
/// Dropping it stops the epoch ticker thread.
pub struct WasmRuntime {
    engine: Engine,
    linker: Linker<CallState>,
    tick: Duration,
    stop: Arc<AtomicBool>,
}

impl WasmRuntime {
    /// An engine with epoch interruption whose epoch advances every `tick` (1–5 ms is a good
    /// granularity for time limits), on a background thread.
    ///
    /// # Errors
    /// When wasmtime cannot be configured on this host.
    pub fn new(tick: Duration) -> Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.max_wasm_stack(MAX_WASM_STACK);
        let engine = Engine::new(&config).map_err(|e| AgentError::Wasm(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut CallState| &mut s.wasi)
            .map_err(|e| AgentError::Wasm(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker_engine = engine.clone();
        let ticker_stop = stop.clone();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !ticker_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    ticker_engine.increment_epoch();
                }
            })
            .map_err(|e| AgentError::Wasm(format!("could not start the epoch ticker: {e}")))?;
        Ok(Self {
            engine,
            linker,
            tick,
            stop,
        })
    }

    /// Compiles a module (blocking; use a blocking thread for large modules).
    ///
    /// # Errors
    /// A message when the bytes are not a valid module for this engine.
    pub fn compile(&self, wasm: &[u8]) -> std::result::Result<Module, String> {
        Module::new(&self.engine, wasm).map_err(|e| first_line(&e.to_string()))
    }

    /// Checks that a module can run as a function: `entrypoint` is an exported function
    /// without parameters or results, and every import is a WASI preview 1 function.
    ///
    /// # Errors
    /// `(error_code, message)`: `entrypoint_missing`, `entrypoint_signature`,
    /// `unsupported_import`.
    pub fn check(
        &self,
        module: &Module,
        entrypoint: &str,
    ) -> std::result::Result<(), (&'static str, String)> {
        match module.get_export(entrypoint) {
            Some(ExternType::Func(f)) if f.params().len() == 0 && f.results().len() == 0 => {}
            Some(ExternType::Func(_)) => {
                return Err((
                    "entrypoint_signature",
                    format!("export {entrypoint:?} must take no parameters and return nothing"),
                ));
            }
            _ => {
                return Err((
                    "entrypoint_missing",
                    format!("the module exports no function {entrypoint:?}"),
                ));
            }
        }
        self.linker
            .instantiate_pre(module)
            .map(drop)
            .map_err(|e| ("unsupported_import", first_line(&e.to_string())))
    }

    /// Ticks until a call of `ms` milliseconds is interrupted: rounded up, plus one tick
    /// because the first one may come at once.
    fn deadline_ticks(&self, ms: u32) -> u64 {
        let tick = self.tick.as_micros().max(1);
        let ticks = (u128::from(ms) * 1000).div_ceil(tick) + 1;
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }

    /// Runs one call of `module` under `limits` (blocking). Never panics on what the module
    /// does: traps, timeouts and limit hits are [`CallOutcome`]s.
    pub fn invoke(&self, module: &Module, limits: &CallLimits, input: CallInput) -> CallOutcome {
        let stdout = MemoryOutputPipe::new(limits.max_output_bytes);
        let stderr = MemoryOutputPipe::new(STDERR_CAP);
        // No preopened directories, no inherited environment or stdio, no sockets.
        let wasi = WasiCtxBuilder::new()
            .stdin(MemoryInputPipe::new(input.stdin))
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .args(&input.args)
            .envs(&input.env)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build_p1();
        let mut store = Store::new(
            &self.engine,
            CallState {
                wasi,
                limiter: CallLimiter::new(limits.memory_pages),
            },
        );
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(self.deadline_ticks(limits.max_execution_ms));
        store.epoch_deadline_trap();
        let result = self
            .linker
            .instantiate(&mut store, module)
            .and_then(|instance| {
                let entry = instance.get_typed_func::<(), ()>(&mut store, &limits.entrypoint)?;
                entry.call(&mut store, ())
            });
        let memory_limit_hit = store.data().limiter.memory_limit_hit;
        drop(store);
        let out = stdout.contents();
        let err = stderr.contents();
        let output_full = out.len() >= limits.max_output_bytes;
        match result {
            Ok(()) if output_full => CallOutcome::OutputTooLarge,
            Ok(()) => CallOutcome::Completed {
                stdout: out,
                stderr: err,
            },
            Err(_) if memory_limit_hit => CallOutcome::MemoryLimit,
            Err(e) if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => CallOutcome::TimedOut,
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(I32Exit(0)) if output_full => CallOutcome::OutputTooLarge,
                Some(I32Exit(0)) => CallOutcome::Completed {
                    stdout: out,
                    stderr: err,
                },
                Some(I32Exit(code)) => CallOutcome::Exited {
                    code: *code,
                    stderr: err,
                },
                None if output_full || e.to_string().contains("beyond capacity") => {
                    CallOutcome::OutputTooLarge
                }
                None => CallOutcome::Trapped {
                    message: trap_message(&e),
                    stderr: err,
                },
            },
        }
    }
}

impl Drop for WasmRuntime {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for WasmRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmRuntime")
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

/// A short, single-line description of a trap for the caller.
fn trap_message(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<Trap>() {
        Some(trap) => first_line(&trap.to_string()),
        None => first_line(&e.to_string()),
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    match line.char_indices().nth(MAX_TRAP_MESSAGE) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_owned(),
    }
}
