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
//! Targets are not restricted to public addresses: only administrators (or write tokens)
//! create alerts, they already control the appliance, and a receiver on the same host or LAN
//! is the common case. Nothing a receiver answers is shown except its status code, so an
//! alert cannot be used to read an internal service.

pub mod webhook;
mod worker;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use app::model::Page;
use app::model::alerts::{AlertView, AlertsPage, CreatedAlert, DeliveryView, Trigger};

use crate::auth::Admin;
use crate::auth::session::new_token;
use crate::db::entities::{alert, alert_delivery};
use crate::services::audit::{self, Action, Record};
use crate::services::{Internal, page, rfc3339};
use crate::state::AppState;

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
/// Notices waiting for the worker at most; more are dropped and counted.
pub const QUEUE: usize = 256;
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
}

/// An alert that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedAlert {
    name: String,
    url: reqwest::Url,
    triggers: BTreeSet<Trigger>,
    rate_per_minute: Option<u32>,
    enabled: bool,
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

/// Creates an alert; its secret is in the answer and nowhere else.
pub async fn create(
    state: &AppState,
    admin: &Admin,
    new: NewAlert,
) -> Result<CreatedAlert, AlertError> {
    let checked = CheckedAlert::check(&new)?;
    if alert::Entity::find().count(&state.db).await? >= MAX_ALERTS {
        return Err(AlertError::TooMany);
    }
    let secret = format!("{SECRET_PREFIX}{}", new_token());
    let now = Utc::now();
    let row = alert::ActiveModel {
        name: Set(checked.name.clone()),
        url: Set(checked.url.to_string()),
        secret: Set(secret.clone()),
        triggers: Set(join_triggers(&checked.triggers)),
        rate_per_minute: Set(rate_column(checked.rate_per_minute)),
        enabled: Set(checked.enabled),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    state.alerts.alerts_changed();
    let detail = format!(
        "alert {} '{}' -> {} on {}",
        row.id,
        row.name,
        host_of(&checked.url),
        row.triggers
    );
    audit::record(
        &state.db,
        Record::by_caller(admin.caller(), Action::AlertCreate, true, &detail),
    )
    .await?;
    Ok(CreatedAlert {
        view: view(&row),
        secret,
    })
}

/// The host (and port) of a URL, for the audit log: the path may carry the receiver's token.
fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{}://{h}:{p}", url.scheme()),
        (Some(h), None) => format!("{}://{h}", url.scheme()),
        _ => url.scheme().to_owned(),
    }
}

/// One page of alerts, oldest first, after the alert `after`.
pub async fn list(
    db: &DatabaseConnection,
    after: Option<i64>,
    limit: u64,
) -> Result<Page<AlertView>, Internal> {
    let rows = page::rows(
        db,
        alert::Entity::find(),
        alert::Column::Id,
        sea_orm::Order::Asc,
        after,
        limit,
    )
    .await?;
    Ok(page::split(rows, limit, |r| r.id.to_string(), |r| view(&r)))
}

async fn row(db: &DatabaseConnection, id: i32) -> Result<alert::Model, AlertError> {
    alert::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AlertError::NotFound(id))
}

/// One alert.
pub async fn get(db: &DatabaseConnection, id: i32) -> Result<AlertView, AlertError> {
    Ok(view(&row(db, id).await?))
}

