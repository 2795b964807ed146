//! The flashes of plain form posts (see [`app::form`]): in memory, bound to the session that
//! made them, taken once, gone after [`FLASH_TTL`]. A restart loses them, which costs at most
//! one message (or a secret nobody saw: rotate it again).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::request::Parts;
use rand::RngCore;

use app::form::Flash;

use super::{ConsoleService, caller};
use crate::sync::lock;

/// How long a flash waits for its page.
pub const FLASH_TTL: Duration = Duration::from_secs(300);
/// Most flashes kept at once (the oldest go first); a flash is only made by a signed-in
/// user's form post, so this bounds memory, not a public door.
const FLASH_MAX: usize = 512;

struct FlashEntry {
    session_hash: String,
    made: Instant,
    flash: Flash,
}

/// The flashes waiting for their pages, by token.
#[derive(Default)]
pub struct FlashStore(Mutex<HashMap<String, FlashEntry>>);

#[async_trait::async_trait]
impl app::ssr::form::Flashes for ConsoleService {
    async fn put_flash(&self, req: &Parts, flash: Flash) -> Option<String> {
        let session_hash = caller(req).ok()?.session_hash;
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        let now = Instant::now();
        let mut flashes = lock(&self.flashes.0);
        flashes.retain(|_, e| now.duration_since(e.made) < FLASH_TTL);
        while flashes.len() >= FLASH_MAX {
            let oldest = flashes
                .iter()
                .min_by_key(|(_, e)| e.made)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => flashes.remove(&k),
                None => break,
            };
        }
        flashes.insert(
            token.clone(),
            FlashEntry {
                session_hash,
                made: now,
                flash,
            },
        );
        Some(token)
    }

    async fn take_flash(&self, req: &Parts, token: &str) -> Option<Flash> {
        let session_hash = caller(req).ok()?.session_hash;
        let mut flashes = lock(&self.flashes.0);
        // Another session's token is left alone (and shows nothing here).
        if flashes.get(token)?.session_hash != session_hash {
            return None;
        }
        let entry = flashes.remove(token)?;
        (entry.made.elapsed() < FLASH_TTL).then_some(entry.flash)
    }
}
