//! Group commit: concurrent committers share one `fsync`.
//!
//! sled writes a transaction to its in-memory log buffers and only makes them durable on a
//! flush (its own background flush runs every 500 ms). A commit must be durable before it is
//! acknowledged, and a flush per commit would cost one `fsync` each. Instead:
//!
//! 1. A committer announces itself ([`GroupCommit::begin`]), applies its transaction, then
//!    [`InFlight::register`]s: it takes a ticket, the number of commits registered so far,
//!    including its own.
//! 2. One flusher thread waits until some ticket is not yet covered, notes the highest ticket
//!    `T` issued so far, runs `Db::flush` (which writes and syncs everything sled has logged up
//!    to that moment, so every transaction that registered a ticket `<= T` before it), and
//!    publishes "durable through `T`" on a `watch` channel.
//! 3. The committer [`GroupCommit::wait`]s until the published value covers its ticket.
//!
//! Commits that arrive while a flush runs are all covered by the next one. sled's flush keeps
//! transactions out while it syncs, so before flushing the flusher also lets the commits that
//! have already begun finish their transactions, for at most [`GATHER`]: a lone commit is
//! flushed at once, a crowd shares one `fsync`. This only decides *when* to flush; correctness
//! rests on steps 1–3 alone.
//!
//! A failed flush is published too, and fails the commits it was meant to cover. sled recovers a
//! prefix of its log, so a durable commit also makes every commit before it durable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use edgesync_core::{Error, Result};
use tokio::sync::watch;

use crate::error::from_sled;

/// The longest a flush waits for commits that have begun to register.
const GATHER: Duration = Duration::from_millis(1);

/// The flusher: one thread per database.
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    flushed: watch::Receiver<Flushed>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    flushes: AtomicU64,
}

#[derive(Default)]
struct Queue {
    /// The last ticket handed out.
    issued: u64,
    /// Commits that have begun and not yet registered or given up.
    in_flight: usize,
    /// Set when the store is dropped: flush what is pending, then stop.
    shutdown: bool,
}

/// What the flusher has published.
#[derive(Clone, Debug, Default)]
struct Flushed {
    /// Every ticket up to this one is durable.
    durable: u64,
    /// The last failed flush: the ticket it was meant to cover, and why it failed.
    failed: Option<(u64, sled::Error)>,
}

impl Flushed {
    fn settles(&self, ticket: u64) -> bool {
        self.durable >= ticket || self.failed.as_ref().is_some_and(|(t, _)| *t >= ticket)
    }
}

impl GroupCommit {
    /// Starts the flusher thread of `db`.
    pub(crate) fn start(db: sled::Db) -> Result<Self> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            flushes: AtomicU64::new(0),
        });
        let (tx, flushed) = watch::channel(Flushed::default());
        let thread = std::thread::Builder::new()
            .name("edgesync-sled-flush".into())
            .spawn({
                let shared = shared.clone();
                move || run(&db, &shared, &tx)
            })
            .map_err(|e| Error::internal("could not start the flusher thread").with_source(e))?;
        Ok(Self {
            shared,
            flushed,
            thread: Some(thread),
        })
    }

    /// Announces a commit that is about to apply its transaction.
    pub(crate) fn begin(&self) -> InFlight<'_> {
        lock(&self.shared.queue).in_flight += 1;
        InFlight {
            shared: &self.shared,
            registered: false,
        }
    }

    /// Waits until the flush covering `ticket` has finished, and returns its outcome.
    pub(crate) async fn wait(&self, ticket: u64) -> Result<()> {
        let mut rx = self.flushed.clone();
        let flushed = rx
            .wait_for(|f| f.settles(ticket))
            .await
            .map_err(|e| Error::internal("the flusher thread stopped").with_source(e))?;
        if flushed.durable >= ticket {
            return Ok(());
        }
        match &flushed.failed {
            Some((_, e)) => Err(from_sled(e.clone())),
            None => Err(Error::internal("a flush settled without an outcome")),
        }
    }

    /// How many flushes have run so far.
    pub(crate) fn flush_count(&self) -> u64 {
        self.shared.flushes.load(Ordering::Relaxed)
    }
}

/// A commit between [`GroupCommit::begin`] and [`InFlight::register`]; dropping it instead (the
/// commit failed) withdraws it.
pub(crate) struct InFlight<'a> {
    shared: &'a Shared,
    registered: bool,
}

impl InFlight<'_> {
    /// Takes a ticket for a transaction that has been applied; wakes the flusher.
    pub(crate) fn register(mut self) -> u64 {
        self.registered = true;
        let mut queue = lock(&self.shared.queue);
        queue.in_flight -= 1;
        queue.issued += 1;
        self.shared.wake.notify_one();
        queue.issued
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.registered {
            lock(&self.shared.queue).in_flight -= 1;
            self.shared.wake.notify_one();
        }
    }
}

impl Drop for GroupCommit {
    /// Flushes what is pending and stops the thread (blocks for at most one flush).
    fn drop(&mut self) {
        lock(&self.shared.queue).shutdown = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the sled flusher thread panicked");
        }
    }
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("flushes", &self.flush_count())
            .finish_non_exhaustive()
    }
}

fn run(db: &sled::Db, shared: &Shared, tx: &watch::Sender<Flushed>) {
    let mut durable = 0;
    loop {
        let target = {
            let mut queue = lock(&shared.queue);
            while queue.issued == durable && !queue.shutdown {
                queue = shared
                    .wake
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if queue.issued == durable {
                return; // shut down with nothing pending
            }
            let deadline = Instant::now() + GATHER;
            while queue.in_flight > 0 && !queue.shutdown {
                let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                    break;
                };
                queue = shared
                    .wake
                    .wait_timeout(queue, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            queue.issued
        };
        // Every ticket <= target was registered after its transaction was applied, so this
        // flush writes and syncs it.
        let result = db.flush();
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        durable = target;
        match result {
            Ok(_) => tx.send_modify(|f| f.durable = target),
            Err(e) => {
                tracing::error!(error = %e, "flushing the sled store failed");
                tx.send_modify(|f| f.failed = Some((target, e)));
            }
        }
    }
}

fn lock(m: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    // The queue is two integers updated in one step each: a panic cannot leave it half-updated.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
