//! One delivery of a notice: its targets, its attempts with their retries, and its history.

use super::{
    DatabaseConnection, DeliveryView, Duration, Expr, Instant, Internal, KEEP_DELIVERIES, Notice,
    Serialize, Set, Trigger, alert, alert_delivery, delivery_view, parse_triggers, rate_of,
    webhook,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};

/// An alert as the worker sends to it.
#[derive(Clone)]
pub(super) struct Target {
    pub(super) id: i32,
    pub(super) name: String,
    pub(super) url: String,
    pub(super) secret: String,
    pub(super) triggers: Vec<Trigger>,
    pub(super) rate_per_minute: Option<u32>,
    pub(super) allow_internal: bool,
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
            allow_internal: row.allow_internal,
        }
    }
}

/// The enabled alerts, for the worker.
pub(super) async fn enabled_targets(db: &DatabaseConnection) -> Result<Vec<Target>, Internal> {
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
pub(super) struct Payload<'a> {
    /// The delivery's id (also `X-Sipwarden-Delivery`).
    pub(super) delivery: i32,
    pub(super) alert: PayloadAlert<'a>,
    pub(super) trigger: &'a str,
    pub(super) at: String,
    pub(super) summary: &'a str,
    pub(super) details: &'a serde_json::Value,
    pub(super) sipwarden: &'static str,
}

#[derive(Serialize)]
pub(super) struct PayloadAlert<'a> {
    pub(super) id: i32,
    pub(super) name: &'a str,
}

/// Sends one notice to one alert, retrying on `schedule`, and records it.
pub(super) async fn deliver(
    db: &DatabaseConnection,
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
    let client = webhook::client(target.allow_internal);
    // A literal internal address is refused before any attempt (a name, when it resolves).
    let literal = reqwest::Url::parse(&target.url)
        .ok()
        .filter(|_| !target.allow_internal)
        .and_then(|url| super::reach::check_literal(&url).err());
    let started = Instant::now();
    let mut attempt = 0u32;
    let mut active: alert_delivery::ActiveModel = row.into();
    loop {
        attempt += 1;
        let result = match &literal {
            Some(refused) => webhook::Attempt::Blocked(refused.to_string()),
            None => {
                webhook::attempt(
                    &client,
                    &target.url,
                    &target.secret,
                    delivery,
                    trigger,
                    &body,
                    timeout,
                )
                .await
            }
        };
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
            webhook::Attempt::Blocked(error) => (None, Some(error), "failed"),
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
pub(super) async fn close_interrupted(db: &DatabaseConnection) -> Result<u64, Internal> {
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
pub(super) async fn trim_history(db: &DatabaseConnection, newest: i32) -> Result<(), Internal> {
    let below = newest.saturating_sub(KEEP_DELIVERIES);
    if below > 0 {
        alert_delivery::Entity::delete_many()
            .filter(alert_delivery::Column::Id.lte(below))
            .exec(db)
            .await?;
    }
    Ok(())
}
