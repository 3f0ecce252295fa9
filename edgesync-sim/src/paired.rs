//! Ratios against a baseline measured alongside. A phase runs in slices that alternate with
//! slices of the baseline route (A B B A A B B A …), so that a machine whose speed drifts during
//! a run (shared cores, other tenants, a warming cache) moves both figures alike, and the ratio
//! compares the two over the same stretch of time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::phases::{self, Ctx};
use crate::stats::Stats;

/// Slices of each side: four of the phase and four of the baseline, in the order A B B A A B B A.
pub(crate) const SLICES: u32 = 4;

/// A phase and the baseline measured alongside it.
#[derive(Debug, Default)]
pub(crate) struct Paired {
    /// The phase, its slices merged.
    pub(crate) phase: Stats,
    /// The baseline route, its slices merged.
    pub(crate) baseline: Stats,
}

impl Paired {
    /// The phase's rate over the baseline's.
    pub(crate) fn ratio(&self) -> f64 {
        self.phase.rate() / self.baseline.rate().max(1e-9)
    }
}

/// Runs `phase(slice, from)` [`SLICES`] times for `duration / SLICES` each, interleaved with as
/// many slices of the baseline. `from` is the number of operations the earlier slices ran, so a
/// phase that walks the fleet (first plans, say) carries on where it stopped.
pub(crate) async fn paired<F, Fut>(
    ctx: &Arc<Ctx>,
    workers: usize,
    duration: Duration,
    mut phase: F,
) -> anyhow::Result<Paired>
where
    F: FnMut(Duration, u64) -> Fut,
    Fut: Future<Output = Stats>,
{
    let slice = duration / SLICES;
    let mut out = Paired::default();
    let mut from = 0;
    for round in 0..SLICES {
        let baseline_first = round % 2 == 0;
        if baseline_first {
            add(&mut out.baseline, phases::hello(ctx, workers, slice).await?);
        }
        let s = phase(slice, from).await;
        from += s.ok + s.errors;
        add(&mut out.phase, s);
        if !baseline_first {
            add(&mut out.baseline, phases::hello(ctx, workers, slice).await?);
        }
    }
    Ok(out)
}

fn add(total: &mut Stats, slice: Stats) {
    total.elapsed += slice.elapsed;
    total.merge(slice);
}