/// Replaces an alert's settings (its secret stays); with `expected`, only that version.
pub async fn update(
    state: &AppState,
    admin: &Admin,
    id: i32,
    new: NewAlert,
    expected: Option<i32>,
) -> Result<AlertView, AlertError> {
    let checked = CheckedAlert::check(&new)?;
    let current = row(&state.db, id).await?;
    let base = expected.unwrap_or(current.version);
    if base != current.version {
        return Err(AlertError::Stale {
            expected: base,
            current: current.version,
        });
    }
    // Conditional on the version read: a change that lands in between makes this one stale
    // instead of overwriting it.
    let done = alert::Entity::update_many()
        .col_expr(alert::Column::Name, Expr::value(checked.name.clone()))
        .col_expr(alert::Column::Url, Expr::value(checked.url.to_string()))
        .col_expr(
            alert::Column::Triggers,
            Expr::value(join_triggers(&checked.triggers)),
        )
        .col_expr(
            alert::Column::RatePerMinute,
            Expr::value(rate_column(checked.rate_per_minute)),
        )
        .col_expr(alert::Column::Enabled, Expr::value(checked.enabled))
        .col_expr(alert::Column::Version, Expr::value(base.saturating_add(1)))
        .col_expr(alert::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(alert::Column::Id.eq(id))
        .filter(alert::Column::Version.eq(base))
        .exec(&state.db)
        .await?;
    if done.rows_affected == 0 {
        let now = row(&state.db, id).await?;
        return Err(AlertError::Stale {
            expected: base,
            current: now.version,
        });
    }
    state.alerts.alerts_changed();
    let updated = row(&state.db, id).await?;
    let detail = format!(
        "alert {id} '{}' -> {} on {} ({})",
        updated.name,
        host_of(&checked.url),
        updated.triggers,
        if updated.enabled {
            "enabled"
        } else {
            "disabled"
        }
    );
    audit::record(
        &state.db,
        Record::by_caller(admin.caller(), Action::AlertUpdate, true, &detail),
    )
    .await?;
    Ok(view(&updated))
}

/// Deletes an alert and its delivery history.
pub async fn delete(state: &AppState, admin: &Admin, id: i32) -> Result<(), AlertError> {
    let existing = row(&state.db, id).await?;
    alert_delivery::Entity::delete_many()
        .filter(alert_delivery::Column::AlertId.eq(id))
        .exec(&state.db)
        .await?;
    alert::Entity::delete_by_id(id).exec(&state.db).await?;
    state.alerts.alerts_changed();
    let detail = format!("alert {id} '{}'", existing.name);
    audit::record(
        &state.db,
        Record::by_caller(admin.caller(), Action::AlertDelete, true, &detail),
    )
    .await?;
    Ok(())
}

/// Sends a test notice to one alert now: a single attempt within [`TEST_TIMEOUT`], recorded
/// in the history like any delivery.
pub async fn test(state: &AppState, admin: &Admin, id: i32) -> Result<DeliveryView, AlertError> {
    let row = row(&state.db, id).await?;
    let target = Target::from(&row);
    let notice = Notice::new(
        None,
        format!("test delivery requested by {}", admin.caller().username),
        serde_json::json!({ "requested_by": admin.caller().username }),
    );
    let client = state.alerts.client();
    let once = webhook::Backoff {
        attempts: 1,
        ..webhook::SCHEDULE
    };
    // In a task of its own: a caller that hangs up must not leave the delivery pending.
    let db = state.db.clone();
    let delivered =
        tokio::spawn(
            async move { deliver(&db, &client, &target, &notice, once, TEST_TIMEOUT).await },
        )
        .await
        .map_err(|e| Internal::Corrupt(format!("test delivery task: {e}")))??;
    let detail = format!(
        "alert {id} '{}': {}{}",
        row.name,
        delivered.outcome,
        delivered
            .status_code
            .map(|s| format!(" (HTTP {s})"))
            .unwrap_or_default()
    );
    audit::record(
        &state.db,
        Record::by_caller(admin.caller(), Action::AlertTest, true, &detail),
    )
    .await?;
    Ok(delivered)
}

/// One page of deliveries, newest first, before the delivery `before`: of one alert, or of
/// all.
pub async fn deliveries(
    db: &DatabaseConnection,
    alert_id: Option<i32>,
    before: Option<i64>,
    limit: u64,
) -> Result<Page<DeliveryView>, AlertError> {
    let mut query = alert_delivery::Entity::find();
    if let Some(id) = alert_id {
        row(db, id).await?;
        query = query.filter(alert_delivery::Column::AlertId.eq(id));
    }
    let rows = page::rows(
        db,
        query,
        alert_delivery::Column::Id,
        sea_orm::Order::Desc,
        before,
        limit,
    )
    .await?;
    Ok(page::split(
        rows,
        limit,
        |r| r.id.to_string(),
        |r| delivery_view(&r),
    ))
}

/// Deliveries the console shows.
const PAGE_DELIVERIES: u64 = 50;

/// The console's page: the alerts, the latest deliveries and the drop count.
pub async fn alerts_page(state: &AppState) -> Result<AlertsPage, AlertError> {
    Ok(AlertsPage {
        alerts: list(&state.db, None, MAX_ALERTS).await?.items,
        deliveries: deliveries(&state.db, None, None, PAGE_DELIVERIES)
            .await?
            .items,
        dropped: state.alerts.dropped(),
    })
}

// ---------------------------------------------------------------------------------------
// Notices and delivery
// ---------------------------------------------------------------------------------------

/// Something to tell the alerts that chose its trigger.
#[derive(Debug, Clone)]
pub struct Notice {
    /// `None` for a test.
    pub trigger: Option<Trigger>,
    /// One line, for the history and the body.
    pub summary: String,
    /// The trigger's own fields, sent as `details`.
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}

impl Notice {
    /// A notice raised now.
    #[must_use]
    pub fn new(trigger: Option<Trigger>, summary: String, details: serde_json::Value) -> Self {
        Self {
            trigger,
            summary,
            details,
            at: Utc::now(),
        }
    }

    fn trigger_name(&self) -> &'static str {
        self.trigger.map_or("test", Trigger::as_str)
    }
}

