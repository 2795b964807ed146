//! Endpoint list pages as sent, kept until the PBX model next changes.
//!
//! Provisioning systems poll the endpoint list; with 10,000 endpoints each page of 100 cost
//! about a millisecond of CPU (the rows come out of SQLite one by one, each is checked again
//! through the domain constructors and serialised), so 50 pollers queued behind each other.
//! The model changes rarely and only through [`crate::services::pbx`]'s one write path, which
//! bumps the [`ModelVersion`] after its commit. A page is stored under the version read *before*
//! its query, so a page read while a change commits is filed under the old version and never
//! served after it.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;

use crate::core::model_version::ModelVersion;

/// Most pages kept; past it the cache starts over (a scan of searches cannot grow it).
const MAX_PAGES: usize = 512;

/// What a page is asked for by: search, cursor, page size.
pub type PageKey = (Option<String>, Option<String>, u64);

/// The cache of one list.
#[derive(Debug)]
pub struct ListCache {
    version: ModelVersion,
    pages: Mutex<Pages>,
}

#[derive(Debug, Default)]
struct Pages {
    generation: u64,
    by_key: HashMap<PageKey, Bytes>,
}

impl ListCache {
    /// A cache whose pages last while `version` does not move.
    #[must_use]
    pub fn following(version: ModelVersion) -> Self {
        Self {
            version,
            pages: Mutex::default(),
        }
    }

    /// The model's current version: read it before querying.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.version.current()
    }

    /// The page stored for `key` at `generation`, if any.
    pub fn get(&self, generation: u64, key: &PageKey) -> Option<Bytes> {
        let pages = self
            .pages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (pages.generation == generation)
            .then(|| pages.by_key.get(key).cloned())
            .flatten()
    }

    /// Stores a page read at `generation` (ignored if the model has changed since).
    pub fn put(&self, generation: u64, key: PageKey, page: Bytes) {
        if generation != self.generation() {
            return;
        }
        let mut pages = self
            .pages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pages.generation != generation || pages.by_key.len() >= MAX_PAGES {
            pages.generation = generation;
            pages.by_key.clear();
        }
        pages.by_key.insert(key, page);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(q: &str) -> PageKey {
        (Some(q.to_owned()), None, 100)
    }

    #[test]
    fn a_page_is_served_until_the_model_changes() {
        let version = ModelVersion::default();
        let cache = ListCache::following(version.clone());
        let g = cache.generation();
        cache.put(g, key("a"), Bytes::from_static(b"[1]"));
        assert_eq!(cache.get(g, &key("a")), Some(Bytes::from_static(b"[1]")));
        assert_eq!(cache.get(g, &key("b")), None);
        version.bump();
        assert_eq!(cache.get(cache.generation(), &key("a")), None);
    }

    #[test]
    fn a_page_read_while_a_change_committed_is_not_kept() {
        let version = ModelVersion::default();
        let cache = ListCache::following(version.clone());
        let before = cache.generation();
        version.bump();
        cache.put(before, key("a"), Bytes::from_static(b"[old]"));
        assert_eq!(cache.get(cache.generation(), &key("a")), None);
        assert_eq!(cache.get(before, &key("a")), None);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = ListCache::following(ModelVersion::default());
        let g = cache.generation();
        for n in 0..(MAX_PAGES + 10) {
            cache.put(g, key(&n.to_string()), Bytes::from_static(b"[]"));
        }
        let pages = cache
            .pages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        assert!(pages.by_key.len() <= MAX_PAGES);
    }
}
