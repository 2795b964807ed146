//! Rate limits on `/api/v1/*`, per API token and per source address: token buckets, answered
//! with 429 and `Retry-After` when empty.
//!
//! Why both keys: a token is one script (a runaway loop should not starve the others); a source
//! address is one machine (requests without a token, and many tokens from one host). Buckets
//! live in memory, bounded: when the table is full, buckets that are full again (idle long
//! enough to have refilled) are dropped first, since forgetting them changes nothing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::config::Config;
use crate::http::error::ApiError;

/// Buckets kept at most per key kind.
const MAX_BUCKETS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Source(IpAddr),
    Token(i32),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A rate: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

/// The limiter's buckets.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<Key, Bucket>>,
}

impl RateLimiter {
    /// Takes one request from `key`'s bucket; `Err(wait)` when it is empty.
    fn take(&self, key: Key, rate: Rate, now: Instant) -> Result<(), Duration> {
        let mut buckets = crate::sync::lock(&self.buckets);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&key) {
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * rate.per_second < rate.burst
            });
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: rate.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * rate.per_second;
        bucket.tokens = (bucket.tokens + refill).min(rate.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / rate.per_second,
            ))
        }
    }
}

/// The REST API, and the console's doors that anyone may knock on: signing in and the first
/// setup (each refused attempt is an audit line, so their rate is bounded like the API's).
fn metered(path: &str) -> bool {
    path.starts_with("/api/v1/") || matches!(path, "/fn/sign_in" | "/fn/complete_setup")
}

/// Applies the per-token and per-source limits to the REST API and the console's sign-in.
pub async fn limit_api(
    State(config): State<Arc<Config>>,
    State(limiter): State<Arc<RateLimiter>>,
    req: Request,
    next: Next,
) -> Response {
    if !metered(req.uri().path()) {
        return next.run(req).await;
    }
    let now = Instant::now();
    let source = Key::Source(crate::http::extract::peer_ip(req.extensions()));
    let token = req
        .extensions()
        .get::<crate::auth::Caller>()
        .and_then(|c| c.token_id)
        .map(Key::Token);
    let per_source = Rate {
        per_second: f64::from(config.api_rate_per_source),
        burst: f64::from(config.api_rate_per_source.saturating_mul(2)),
    };
    let per_token = Rate {
        per_second: f64::from(config.api_rate_per_token),
        burst: f64::from(config.api_rate_per_token.saturating_mul(2)),
    };
    let verdict = limiter
        .take(source, per_source, now)
        .and_then(|()| token.map_or(Ok(()), |t| limiter.take(t, per_token, now)));
    match verdict {
        Ok(()) => next.run(req).await,
        Err(wait) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; wait as long as Retry-After says",
        )
        .with_retry_after(wait)
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_gives_its_burst_then_refills_at_its_rate() {
        let limiter = RateLimiter::default();
        let rate = Rate {
            per_second: 10.0,
            burst: 5.0,
        };
        let key = Key::Token(1);
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(limiter.take(key, rate, t0).is_ok());
        }
        let wait = limiter.take(key, rate, t0).unwrap_err();
        assert!(
            wait <= Duration::from_millis(100) && wait > Duration::ZERO,
            "{wait:?}"
        );
        // 100 ms later one request is back; other keys were never affected.
        assert!(
            limiter
                .take(key, rate, t0 + Duration::from_millis(100))
                .is_ok()
        );
        assert!(
            limiter
                .take(key, rate, t0 + Duration::from_millis(100))
                .is_err()
        );
        assert!(limiter.take(Key::Token(2), rate, t0).is_ok());
    }
}