/// The queue into the delivery worker, kept in [`AppState`].
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<NotifierInner>,
}

struct NotifierInner {
    tx: mpsc::Sender<Notice>,
    /// Taken once by the worker.
    rx: Mutex<Option<mpsc::Receiver<Notice>>>,
    dropped: AtomicU64,
    /// Bumped on every alert change, so the worker reloads its copy.
    generation: AtomicU64,
    client: reqwest::Client,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl Default for Notifier {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Self {
            inner: Arc::new(NotifierInner {
                tx,
                rx: Mutex::new(Some(rx)),
                dropped: AtomicU64::new(0),
                generation: AtomicU64::new(0),
                client: webhook::client(),
            }),
        }
    }
}

impl Notifier {
    /// Queues a notice without waiting; a full queue drops it and counts the drop.
    pub fn notify(&self, notice: Notice) {
        if self.inner.tx.try_send(notice).is_err() {
            let n = self.inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "alert queue full: notices dropped");
            }
        }
    }

    /// Notices dropped since start (queue full).
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Tells the worker the alerts changed.
    pub fn alerts_changed(&self) {
        self.inner.generation.fetch_add(1, Ordering::Relaxed);
    }

    fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Relaxed)
    }

    fn take_receiver(&self) -> Option<mpsc::Receiver<Notice>> {
        crate::state::lock(&self.inner.rx).take()
    }

    fn client(&self) -> reqwest::Client {
        self.inner.client.clone()
    }
}

/// An alert as the worker sends to it.
#[derive(Clone)]
struct Target {
    id: i32,
    name: String,
    url: String,
    secret: String,
    triggers: Vec<Trigger>,
    rate_per_minute: Option<u32>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl From<&alert::Model> for Target {
    fn from(row: &alert::Model) -> Self {
        Self {
            id: row.id,
            name: row.name.clone(),
            url: row.url.clone(),
            secret: row.secret.clone(),
            triggers: parse_triggers(&row.triggers),
            rate_per_minute: rate_of(row),
        }
    }
}

/// The enabled alerts, for the worker.
async fn enabled_targets(db: &DatabaseConnection) -> Result<Vec<Target>, Internal> {
    Ok(alert::Entity::find()
        .filter(alert::Column::Enabled.eq(true))
        .all(db)
        .await?
        .iter()
        .map(Target::from)
        .collect())
}

/// The JSON body every delivery sends.
#[derive(Serialize)]
struct Payload<'a> {
    /// The delivery's id (also `X-Sipwarden-Delivery`).
    delivery: i32,
    alert: PayloadAlert<'a>,
    trigger: &'a str,
    at: String,
    summary: &'a str,
    details: &'a serde_json::Value,
    sipwarden: &'static str,
}

#[derive(Serialize)]
struct PayloadAlert<'a> {
    id: i32,
    name: &'a str,
}

