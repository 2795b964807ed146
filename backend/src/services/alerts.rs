//! Alerts: webhooks an administrator points at the triggers they care about (a ban, an attack
//! rate spike, a correct login after failures, a new high posture finding, the guard going
//! blind), with signed bodies, retries and a bounded delivery history.
//!
//! Input is checked into [`CheckedAlert`] at the edge. The signing secret is generated
//! (`whsec_` + 256 random bits), shown once in the creating response, and stored in plain in
//! the database because signing needs it; the database file is the appliance's alone (0600,
//! see `db::open`), and the secret is never logged or listed.
//!
//! Delivery never holds anything up: whoever raises a [`Notice`] (the ban path, the guard's
//! tap watchers) hands it to a bounded queue with `try_send`; when the queue is full the
//! notice is dropped and counted ([`Notifier::dropped`], on the page). The worker
//! ([`worker::start`]) sends each delivery in its own task, at most [`CONCURRENT`] at once.
//!
//! Targets on the LAN are allowed (a receiver there is the common case); loopback,
//! link-local and the host's own addresses only when the alert allows internal targets
//! ([`reach`]). Nothing a receiver answers is shown except its status code, so an alert
//! cannot be used to read an internal service.

mod delivery;
pub mod reach;
mod store;
pub mod webhook;
mod worker;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, DatabaseConnection};
use serde::{Deserialize, Serialize};

use wire::Page;
use wire::alerts::{AlertView, AlertsPage, CreatedAlert, DeliveryView, Trigger};

use crate::auth::Admin;
use crate::auth::session::new_token;
use crate::core::Core;
use crate::db::entities::{alert, alert_delivery};
use crate::services::audit::{self, Action, Record};
use crate::services::{Internal, page, rfc3339};

pub use crate::core::notifier::{Notice, Notifier, QUEUE};
use delivery::*;
pub use store::*;
pub use worker::start;

/// What every signing secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";
/// Longest name.
pub const MAX_NAME: usize = 64;
/// Longest URL.
pub const MAX_URL: usize = 2048;
/// Highest rate-spike threshold (events per minute).
pub const MAX_RATE: u32 = 1_000_000;
/// Alerts at most (each notice is sent to every matching one).
pub const MAX_ALERTS: u64 = 50;
/// Deliveries kept (all alerts together); older ones are deleted.
pub const KEEP_DELIVERIES: i32 = 1_000;
/// Deliveries in flight at most.
pub const CONCURRENT: usize = 8;
/// Time for one attempt of a triggered delivery.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for the test button's single attempt: an administrator (or a script) waits for it.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(3);

/// An alert as the API takes it (create and replace).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAlert {
    /// What the alert is for (1 to 64 characters on one line).
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// Where to POST: `http` or `https` with a host, no user name or password, at most 2048
    /// characters.
    #[schema(min_length = 1, max_length = 2048)]
    pub url: String,
    /// What it fires on (at least one).
    #[schema(min_items = 1)]
    pub triggers: Vec<Trigger>,
    /// Events per minute above which `rate-spike` fires (1 to 1,000,000); required with
    /// `rate-spike`.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub rate_per_minute: Option<u32>,
    /// Whether it fires (default true). A disabled alert can still be tested.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Whether deliveries may go to loopback, link-local or this host's own addresses
    /// (default false: such targets are refused, at creation when the URL names one, at
    /// delivery when its host name resolves to one).
    #[serde(default)]
    pub allow_internal_targets: Option<bool>,
}

/// An alert that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedAlert {
    name: String,
    url: reqwest::Url,
    triggers: BTreeSet<Trigger>,
    rate_per_minute: Option<u32>,
    enabled: bool,
    allow_internal: bool,
}

/// Why an alert request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// A field broke its rule (422).
    #[error("{field}: {reason}")]
    BadValue { field: &'static str, reason: String },
    /// No such alert (404).
    #[error("alert {0} does not exist")]
    NotFound(i32),
    /// `If-Match` named another version (412).
    #[error("alert is at version {current}, not {expected}")]
    Stale { expected: i32, current: i32 },
    /// Too many alerts (409).
    #[error("at most {MAX_ALERTS} alerts; delete one first")]
    TooMany,
    /// Allowing internal targets is handing out reach into the host: like access, it needs an
    /// administrator's console session or an `admin`-scope token (403).
    #[error(
        "allowing internal targets needs an administrator's console session or a token with the admin scope"
    )]
    InternalTargetsNeedAccess,
    /// Not the caller's fault (500).
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<sea_orm::DbErr> for AlertError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(Internal::Db(e))
    }
}

