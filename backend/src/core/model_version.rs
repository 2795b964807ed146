//! The PBX model's version: one number, bumped after every committed change of the model and
//! after every apply (what is live changed). Whatever depends on the model follows it — the
//! endpoint list cache files pages under it, the alert worker re-checks posture when it moves
//! — so the write paths announce a change once and need not know who listens.

use std::sync::Arc;

use tokio::sync::watch;

/// Shared by the state; clones follow the same number.
#[derive(Debug, Clone)]
pub struct ModelVersion {
    tx: Arc<watch::Sender<u64>>,
}

impl Default for ModelVersion {
    fn default() -> Self {
        Self {
            tx: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl ModelVersion {
    /// The version now. A reader takes it *before* reading the model, so what it read is
    /// filed under a version no later than the data's.
    #[must_use]
    pub fn current(&self) -> u64 {
        *self.tx.borrow()
    }

    /// Called after a change of the model has committed, or an apply has finished.
    pub fn bump(&self) {
        self.tx.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// A receiver whose `changed()` wakes after each bump (several bumps may wake it once).
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bump_moves_the_version_and_wakes_subscribers() {
        let version = ModelVersion::default();
        let mut rx = version.clone().subscribe();
        let before = version.current();
        version.bump();
        assert_eq!(version.current(), before + 1);
        tokio::time::timeout(std::time::Duration::from_secs(1), rx.changed())
            .await
            .expect("woken")
            .expect("sender alive");
        assert_eq!(*rx.borrow_and_update(), before + 1);
    }
}
