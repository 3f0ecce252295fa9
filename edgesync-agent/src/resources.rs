//! What the node reports about its resource use: resident memory and CPU of the agent process
//! (from `/proc/self`), and the bytes its data directory takes.

use std::path::Path;
use std::time::Instant;

use edgesync_client::wire::ResourceUsage;

use crate::fsutil::dir_size;

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux ABI).
const USER_HZ: f64 = 100.0;

/// Resident memory of this process in bytes (0 where `/proc` is missing).
pub(crate) fn rss_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// CPU seconds (user + system) this process used so far.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `state` is field 3 of the man page, index 0 here: utime is 14 → 11, stime 15 → 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// CPU use between two samples.
#[derive(Debug, Default)]
pub(crate) struct CpuSampler {
    last: Option<(Instant, f64)>,
}

impl CpuSampler {
    /// Percent of one core used since the previous sample (0 on the first).
    pub(crate) fn sample(&mut self) -> f64 {
        let Some(now_cpu) = cpu_seconds() else {
            return 0.0;
        };
        let now = Instant::now();
        let percent = match self.last {
            Some((at, cpu)) => {
                let wall = now.duration_since(at).as_secs_f64();
                if wall > 0.0 {
                    ((now_cpu - cpu) / wall * 100.0).max(0.0)
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        self.last = Some((now, now_cpu));
        percent
    }
}

/// The resource usage to report.
pub(crate) fn usage(cpu: &mut CpuSampler, data_dir: &Path) -> ResourceUsage {
    ResourceUsage {
        cpu_percent: cpu.sample(),
        memory_bytes: rss_bytes(),
        disk_bytes: dir_size(data_dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        if cfg!(target_os = "linux") {
            assert!(rss_bytes() > 0);
            assert!(cpu_seconds().is_some());
        }
        let mut cpu = CpuSampler::default();
        assert_eq!(cpu.sample(), 0.0);
        assert!(cpu.sample() >= 0.0);
    }
}
