//! How many live streams (Server-Sent Events) each console user or API token holds open: each
//! costs a task, a broadcast receiver and a connection for as long as it lasts, so one
//! credential cannot open them without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::auth::Caller;

/// Open streams per caller, up to a limit.
#[derive(Debug)]
pub struct StreamSlots {
    limit: usize,
    open: Mutex<HashMap<String, usize>>,
}

/// One open stream; dropping it (the stream ended or its client went away) frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    key: String,
}

impl StreamSlots {
    /// At most `limit` streams per console user or token.
    #[must_use]
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            open: Mutex::default(),
        }
    }

    /// A slot for `caller`'s next stream, or `None` when it holds `limit` already.
    pub fn take(self: &Arc<Self>, caller: &Caller) -> Option<StreamSlot> {
        // A token's streams count together whoever uses it; a console user's together over
        // all their sessions (signing in again must not be a way around the limit).
        let key = caller.token_id.map_or_else(
            || format!("user:{}", caller.user_id),
            |id| format!("token:{id}"),
        );
        let mut open = crate::sync::lock(&self.open);
        let held = open.entry(key.clone()).or_default();
        if *held >= self.limit {
            return None;
        }
        *held += 1;
        Some(StreamSlot {
            slots: self.clone(),
            key,
        })
    }

    /// The limit per caller.
    #[must_use]
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = crate::sync::lock(&self.slots.open);
        if let Some(held) = open.get_mut(&self.key) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::Role;

    fn caller(session: &str, token: Option<i32>) -> Caller {
        Caller {
            user_id: i32::from(session.as_bytes()[0]),
            username: "ops".into(),
            role: Role::Admin,
            session_hash: session.into(),
            csrf: String::new(),
            source_ip: [127, 0, 0, 1].into(),
            token_id: token,
            manages_access: false,
            must_enrol: false,
        }
    }

    #[test]
    fn each_caller_has_its_own_slots_and_a_closed_stream_frees_one() {
        let slots = Arc::new(StreamSlots::new(2));
        let a = caller("a", None);
        let first = slots.take(&a).unwrap();
        let _second = slots.take(&a).unwrap();
        assert!(slots.take(&a).is_none());
        // Another user and a token are not counted with it.
        assert!(slots.take(&caller("b", None)).is_some());
        let _t = slots.take(&caller("a", Some(7))).unwrap();
        drop(first);
        assert!(slots.take(&a).is_some());
    }
}