fn bad(field: &'static str, reason: impl Into<String>) -> AlertError {
    AlertError::BadValue {
        field,
        reason: reason.into(),
    }
}

impl CheckedAlert {
    /// Checks every field; the first broken rule is the error.
    pub fn check(new: &NewAlert) -> Result<Self, AlertError> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            return Err(bad(
                "name",
                format!("1 to {MAX_NAME} characters on one line"),
            ));
        }
        let url = check_url(&new.url)?;
        let allow_internal = new.allow_internal_targets.unwrap_or(false);
        if !allow_internal {
            reach::check_literal(&url).map_err(|refused| bad("url", refused.to_string()))?;
        }
        if new.triggers.is_empty() {
            return Err(bad(
                "triggers",
                "at least one of ban, rate-spike, login-after-failures, posture-high, guard-blind",
            ));
        }
        let triggers: BTreeSet<Trigger> = new.triggers.iter().copied().collect();
        if let Some(rate) = new.rate_per_minute
            && !(1..=MAX_RATE).contains(&rate)
        {
            return Err(bad(
                "rate_per_minute",
                format!("between 1 and {MAX_RATE} events per minute"),
            ));
        }
        if triggers.contains(&Trigger::RateSpike) && new.rate_per_minute.is_none() {
            return Err(bad(
                "rate_per_minute",
                "required with the rate-spike trigger: the events per minute above which it fires",
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            url,
            triggers,
            rate_per_minute: new.rate_per_minute,
            enabled: new.enabled.unwrap_or(true),
            allow_internal,
        })
    }
}

fn check_url(text: &str) -> Result<reqwest::Url, AlertError> {
    let text = text.trim();
    if text.len() > MAX_URL {
        return Err(bad("url", format!("at most {MAX_URL} characters")));
    }
    let url =
        reqwest::Url::parse(text).map_err(|e| bad("url", format!("not an absolute URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("url", "must start with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("url", "must name a host"));
    }
    // Credentials in the URL would be listed to every viewer; the signature is what
    // authenticates sipwarden to the receiver.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "url",
            "must not carry a user name or password (the signature authenticates sipwarden)",
        ));
    }
    Ok(url)
}

