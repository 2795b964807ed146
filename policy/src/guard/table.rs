//! A capacity-bounded map from 128-bit keys to small fixed-size states.
//!
//! The guard must keep bounded memory under a flood from millions of (spoofed) sources, so
//! per-source state lives in a table that never grows past its capacity: when full, a new key
//! replaces the least recently seen of eight entries sampled at a moving clock hand (the
//! sampled-LRU scheme Redis uses), preferring entries that hold no evidence. Lookups are a keyed hash into an open-addressing index of
//! `u64` slots (linear probing, backward-shift deletion, load ≤ ½), pointing into a dense
//! arena of keys and values that is allocated once, at first use, up to the capacity.

use super::hash::KeyedHasher;

/// State stored in a [`BoundedTable`]: it must say when it was last touched.
pub(crate) trait Aged: Default {
    fn last_seen(&self) -> u32;

    /// Entries holding evidence (e.g. failed logins) rank above empty ones, so that a flood
    /// of spoofed one-packet sources evicts its own kind first and cannot wash out the
    /// counters of a real attacker who is guessing slowly.
    fn keeps_evidence(&self) -> bool {
        false
    }
}

const SAMPLE: usize = 8;

#[derive(Debug, Clone)]
pub(crate) struct BoundedTable<V> {
    /// 0 = empty; else `(hash as u32) << 32 | (arena index + 1)`.
    index: Vec<u64>,
    mask: usize,
    keys: Vec<u128>,
    values: Vec<V>,
    capacity: usize,
    hand: usize,
    hasher: KeyedHasher,
    evictions: u64,
}

impl<V: Aged> BoundedTable<V> {
    pub(crate) fn new(capacity: usize, hasher: KeyedHasher) -> Self {
        let capacity = capacity.clamp(1, u32::MAX as usize / 2);
        let slots = (capacity * 2).next_power_of_two();
        Self {
            index: Vec::new(),
            mask: slots - 1,
            keys: Vec::new(),
            values: Vec::new(),
            capacity,
            hand: 0,
            hasher,
            evictions: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn evictions(&self) -> u64 {
        self.evictions
    }

    fn home(&self, key: u128) -> (usize, u64) {
        let h = self.hasher.hash_u128(key);
        ((h as usize) & self.mask, h & 0xffff_ffff)
    }

    /// Index slot and arena position of `key`, if present.
    fn find(&self, key: u128) -> Option<(usize, usize)> {
        if self.index.is_empty() {
            return None;
        }
        let (mut slot, tag) = self.home(key);
        loop {
            let entry = self.index[slot];
            if entry == 0 {
                return None;
            }
            let at = (entry & 0xffff_ffff) as usize - 1;
            if entry >> 32 == tag && self.keys[at] == key {
                return Some((slot, at));
            }
            slot = (slot + 1) & self.mask;
        }
    }

    pub(crate) fn get(&self, key: u128) -> Option<&V> {
        self.find(key).map(|(_, at)| &self.values[at])
    }

    pub(crate) fn get_mut(&mut self, key: u128) -> Option<&mut V> {
        self.find(key).map(|(_, at)| &mut self.values[at])
    }

    /// The state for `key`, created (evicting if full) when absent.
    pub(crate) fn entry(&mut self, key: u128) -> &mut V {
        let at = self.position(key);
        &mut self.values[at]
    }

    /// The state at an arena position from [`BoundedTable::position`]; valid until the next
    /// insertion.
    pub(crate) fn at_mut(&mut self, at: usize) -> &mut V {
        &mut self.values[at]
    }

    /// The arena position of `key`, created (evicting if full) when absent.
    pub(crate) fn position(&mut self, key: u128) -> usize {
        if let Some((_, at)) = self.find(key) {
            return at;
        }
        if self.index.is_empty() {
            self.index = vec![0; self.mask + 1];
        }
        let at = if self.keys.len() < self.capacity {
            if self.keys.len() == self.keys.capacity() {
                // Grow by doubling but never past the capacity, so memory is exactly bounded.
                let want = (self.keys.len() * 2).max(16).min(self.capacity) - self.keys.len();
                self.keys.reserve_exact(want);
                self.values.reserve_exact(want);
            }
            self.keys.push(key);
            self.values.push(V::default());
            self.keys.len() - 1
        } else {
            let victim = self.pick_victim();
            self.remove_from_index(self.keys[victim]);
            self.evictions += 1;
            self.keys[victim] = key;
            self.values[victim] = V::default();
            victim
        };
        let (mut slot, tag) = self.home(key);
        while self.index[slot] != 0 {
            slot = (slot + 1) & self.mask;
        }
        self.index[slot] = (tag << 32) | (at as u64 + 1);
        at
    }

    fn pick_victim(&mut self) -> usize {
        let n = self.keys.len();
        let mut best = self.hand % n;
        for step in 0..SAMPLE.min(n) {
            let at = (self.hand + step) % n;
            let rank = |v: &V| (v.keeps_evidence(), v.last_seen());
            if rank(&self.values[at]) < rank(&self.values[best]) {
                best = at;
            }
        }
        self.hand = (self.hand + SAMPLE) % n;
        best
    }

    fn remove_from_index(&mut self, key: u128) {
        let Some((slot, _)) = self.find(key) else {
            return;
        };
        // Backward-shift deletion keeps every probe chain unbroken without tombstones.
        let mut hole = slot;
        let mut j = slot;
        loop {
            j = (j + 1) & self.mask;
            let entry = self.index[j];
            if entry == 0 {
                break;
            }
            let home = ((entry >> 32) as usize) & self.mask;
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.index[hole] = entry;
                hole = j;
            }
        }
        self.index[hole] = 0;
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u128, &V)> {
        self.keys.iter().copied().zip(self.values.iter())
    }

    /// Approximate heap bytes held (for stats and the memory bench).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.index.capacity() * 8
            + self.keys.capacity() * std::mem::size_of::<u128>()
            + self.values.capacity() * std::mem::size_of::<V>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Debug)]
    struct Seen(u32);
    impl Aged for Seen {
        fn last_seen(&self) -> u32 {
            self.0
        }
    }

    #[test]
    fn the_table_never_holds_more_than_its_capacity() {
        let mut t: BoundedTable<Seen> = BoundedTable::new(100, KeyedHasher::new([1, 1]));
        for k in 0..10_000u128 {
            t.entry(k).0 = k as u32;
            assert!(t.len() <= 100);
        }
        assert_eq!(t.evictions(), 9_900);
        // Every key still in the arena is findable through the index.
        let keys: Vec<u128> = t.iter().map(|(k, _)| k).collect();
        for k in keys {
            assert_eq!(t.get(k).map(|v| v.0), Some(k as u32));
        }
    }

    #[test]
    fn eviction_prefers_the_least_recently_seen() {
        let mut t: BoundedTable<Seen> = BoundedTable::new(8, KeyedHasher::new([1, 1]));
        for k in 0..8u128 {
            t.entry(k).0 = if k == 3 { 1 } else { 100 };
        }
        t.entry(99).0 = 200;
        assert!(t.get(3).is_none());
        assert!(t.get(99).is_some());
        assert_eq!(t.len(), 8);
    }
}
