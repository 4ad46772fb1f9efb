//! What the load generator measures: latencies, and the server process's
//! memory, CPU time and context switches read from `/proc`.

use std::fs;
use std::time::Duration;

/// Round-trip latencies in microseconds, kept whole: exact percentiles, and
/// a million samples are only 4 MB.
#[derive(Debug, Default)]
pub struct Latencies {
    micros: Vec<u32>,
}

impl Latencies {
    pub fn record(&mut self, latency: Duration) {
        self.micros
            .push(latency.as_micros().min(u32::MAX as u128) as u32);
    }

    pub fn merge(&mut self, other: &mut Latencies) {
        self.micros.append(&mut other.micros);
    }

    /// The `p`-th percentile (0..=100), nearest-rank, in microseconds.
    pub fn percentile(&mut self, p: f64) -> Option<u32> {
        if self.micros.is_empty() {
            return None;
        }
        self.micros.sort_unstable();
        let rank = ((p / 100.0) * self.micros.len() as f64).ceil() as usize;
        Some(self.micros[rank.clamp(1, self.micros.len()) - 1])
    }
}

/// One reading of a process's counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    /// Resident memory, KiB.
    pub rss_kib: u64,
    /// User + system CPU time, in clock ticks (USER_HZ, 100 per second on Linux).
    pub cpu_ticks: u64,
    /// Voluntary + involuntary context switches, summed over live threads.
    pub context_switches: u64,
}

/// Linux's USER_HZ: the unit of CPU times in `/proc/PID/stat`.
pub const TICKS_PER_SECOND: f64 = 100.0;

impl ProcSample {
    /// Reads `/proc/PID`. `None` if the process is gone or this is not Linux.
    pub fn read(pid: u32) -> Option<ProcSample> {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let rss_kib = field(&status, "VmRSS:")?;
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) may hold spaces: count from its ')'.
        let after_name = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line.
        let cpu_ticks =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        let mut context_switches = 0;
        for task in fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
            if let Ok(status) = fs::read_to_string(task.path().join("status")) {
                context_switches += field(&status, "voluntary_ctxt_switches:").unwrap_or(0)
                    + field(&status, "nonvoluntary_ctxt_switches:").unwrap_or(0);
            }
        }
        Some(ProcSample {
            rss_kib,
            cpu_ticks,
            context_switches,
        })
    }
}

fn field(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut latencies = Latencies::default();
        for micros in 1..=100 {
            latencies.record(Duration::from_micros(micros));
        }
        assert_eq!(latencies.percentile(50.0), Some(50));
        assert_eq!(latencies.percentile(99.0), Some(99));
        assert_eq!(latencies.percentile(100.0), Some(100));
        assert_eq!(Latencies::default().percentile(50.0), None);
    }

    #[test]
    fn reads_this_process() {
        let sample = ProcSample::read(std::process::id()).expect("/proc on Linux");
        assert!(sample.rss_kib > 0);
    }
}