fn join_triggers(triggers: &BTreeSet<Trigger>) -> String {
    triggers
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_triggers(stored: &str) -> Vec<Trigger> {
    stored.split(',').filter_map(Trigger::parse).collect()
}

fn rate_of(row: &alert::Model) -> Option<u32> {
    row.rate_per_minute.and_then(|r| u32::try_from(r).ok())
}

fn view(row: &alert::Model) -> AlertView {
    AlertView {
        id: row.id,
        name: row.name.clone(),
        url: row.url.clone(),
        triggers: parse_triggers(&row.triggers),
        rate_per_minute: rate_of(row),
        enabled: row.enabled,
        allow_internal_targets: row.allow_internal,
        version: row.version,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}

fn delivery_view(row: &alert_delivery::Model) -> DeliveryView {
    DeliveryView {
        id: row.id,
        alert_id: row.alert_id,
        trigger: row.trigger.clone(),
        summary: row.summary.clone(),
        at: rfc3339(row.at),
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        status_code: row.status_code.and_then(|s| u16::try_from(s).ok()),
        error: row.error.clone(),
        outcome: row.outcome.clone(),
        duration_ms: u64::try_from(row.duration_ms).unwrap_or(0),
    }
}

fn rate_column(rate: Option<u32>) -> Option<i32> {
    rate.and_then(|r| i32::try_from(r).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait};

    fn new(url: &str) -> NewAlert {
        NewAlert {
            name: "ops".to_owned(),
            url: url.to_owned(),
            triggers: vec![Trigger::Ban],
            rate_per_minute: None,
            enabled: None,
            allow_internal_targets: None,
        }
    }

    fn field_of(result: Result<CheckedAlert, AlertError>) -> &'static str {
        match result {
            Err(AlertError::BadValue { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let notifier = Notifier::default();
        for i in 0..QUEUE + 44 {
            notifier.notify(Notice::new(
                Some(Trigger::Ban),
                format!("ban {i}"),
                serde_json::Value::Null,
            ));
        }
        assert_eq!(notifier.dropped(), 44);
        let mut rx = notifier.take_receiver().expect("the receiver, once");
        assert!(notifier.take_receiver().is_none());
        assert_eq!(rx.try_recv().expect("the first is kept").summary, "ban 0");
    }

    #[tokio::test]
    async fn the_history_keeps_the_newest_and_a_restart_closes_pending_deliveries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = crate::db::open_and_migrate(&dir.path().join("t.sqlite3"))
            .await
            .expect("database");
        let now = Utc::now();
        let owner = alert::ActiveModel {
            name: Set("ops".to_owned()),
            url: Set("http://127.0.0.1:9/".to_owned()),
            secret: Set("whsec_x".to_owned()),
            triggers: Set("ban".to_owned()),
            rate_per_minute: Set(None),
            enabled: Set(true),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&db)
        .await
        .expect("alert");
        let total = KEEP_DELIVERIES + 5;
        let rows = (1..=total).map(|i| alert_delivery::ActiveModel {
            alert_id: Set(owner.id),
            trigger: Set("ban".to_owned()),
            summary: Set(i.to_string()),
            at: Set(now),
            attempts: Set(1),
            status_code: Set(Some(200)),
            error: Set(None),
            outcome: Set(if i == total { "pending" } else { "delivered" }.to_owned()),
            duration_ms: Set(1),
            ..Default::default()
        });
        alert_delivery::Entity::insert_many(rows)
            .exec(&db)
            .await
            .expect("deliveries");
        trim_history(&db, total).await.expect("trim");
        let kept = deliveries(&db, Some(owner.id), None, 500)
            .await
            .expect("list");
        assert_eq!(kept.items[0].summary, total.to_string(), "newest first");
        let cursor = kept.next_cursor.expect("more than a page");
        let next = deliveries(&db, Some(owner.id), cursor.parse().ok(), 500)
            .await
            .expect("list");
        assert_eq!(next.items[0].summary, (total - 500).to_string());
        assert_eq!(
            alert_delivery::Entity::find()
                .count(&db)
                .await
                .expect("count"),
            u64::try_from(KEEP_DELIVERIES).expect("fits")
        );
        assert_eq!(close_interrupted(&db).await.expect("close"), 1);
        let newest = deliveries(&db, Some(owner.id), None, 1)
            .await
            .expect("list")
            .items;
        assert_eq!(newest[0].outcome, "failed");
        assert!(
            newest[0]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("restart"))
        );
        assert_eq!(close_interrupted(&db).await.expect("close"), 0);
    }

    #[test]
    fn http_and_https_urls_with_a_host_pass_and_internal_ones_only_when_allowed() {
        for url in [
            "https://hooks.example.com/a/b?c=d",
            "http://10.0.0.5:9000/hook",
        ] {
            assert!(CheckedAlert::check(&new(url)).is_ok(), "{url}");
        }
        for url in ["http://127.0.0.1:9000/hook", " https://[::1]:8443/x "] {
            assert_eq!(field_of(CheckedAlert::check(&new(url))), "url", "{url}");
            let allowed = NewAlert {
                allow_internal_targets: Some(true),
                ..new(url)
            };
            assert!(CheckedAlert::check(&allowed).is_ok(), "{url}");
        }
    }

    #[test]
    fn other_schemes_hostless_relative_and_credentialed_urls_are_refused() {
        for url in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "/relative",
            "http://",
            "https://user:pw@example.com/",
            "",
        ] {
            assert_eq!(field_of(CheckedAlert::check(&new(url))), "url", "{url}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL));
        assert_eq!(field_of(CheckedAlert::check(&new(&long))), "url");
    }

    #[test]
    fn names_are_one_line_of_1_to_64_characters() {
        let mut a = new("https://example.com/");
        a.name = "  ".to_owned();
        assert_eq!(field_of(CheckedAlert::check(&a)), "name");
        a.name = "x".repeat(65);
        assert_eq!(field_of(CheckedAlert::check(&a)), "name");
        a.name = "two\nlines".to_owned();
        assert_eq!(field_of(CheckedAlert::check(&a)), "name");
        a.name = "é".repeat(64);
        assert!(CheckedAlert::check(&a).is_ok());
    }

    #[test]
    fn a_rate_spike_needs_a_threshold_in_range_and_triggers_are_needed() {
        let mut a = new("https://example.com/");
        a.triggers = vec![Trigger::RateSpike, Trigger::RateSpike];
        assert_eq!(field_of(CheckedAlert::check(&a)), "rate_per_minute");
        a.rate_per_minute = Some(0);
        assert_eq!(field_of(CheckedAlert::check(&a)), "rate_per_minute");
        a.rate_per_minute = Some(MAX_RATE + 1);
        assert_eq!(field_of(CheckedAlert::check(&a)), "rate_per_minute");
        a.rate_per_minute = Some(100);
        let checked = CheckedAlert::check(&a).expect("valid");
        assert_eq!(checked.triggers.len(), 1, "duplicates collapse");
        a.triggers.clear();
        assert_eq!(field_of(CheckedAlert::check(&a)), "triggers");
    }
}