/// Sends one notice to one alert, retrying on `schedule`, and records it.
async fn deliver(
    db: &DatabaseConnection,
    client: &reqwest::Client,
    target: &Target,
    notice: &Notice,
    schedule: webhook::Backoff,
    timeout: Duration,
) -> Result<DeliveryView, Internal> {
    let trigger = notice.trigger_name();
    let summary: String = notice.summary.chars().take(300).collect();
    let row = alert_delivery::ActiveModel {
        alert_id: Set(target.id),
        trigger: Set(trigger.to_owned()),
        summary: Set(summary.clone()),
        at: Set(notice.at),
        attempts: Set(0),
        status_code: Set(None),
        error: Set(None),
        outcome: Set("pending".to_owned()),
        duration_ms: Set(0),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let delivery = row.id;
    let body = serde_json::to_vec(&Payload {
        delivery,
        alert: PayloadAlert {
            id: target.id,
            name: &target.name,
        },
        trigger,
        at: notice
            .at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        summary: &summary,
        details: &notice.details,
        sipwarden: crate::VERSION,
    })
    .map_err(|e| Internal::Corrupt(format!("alert body: {e}")))?;
    let started = Instant::now();
    let mut attempt = 0u32;
    let mut active: alert_delivery::ActiveModel = row.into();
    loop {
        attempt += 1;
        let result = webhook::attempt(
            client,
            &target.url,
            &target.secret,
            delivery,
            trigger,
            &body,
            timeout,
        )
        .await;
        let next = match &result {
            webhook::Attempt::Retry { .. } => schedule.delay_after(attempt),
            _ => None,
        };
        let (status, error, outcome) = match result {
            webhook::Attempt::Delivered(s) => (Some(s), None, "delivered"),
            webhook::Attempt::Retry { status, error } => (
                status,
                Some(error),
                if next.is_some() { "pending" } else { "failed" },
            ),
            webhook::Attempt::Refused { status, error } => (Some(status), Some(error), "failed"),
        };
        active.attempts = Set(i32::try_from(attempt).unwrap_or(i32::MAX));
        active.status_code = Set(status.map(i32::from));
        active.error = Set(error);
        active.outcome = Set(outcome.to_owned());
        active.duration_ms = Set(i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX));
        let saved = active.clone().update(db).await;
        let saved = match saved {
            Ok(saved) => saved,
            // Deleted meanwhile (with its alert): nothing left to record, stop retrying.
            Err(sea_orm::DbErr::RecordNotUpdated) => {
                return Err(Internal::Corrupt(format!(
                    "delivery of alert {} vanished (alert deleted)",
                    target.id
                )));
            }
            Err(e) => return Err(e.into()),
        };
        match next {
            Some(pause) => tokio::time::sleep(pause).await,
            None => {
                tracing::info!(
                    alert = target.id,
                    trigger,
                    outcome,
                    attempts = attempt,
                    status = ?status,
                    "alert delivery finished"
                );
                trim_history(db, saved.id).await?;
                return Ok(delivery_view(&saved));
            }
        }
    }
}

/// Ends the deliveries a stop interrupted between their attempts (they would stay pending).
async fn close_interrupted(db: &DatabaseConnection) -> Result<u64, Internal> {
    let done = alert_delivery::Entity::update_many()
        .col_expr(alert_delivery::Column::Outcome, Expr::value("failed"))
        .col_expr(
            alert_delivery::Column::Error,
            Expr::value("interrupted by a restart of sipwarden"),
        )
        .filter(alert_delivery::Column::Outcome.eq("pending"))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// Keeps the newest [`KEEP_DELIVERIES`] deliveries (ids only grow).
async fn trim_history(db: &DatabaseConnection, newest: i32) -> Result<(), Internal> {
    let below = newest.saturating_sub(KEEP_DELIVERIES);
    if below > 0 {
        alert_delivery::Entity::delete_many()
            .filter(alert_delivery::Column::Id.lte(below))
            .exec(db)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(url: &str) -> NewAlert {
        NewAlert {
            name: "ops".to_owned(),
            url: url.to_owned(),
            triggers: vec![Trigger::Ban],
            rate_per_minute: None,
            enabled: None,
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
    fn http_and_https_urls_with_a_host_pass() {
        for url in [
            "http://127.0.0.1:9000/hook",
            "https://hooks.example.com/a/b?c=d",
            " https://[::1]:8443/x ",
        ] {
            assert!(CheckedAlert::check(&new(url)).is_ok(), "{url}");
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
