//! Fixed-size counting structures: the per-source state must stay a few dozen bytes, so no
//! detector keeps a list of timestamps.

/// Counts events in a sliding window, as eight ring buckets of one eighth of the window each.
///
/// The window is thus rounded to bucket boundaries: an event is forgotten between 7/8 and 8/8
/// of the window after it happened. Counts saturate at 255 per bucket (thresholds above
/// 8 × 255 are refused by the policy check).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BucketWindow {
    /// Bucket number (time / width) of the newest bucket.
    head: u32,
    counts: [u8; 8],
}

/// Upper bound of what a [`BucketWindow`] can count.
pub(crate) const WINDOW_MAX: u32 = 8 * 255;

impl BucketWindow {
    fn advance(&mut self, now_s: u32, window_s: u32) -> usize {
        let width = window_s.div_ceil(8).max(1);
        let bucket = now_s / width;
        if bucket > self.head {
            let gap = bucket - self.head;
            if gap >= 8 {
                self.counts = [0; 8];
            } else {
                for step in 1..=gap {
                    self.counts[((self.head + step) % 8) as usize] = 0;
                }
            }
            self.head = bucket;
        }
        // Time running backwards (reordered captures) counts into the newest bucket.
        (self.head % 8) as usize
    }

    /// Adds one event at `now_s` and returns the count in the window, this one included.
    pub(crate) fn add(&mut self, now_s: u32, window_s: u32) -> u32 {
        let slot = self.advance(now_s, window_s);
        self.counts[slot] = self.counts[slot].saturating_add(1);
        self.total(now_s, window_s)
    }

    /// The count in the window ending at `now_s`.
    pub(crate) fn total(&mut self, now_s: u32, window_s: u32) -> u32 {
        self.advance(now_s, window_s);
        self.counts.iter().map(|&c| u32::from(c)).sum()
    }
}

/// A rate limiter per the generic cell rate algorithm: one theoretical arrival time.
///
/// Stored as wrapping milliseconds in 32 bits; differences are read as signed, which is
/// right while the stored time is within ±24 days of now. The engine resets limiters of a
/// source idle for a day, so a stale value is never misread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Gcra {
    tat: u32,
}

impl Gcra {
    /// Admits one request at `now_ms` if at most `burst` requests are ahead of the sustained
    /// rate of one per `interval_ms`. Returns false when over the limit.
    pub(crate) fn admit(&mut self, now_ms: u64, interval_ms: u32, burst: u32) -> bool {
        let now = now_ms as u32;
        let tat = if (self.tat.wrapping_sub(now) as i32) < 0 {
            now
        } else {
            self.tat
        };
        let next = tat.wrapping_add(interval_ms);
        let ahead = next.wrapping_sub(now);
        if u64::from(ahead) > u64::from(interval_ms) * u64::from(burst.max(1)) {
            return false;
        }
        self.tat = next;
        true
    }

    pub(crate) fn reset(&mut self) {
        self.tat = 0;
    }
}

/// Estimates how many distinct names (or addresses) were seen in a long window, in 36 bytes.
///
/// Two generations of a 128-bit bitmap, each covering half the window; a name sets the bit
/// its keyed hash picks, and the count is the number of bits set in either generation. It is
/// exact unless two names share a bit, which only lowers the count slightly (about 4 % at ten
/// names) and cannot be steered by an attacker because the hash is keyed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DistinctSketch {
    generation_start: u32,
    current: [u64; 2],
    previous: [u64; 2],
}

impl DistinctSketch {
    fn rotate(&mut self, now_s: u32, window_s: u32) {
        let half = (window_s / 2).max(1);
        let age = now_s.saturating_sub(self.generation_start);
        if age >= window_s {
            self.current = [0; 2];
            self.previous = [0; 2];
            self.generation_start = now_s;
        } else if age >= half {
            self.previous = self.current;
            self.current = [0; 2];
            self.generation_start = now_s;
        }
    }

    /// True when the name with this hash was already counted.
    pub(crate) fn contains(&mut self, hash: u64, now_s: u32, window_s: u32) -> bool {
        self.rotate(now_s, window_s);
        let (word, bit) = Self::position(hash);
        (self.current[word] | self.previous[word]) & bit != 0
    }

    /// Records a name and returns the distinct count.
    pub(crate) fn add(&mut self, hash: u64, now_s: u32, window_s: u32) -> u32 {
        self.rotate(now_s, window_s);
        let (word, bit) = Self::position(hash);
        self.current[word] |= bit;
        self.count()
    }

    pub(crate) fn count(&self) -> u32 {
        (0..2)
            .map(|w| (self.current[w] | self.previous[w]).count_ones())
            .sum()
    }

    fn position(hash: u64) -> (usize, u64) {
        let bit = (hash >> 57) as u32; // 0..128, from the best-mixed top bits
        ((bit / 64) as usize, 1u64 << (bit % 64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_window_forgets_events_after_the_window() {
        let mut w = BucketWindow::default();
        assert_eq!(w.add(1000, 80), 1);
        assert_eq!(w.add(1010, 80), 2);
        assert_eq!(w.total(1079, 80), 2);
        assert_eq!(w.total(1100, 80), 0);
    }

    #[test]
    fn a_bucket_window_survives_time_going_backwards() {
        let mut w = BucketWindow::default();
        w.add(5000, 60);
        assert_eq!(w.add(10, 60), 2);
    }

    #[test]
    fn gcra_admits_the_burst_then_the_rate() {
        let mut g = Gcra::default();
        let admitted = (0..20).filter(|_| g.admit(1_000_000, 100, 10)).count();
        assert_eq!(admitted, 10);
        assert!(g.admit(1_000_100, 100, 10));
        assert!(!g.admit(1_000_100, 100, 10));
    }

    #[test]
    fn distinct_sketch_counts_each_name_once() {
        let mut s = DistinctSketch::default();
        let h = super::super::hash::KeyedHasher::new([0, 0]);
        for _ in 0..3 {
            s.add(h.hash_bytes(b"a"), 100, 3600);
        }
        assert_eq!(s.add(h.hash_bytes(b"b"), 100, 3600), 2);
        assert_eq!(s.add(h.hash_bytes(b"c"), 100 + 3600, 3600), 1);
    }
}
