//! Notices and their delivery: the bounded queue whoever raises a notice hands it to, the
//! targets, and one delivery with its retries and history.

use super::*;

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

    pub(super) fn trigger_name(&self) -> &'static str {
        self.trigger.map_or("test", Trigger::as_str)
    }
}

/// The queue into the delivery worker, kept in [`AppState`].
#[derive(Clone)]
pub struct Notifier {
    pub(super) inner: Arc<NotifierInner>,
}

pub(super) struct NotifierInner {
    pub(super) tx: mpsc::Sender<Notice>,
    /// Taken once by the worker.
    pub(super) rx: Mutex<Option<mpsc::Receiver<Notice>>>,
    pub(super) dropped: AtomicU64,
    /// Bumped on every alert change, so the worker reloads its copy.
    pub(super) generation: AtomicU64,
    pub(super) client: reqwest::Client,
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

    pub(super) fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Relaxed)
    }

    pub(super) fn take_receiver(&self) -> Option<mpsc::Receiver<Notice>> {
        crate::state::lock(&self.inner.rx).take()
    }

    pub(super) fn client(&self) -> reqwest::Client {
        self.inner.client.clone()
    }
}

/// An alert as the worker sends to it.
#[derive(Clone)]
pub(super) struct Target {
    pub(super) id: i32,
    pub(super) name: String,
    pub(super) url: String,
    pub(super) secret: String,
    pub(super) triggers: Vec<Trigger>,
    pub(super) rate_per_minute: Option<u32>,
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
