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

    /// True when nothing was ever counted or everything was cleared.
    pub(crate) fn is_clear(&self) -> bool {
        self.counts == [0; 8]
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

    /// Forgets all debt: the next request at `now_ms` starts a fresh burst.
    pub(crate) fn reset(&mut self, now_ms: u64) {
        self.tat = now_ms as u32;
    }
}

/// Largest distinct count a [`DistinctSet`] can reach (thresholds above it are refused).
pub(crate) const DISTINCT_MAX: u32 = 16;

/// Counts distinct names (or addresses) over a long window, exactly, in 38 bytes.
///
/// Keeps up to 16 fifteen-bit fingerprints of keyed hashes, each tagged with the generation
/// (half window) it was last seen in; the count covers the current and previous generation.
/// Two different names share a fingerprint with probability 1/32768 per pair, and attackers
/// cannot aim for that because the hash is keyed. Once 16 names are held the count saturates,
/// which is fine because every threshold is at most 16.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DistinctSet {
    generation_start: u32,
    generation: u8,
    len: u8,
    entries: [u16; DISTINCT_MAX as usize],
}

impl DistinctSet {
    fn rotate(&mut self, now_s: u32, window_s: u32) {
        let half = (window_s / 2).max(1);
        let age = now_s.saturating_sub(self.generation_start);
        if age >= window_s {
            self.len = 0;
            self.generation_start = now_s;
        } else if age >= half {
            // The old previous generation leaves; the old current one becomes previous.
            self.generation = self.generation.wrapping_add(1);
            let leaving = u16::from(self.generation & 1) << 15;
            let mut kept = 0;
            for i in 0..usize::from(self.len) {
                if self.entries[i] & 0x8000 != leaving {
                    self.entries[kept] = self.entries[i];
                    kept += 1;
                }
            }
            self.len = kept as u8;
            self.generation_start = now_s;
        }
    }

    fn fingerprint(hash: u64) -> u16 {
        (hash >> 49) as u16 & 0x7fff
    }

    fn position(&self, fp: u16) -> Option<usize> {
        self.entries[..usize::from(self.len)]
            .iter()
            .position(|e| e & 0x7fff == fp)
    }

    /// True when the name with this hash was counted in the window.
    pub(crate) fn contains(&mut self, hash: u64, now_s: u32, window_s: u32) -> bool {
        self.rotate(now_s, window_s);
        self.position(Self::fingerprint(hash)).is_some()
    }

    /// Records a name and returns the distinct count in the window.
    pub(crate) fn add(&mut self, hash: u64, now_s: u32, window_s: u32) -> u32 {
        self.rotate(now_s, window_s);
        let fp = Self::fingerprint(hash);
        let tagged = fp | (u16::from(self.generation & 1) << 15);
        match self.position(fp) {
            // Seen again: it now belongs to the current generation.
            Some(at) => self.entries[at] = tagged,
            None if usize::from(self.len) < self.entries.len() => {
                self.entries[usize::from(self.len)] = tagged;
                self.len += 1;
            }
            None => {}
        }
        u32::from(self.len)
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
    fn a_distinct_set_counts_each_name_once_and_forgets_after_the_window() {
        let mut s = DistinctSet::default();
        let h = super::super::hash::KeyedHasher::new([0, 0]);
        for _ in 0..3 {
            s.add(h.hash_bytes(b"a"), 100, 3600);
        }
        assert_eq!(s.add(h.hash_bytes(b"b"), 100, 3600), 2);
        assert_eq!(s.add(h.hash_bytes(b"c"), 100 + 3600, 3600), 1);
    }

    #[test]
    fn a_distinct_set_slides_by_half_windows() {
        let h = super::super::hash::KeyedHasher::new([0, 0]);
        let mut s = DistinctSet::default();
        s.add(h.hash_bytes(b"a"), 0, 100);
        s.add(h.hash_bytes(b"b"), 60, 100); // new generation; "a" is previous
        assert_eq!(s.add(h.hash_bytes(b"c"), 70, 100), 3);
        // Next generation: "a" leaves, "b" and "c" stay.
        assert_eq!(s.add(h.hash_bytes(b"d"), 130, 100), 3);
        // Re-seeing "b" keeps it alive through the next rotation.
        s.add(h.hash_bytes(b"b"), 140, 100);
        assert_eq!(s.add(h.hash_bytes(b"e"), 195, 100), 3); // b, d, e
    }

    #[test]
    fn a_distinct_set_saturates_at_sixteen() {
        let h = super::super::hash::KeyedHasher::new([0, 0]);
        let mut s = DistinctSet::default();
        let n = (0..40u32)
            .map(|i| s.add(h.hash_bytes(&i.to_le_bytes()), 0, 100))
            .last();
        assert_eq!(n, Some(16));
    }
}
