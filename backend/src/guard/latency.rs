//! How long the guard's bans take: histograms of the time from the deciding packet's capture
//! to the kernel's acknowledgement and to the end of the ban's recording.

use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::sync::lock;

/// Raw samples kept for the percentiles on the guard's status.
const SAMPLES: usize = 4_096;

/// Upper bounds of the latency histograms, in seconds.
pub const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A cumulative latency histogram (Prometheus style) plus the newest raw samples.
#[derive(Debug, Default)]
pub struct Histogram {
    inner: std::sync::Mutex<HistogramInner>,
}

#[derive(Debug, Default)]
struct HistogramInner {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_secs: f64,
    recent: VecDeque<Duration>,
}

/// The figures of one histogram.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramSnapshot {
    pub buckets: [u64; BUCKETS.len()],
    pub count: u64,
    pub sum_secs: f64,
    /// Percentiles of the newest samples: p50, p99 and the maximum.
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    pub max: Option<Duration>,
}

impl Histogram {
    /// Counts one measurement.
    pub fn observe(&self, d: Duration) {
        let mut h = lock(&self.inner);
        let secs = d.as_secs_f64();
        for (bucket, bound) in h.buckets.iter_mut().zip(BUCKETS) {
            if secs <= bound {
                *bucket += 1;
            }
        }
        h.count += 1;
        h.sum_secs += secs;
        if h.recent.len() == SAMPLES {
            h.recent.pop_front();
        }
        h.recent.push_back(d);
    }

    /// The figures now.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let h = lock(&self.inner);
        let mut sorted: Vec<Duration> = h.recent.iter().copied().collect();
        sorted.sort_unstable();
        let at = |q: f64| {
            (!sorted.is_empty()).then(|| {
                let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
                sorted[i]
            })
        };
        HistogramSnapshot {
            buckets: h.buckets,
            count: h.count,
            sum_secs: h.sum_secs,
            p50: at(0.5),
            p99: at(0.99),
            max: sorted.last().copied(),
        }
    }
}

/// How long bans take, from the capture time of the deciding packet.
#[derive(Debug, Default)]
pub struct BanLatency {
    /// ... to the kernel's acknowledgement of the transaction holding the ban.
    pub to_kernel: Histogram,
    /// ... to the end of its recording in the database.
    pub to_record: Histogram,
    /// Decisions the queue had no room for.
    pub dropped: AtomicU64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_counts_cumulatively_and_gives_percentiles_of_recent_samples() {
        let h = Histogram::default();
        for ms in 1..=100u64 {
            h.observe(Duration::from_millis(ms));
        }
        let s = h.snapshot();
        assert_eq!(s.count, 100);
        // le=0.002: 1 ms and 2 ms.
        assert_eq!(s.buckets[2], 2);
        assert_eq!(s.buckets[BUCKETS.len() - 1], 100);
        assert_eq!(s.p50, Some(Duration::from_millis(50)));
        assert_eq!(s.p99, Some(Duration::from_millis(99)));
        assert_eq!(s.max, Some(Duration::from_millis(100)));
        assert!((s.sum_secs - 5.05).abs() < 1e-9);
    }
}
