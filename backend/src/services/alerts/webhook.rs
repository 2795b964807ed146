//! One webhook delivery on the wire: the signed request, how an answer is judged, and the
//! retry schedule.
//!
//! # Signature
//!
//! Each attempt carries `X-Sipwarden-Timestamp: <Unix seconds>` and
//! `X-Sipwarden-Signature: sha256=<hex>`, the HMAC-SHA256 under the alert's secret of
//! `<timestamp>.<body>` (the timestamp's decimal digits, a full stop, then the exact body
//! bytes). A receiver recomputes it over the raw body, compares in constant time and refuses
//! a timestamp more than a few minutes old: a captured request then cannot be replayed later,
//! and the timestamp cannot be changed without breaking the signature.
//! `X-Sipwarden-Delivery` (the delivery's id, the same on every attempt) lets a receiver
//! drop a retry of something it already handled.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-sipwarden-signature";
/// Header carrying the Unix time (seconds) that is signed with the body.
pub const TIMESTAMP_HEADER: &str = "x-sipwarden-timestamp";
/// Header carrying the delivery's id (stable across retries).
pub const DELIVERY_HEADER: &str = "x-sipwarden-delivery";
/// Header carrying the trigger's name (`ban`, …, `test`).
pub const TRIGGER_HEADER: &str = "x-sipwarden-trigger";

/// The signature header's value for `body` sent at `timestamp`.
#[must_use]
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// When to try again: exponential from `first`, doubling, never longer than `cap`, at most
/// `attempts` attempts in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub attempts: u32,
    pub first: Duration,
    pub cap: Duration,
}

/// What the delivery worker uses: 5 attempts, 1 s, 2 s, 4 s, 8 s apart (15 s plus the
/// attempts' own time), capped at a minute should the attempts be raised.
pub const SCHEDULE: Backoff = Backoff {
    attempts: 5,
    first: Duration::from_secs(1),
    cap: Duration::from_secs(60),
};

impl Backoff {
    /// The pause after failed attempt `attempt` (1 = the first); `None` when it was the last.
    #[must_use]
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        if attempt == 0 || attempt >= self.attempts {
            return None;
        }
        let factor = 1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX);
        Some(self.first.saturating_mul(factor).min(self.cap))
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// A 2xx answer: done.
    Delivered(u16),
    /// No answer, or one worth retrying (408, 429, 5xx).
    Retry { status: Option<u16>, error: String },
    /// An answer that a retry will not change (other 4xx, 3xx): stop.
    Refused { status: u16, error: String },
    /// Not sent: the target is an internal address the alert may not reach.
    Blocked(String),
}

impl Attempt {
    /// Judges an HTTP status. Redirects are not followed (the receiver's URL is configured,
    /// not discovered), so a 3xx is a wrong URL.
    #[must_use]
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Attempt::Delivered(status),
            408 | 429 | 500..=599 => Attempt::Retry {
                status: Some(status),
                error: format!("HTTP {status}"),
            },
            _ => Attempt::Refused {
                status,
                error: format!("HTTP {status}"),
            },
        }
    }
}

/// The outbound client, one per process and kind (its connection pool is shared by every
/// delivery): one whose resolver refuses internal addresses, and one for alerts that allow
/// them.
pub fn client(allow_internal: bool) -> reqwest::Client {
    static CHECKED: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    static OPEN: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if allow_internal {
        OPEN.get_or_init(|| build_client(false)).clone()
    } else {
        CHECKED.get_or_init(|| build_client(true)).clone()
    }
}

/// No redirects, no cookies, no proxy (it would be the one address checked), rustls with
/// bundled roots; with `checked`, host names resolve through [`super::reach`].
fn build_client(checked: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder();
    let builder = if checked {
        builder.dns_resolver(std::sync::Arc::new(super::reach::CheckedResolver))
    } else {
        builder
    };
    builder
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!(
            "sipwarden/",
            env!("CARGO_PKG_VERSION"),
            " (webhook)"
        ))
        .build()
        .unwrap_or_else(|e| {
            // Building fails only without a TLS backend, which is compiled in.
            tracing::error!(error = %e, "cannot build the webhook client; using the default");
            reqwest::Client::new()
        })
}

/// Sends `body` once, signed, within `timeout` (connecting, sending and the answer's head).
pub async fn attempt(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    delivery: i32,
    trigger: &str,
    body: &[u8],
    timeout: Duration,
) -> Attempt {
    let timestamp = chrono::Utc::now().timestamp();
    let request = client
        .post(url)
        .timeout(timeout)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, sign(secret, timestamp, body))
        .header(DELIVERY_HEADER, delivery.to_string())
        .header(TRIGGER_HEADER, trigger)
        .body(body.to_vec());
    match request.send().await {
        Ok(response) => Attempt::of_status(response.status().as_u16()),
        Err(e) => match super::reach::refusal_in(&e) {
            Some(refused) => Attempt::Blocked(refused.to_string()),
            // The error's text would name the URL, which may carry the receiver's own token.
            None => Attempt::Retry {
                status: None,
                error: describe(&e.without_url(), timeout),
            },
        },
    }
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {} s", timeout.as_secs())
    } else if e.is_connect() {
        let mut why = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            why = match s.downcast_ref::<std::io::Error>() {
                Some(io) => crate::plain::io_error(io),
                None => s.to_string(),
            };
            source = s.source();
        }
        format!("cannot connect: {why}")
    } else {
        format!("request failed: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_doubles_from_one_second_and_stops_after_five_attempts() {
        let delays: Vec<_> = (1..=6).map(|n| SCHEDULE.delay_after(n)).collect();
        assert_eq!(
            delays,
            [
                Some(Duration::from_secs(1)),
                Some(Duration::from_secs(2)),
                Some(Duration::from_secs(4)),
                Some(Duration::from_secs(8)),
                None,
                None
            ]
        );
    }

    #[test]
    fn the_pause_never_exceeds_the_cap_even_for_many_attempts() {
        let long = Backoff {
            attempts: 100,
            ..SCHEDULE
        };
        assert_eq!(long.delay_after(7), Some(Duration::from_secs(60)));
        assert_eq!(long.delay_after(40), Some(Duration::from_secs(60)));
        assert_eq!(long.delay_after(99), Some(Duration::from_secs(60)));
        assert_eq!(long.delay_after(0), None);
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 has no vector for this framing; this one was computed independently with
        // `printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test`.
        assert_eq!(
            sign("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "sha256=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn a_changed_timestamp_or_body_changes_the_signature() {
        let s = sign("k", 1, b"body");
        assert_ne!(s, sign("k", 2, b"body"));
        assert_ne!(s, sign("k", 1, b"body "));
        assert_ne!(s, sign("k2", 1, b"body"));
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64);
    }

    #[test]
    fn only_2xx_delivers_and_only_408_429_and_5xx_are_retried() {
        assert_eq!(Attempt::of_status(204), Attempt::Delivered(204));
        for retried in [408, 429, 500, 502, 503] {
            assert!(
                matches!(Attempt::of_status(retried), Attempt::Retry { .. }),
                "{retried}"
            );
        }
        for refused in [301, 400, 401, 403, 404, 410, 422] {
            assert!(
                matches!(Attempt::of_status(refused), Attempt::Refused { .. }),
                "{refused}"
            );
        }
    }
}
