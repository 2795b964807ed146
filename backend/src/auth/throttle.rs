//! Sign-in throttling per source address and per username.
//!
//! After a few free failures each further failure doubles the wait before the next attempt
//! is even checked; past a limit the key is locked out for a window. A success clears the
//! username's record (not the address's: one office may host an attacker and an admin).
//! Attempts during a wait are refused without checking the password, so a guesser gains
//! nothing by hammering. State is in memory and bounded: under a flood of distinct keys the
//! oldest records are dropped first.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Failures allowed before any delay.
const FREE_FAILURES: u32 = 3;
/// Failures after which the key is locked for [`LOCKOUT`].
const LOCKOUT_AFTER: u32 = 10;
const LOCKOUT: Duration = Duration::from_secs(15 * 60);
const MAX_DELAY: Duration = Duration::from_secs(5 * 60);
/// A record with no failure for this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Bound on remembered keys per map.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
    blocked_until: Instant,
}

/// Failure records for one kind of key.
#[derive(Debug, Default)]
pub struct Throttle {
    records: HashMap<String, Record>,
}

impl Throttle {
    /// If `key` must wait, how long.
    pub fn wait(&mut self, key: &str, now: Instant) -> Option<Duration> {
        let record = self.records.get(key)?;
        if now.duration_since(record.last_failure) > FORGET_AFTER && now >= record.blocked_until {
            self.records.remove(key);
            return None;
        }
        (record.blocked_until > now).then(|| record.blocked_until - now)
    }

    /// Whether `key` has failures on record.
    #[must_use]
    pub fn knows(&self, key: &str) -> bool {
        self.records.contains_key(key)
    }

    /// Records a failure for `key`.
    pub fn fail(&mut self, key: &str, now: Instant) {
        if self.records.len() >= MAX_KEYS && !self.records.contains_key(key) {
            self.evict_oldest();
        }
        let record = self.records.entry(key.to_owned()).or_insert(Record {
            failures: 0,
            last_failure: now,
            blocked_until: now,
        });
        record.failures = record.failures.saturating_add(1);
        record.last_failure = now;
        record.blocked_until = now + delay_after(record.failures);
    }

    /// Forgets `key` (after a success).
    pub fn clear(&mut self, key: &str) {
        self.records.remove(key);
    }

    /// Number of keys remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn evict_oldest(&mut self) {
        // Drop the oldest tenth at once so eviction cost is amortised.
        let mut ages: Vec<(Instant, String)> = self
            .records
            .iter()
            .map(|(k, r)| (r.last_failure, k.clone()))
            .collect();
        ages.sort();
        for (_, key) in ages.into_iter().take(MAX_KEYS / 10) {
            self.records.remove(&key);
        }
    }
}

/// The wait after the `failures`-th consecutive failure.
#[must_use]
pub fn delay_after(failures: u32) -> Duration {
    if failures >= LOCKOUT_AFTER {
        LOCKOUT
    } else if failures <= FREE_FAILURES {
        Duration::ZERO
    } else {
        // 1 s, 2 s, 4 s, ... capped.
        Duration::from_secs(1u64 << (failures - FREE_FAILURES - 1).min(16)).min(MAX_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_grows_then_locks_out() {
        assert_eq!(delay_after(1), Duration::ZERO);
        assert_eq!(delay_after(3), Duration::ZERO);
        assert_eq!(delay_after(4), Duration::from_secs(1));
        assert_eq!(delay_after(5), Duration::from_secs(2));
        assert_eq!(delay_after(9), Duration::from_secs(32));
        assert_eq!(delay_after(10), LOCKOUT);
    }

    #[test]
    fn a_key_waits_after_repeated_failures_and_is_freed_by_time() {
        let mut t = Throttle::default();
        let start = Instant::now();
        for _ in 0..4 {
            assert_eq!(t.wait("ann", start), None);
            t.fail("ann", start);
        }
        assert_eq!(t.wait("ann", start), Some(Duration::from_secs(1)));
        assert_eq!(t.wait("ann", start + Duration::from_secs(2)), None);
        assert_eq!(t.wait("bob", start), None, "other keys are unaffected");
    }

    #[test]
    fn memory_stays_bounded_under_many_keys() {
        let mut t = Throttle::default();
        let now = Instant::now();
        for i in 0..(MAX_KEYS + 5_000) {
            t.fail(&format!("203.0.113.{i}"), now);
        }
        assert!(t.len() <= MAX_KEYS);
    }
}
