//! Toll-fraud protection (#15) as a service: the stored fraud policy (one versioned row,
//! audited, in force in the decision point as soon as it is stored), the locked accounts,
//! the findings, and what the decision's worker does after a rule fired: store the
//! findings, store a lock, hang up the locked account's calls over AMI, raise the `fraud`
//! alert.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;

use policy::asterisk::InvalidField;
use policy::fraud::agi::DecisionPoint;
use policy::fraud::ledger::{Outcome, RunningCall, money};
use policy::fraud::policy::{FraudPolicy, FraudSettings, RuleMode};
use policy::fraud::rates::{RateTable, RatesError};
use wire::alerts::Trigger;
use wire::dashboard::TimeSeries;
use wire::fraud::{
    CallRecordView, FraudFindingView, FraudLockView, FraudSeries, FraudStatusView, LiveCallView,
    RatesView,
};

use crate::auth::Admin;
use crate::config::Config;
use crate::core::Core;
use crate::core::notifier::Notice;
use crate::db::entities::{
    call_record, fraud_finding, fraud_history, fraud_lock, fraud_policy, fraud_rates,
};
use crate::fraud::{Followup, Listening};
use crate::services::Internal;
use crate::services::audit::{self, Action, Record};

/// Findings kept at most (the oldest go first): anyone who can place calls can make them.
pub const MAX_FINDINGS: u64 = 100_000;

/// Why a fraud request was refused.
#[derive(Debug, thiserror::Error)]
pub enum FraudError {
    /// A value broke its rule (422, naming the field).
    #[error("{}: {}", .0.field(), .0.rule())]
    Invalid(InvalidField),
    /// `If-Match` named another version than the stored one (412).
    #[error("the fraud policy changed meanwhile: it is at version {current}, not {expected}")]
    Stale { expected: i32, current: i32 },
    /// The account is not locked (404).
    #[error("{0} is not locked")]
    NotLocked(String),
    /// No running call has this id (404).
    #[error("no external call {0} is running")]
    NoSuchCall(String),
    /// The uploaded rate table has a bad line (422, naming it).
    #[error("the rate table was refused: {0}")]
    BadRates(#[from] RatesError),
    /// Asterisk could not be asked to hang up (503).
    #[error("Asterisk did not hang up: {0}")]
    Asterisk(String),
    /// Not the caller's fault (500, logged).
    #[error(transparent)]
    Internal(#[from] Internal),
}

impl From<sea_orm::DbErr> for FraudError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(Internal::Db(e))
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The stored policy and its version; the default at version 0 when none was stored yet.
pub async fn load(db: &impl sea_orm::ConnectionTrait) -> Result<(FraudPolicy, i32), Internal> {
    let Some(row) = fraud_policy::Entity::find_by_id(1).one(db).await? else {
        let policy = FraudPolicy::new(FraudSettings::default())
            .map_err(|e| Internal::Corrupt(format!("default fraud policy: {e}")))?;
        return Ok((policy, 0));
    };
    let settings: FraudSettings = serde_json::from_str(&row.body)
        .map_err(|e| Internal::Corrupt(format!("fraud_policy: {e}")))?;
    let policy =
        FraudPolicy::new(settings).map_err(|e| Internal::Corrupt(format!("fraud_policy: {e}")))?;
    Ok((policy, row.version))
}

/// Where the rendered dialplan asks for the decision, with the stored policy's fail modes.
pub async fn decision_point(
    db: &impl sea_orm::ConnectionTrait,
    config: &Config,
) -> Result<DecisionPoint, Internal> {
    let (policy, _) = load(db).await?;
    Ok(DecisionPoint {
        address: config.fraud_agi_listen,
        fail_national: policy.settings().fail_national,
        fail_international: policy.settings().fail_international,
    })
}

/// Checks and stores `settings` (only over version `expected` when given), then puts them
/// in force in the decision point. The fail modes are rendered into the dialplan: they take
/// effect at the next apply (the console shows the change as pending).
pub async fn update(
    core: &Core,
    admin: &Admin,
    settings: FraudSettings,
    expected: Option<i32>,
) -> Result<(FraudSettings, i32), FraudError> {
    let policy = match FraudPolicy::new(settings) {
        Ok(policy) => policy,
        Err(e) => {
            let detail = format!("refused: {}: {}", e.field(), e.rule());
            audit::record(
                &core.db,
                Record::by_caller(admin.caller(), Action::FraudPolicyUpdate, false, &detail),
            )
            .await?;
            return Err(FraudError::Invalid(e));
        }
    };
    let _guard = core.pbx_lock.lock().await;
    let body = serde_json::to_string(policy.settings())
        .map_err(|e| Internal::Corrupt(format!("serialising the fraud policy: {e}")))?;
    let txn = crate::db::begin_write(&core.db).await?;
    let (_, current) = load(&txn).await?;
    if let Some(expected) = expected.filter(|e| *e != current) {
        return Err(FraudError::Stale { expected, current });
    }
    let version = current + 1;
    fraud_policy::Entity::insert(fraud_policy::ActiveModel {
        id: Set(1),
        body: Set(body),
        version: Set(version),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(fraud_policy::Column::Id)
            .update_columns([
                fraud_policy::Column::Body,
                fraud_policy::Column::Version,
                fraud_policy::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(&txn)
    .await?;
    txn.commit().await?;
    let settings = policy.settings().clone();
    core.fraud.set_policy(policy);
    // The fail modes are in the rendered dialplan: pending changes follow the model.
    core.model.bump();
    let detail = format!("fraud policy version {version}");
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::FraudPolicyUpdate, true, &detail),
    )
    .await?;
    Ok((settings, version))
}

/// The locked accounts, most recent first.
pub async fn locks(db: &impl sea_orm::ConnectionTrait) -> Result<Vec<FraudLockView>, Internal> {
    Ok(fraud_lock::Entity::find()
        .order_by_desc(fraud_lock::Column::LockedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|l| FraudLockView {
            endpoint_id: l.endpoint_id,
            rule: l.rule,
            reason: l.reason,
            locked_at: time(l.locked_at),
        })
        .collect())
}

/// The stored rate table (parsed) and how it is shown; an empty table when none was
/// uploaded.
pub async fn load_rates(
    db: &impl sea_orm::ConnectionTrait,
) -> Result<(RateTable, RatesView), Internal> {
    let Some(row) = fraud_rates::Entity::find_by_id(1).one(db).await? else {
        return Ok((
            RateTable::default(),
            RatesView {
                prefixes: 0,
                updated_at: String::new(),
            },
        ));
    };
    let table =
        RateTable::parse(&row.body).map_err(|e| Internal::Corrupt(format!("fraud_rates: {e}")))?;
    Ok((
        table,
        RatesView {
            prefixes: row.prefixes,
            updated_at: time(row.updated_at),
        },
    ))
}

/// The rate table as uploaded (CSV), empty when none was.
pub async fn rates_csv(db: &impl sea_orm::ConnectionTrait) -> Result<String, Internal> {
    Ok(fraud_rates::Entity::find_by_id(1)
        .one(db)
        .await?
        .map(|r| r.body)
        .unwrap_or_default())
}

/// Checks and stores an uploaded rate table (CSV, `prefix,per_minute`) and puts it in force;
/// a table with a bad line is refused whole and the old one stays.
pub async fn store_rates(core: &Core, admin: &Admin, csv: String) -> Result<RatesView, FraudError> {
    let table = match RateTable::parse(&csv) {
        Ok(table) => table,
        Err(e) => {
            let detail = format!("rate table refused: {e}");
            audit::record(
                &core.db,
                Record::by_caller(admin.caller(), Action::FraudRatesUpdate, false, &detail),
            )
            .await?;
            return Err(e.into());
        }
    };
    let prefixes = i32::try_from(table.len()).unwrap_or(i32::MAX);
    let now = Utc::now();
    fraud_rates::Entity::insert(fraud_rates::ActiveModel {
        id: Set(1),
        body: Set(csv),
        prefixes: Set(prefixes),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(fraud_rates::Column::Id)
            .update_columns([
                fraud_rates::Column::Body,
                fraud_rates::Column::Prefixes,
                fraud_rates::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(&core.db)
    .await?;
    core.fraud.set_rates(table);
    let detail = format!("rate table of {prefixes} prefixes");
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::FraudRatesUpdate, true, &detail),
    )
    .await?;
    Ok(RatesView {
        prefixes,
        updated_at: time(now),
    })
}

/// What the decision point needs from the database at start: the locks first (an account
/// locked before the restart stays locked whatever else cannot be read), then the policy,
/// the rate table and each endpoint's history. Each part that cannot be read is logged and
/// left at its default; the count of parts that failed is returned.
pub async fn restore(core: &Core) -> usize {
    let mut failed = 0;
    match restore_locks(core).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            locked = n,
            "fraud: accounts locked before the restart stay locked"
        ),
        Err(e) => {
            failed += 1;
            tracing::error!(error = %e, "fraud: the stored locks cannot be read");
        }
    }
    match load(&core.db).await {
        Ok((policy, _)) => core.fraud.set_policy(policy),
        Err(e) => {
            failed += 1;
            tracing::error!(error = %e, "fraud: the stored policy cannot be read; the defaults are in force");
        }
    }
    match load_rates(&core.db).await {
        Ok((rates, _)) => core.fraud.set_rates(rates),
        Err(e) => {
            failed += 1;
            tracing::error!(error = %e, "fraud: the stored rate table cannot be read; every call costs the unknown rate");
        }
    }
    match fraud_history::Entity::find().all(&core.db).await {
        Ok(seen) => {
            for seen in seen {
                core.fraud.remember(&seen.endpoint_id, seen.seen);
            }
        }
        Err(e) => {
            failed += 1;
            tracing::error!(error = %e, "fraud: the endpoints' history cannot be read; first networks are learned again");
        }
    }
    failed
}

/// The newest call records (at most `limit`), filtered by endpoint, trunk and the start of
/// the number.
pub async fn call_records(
    db: &impl sea_orm::ConnectionTrait,
    endpoint_id: Option<&str>,
    trunk: Option<&str>,
    number_prefix: Option<&str>,
    limit: u64,
) -> Result<Vec<CallRecordView>, Internal> {
    let mut query = call_record::Entity::find().order_by_desc(call_record::Column::Id);
    if let Some(endpoint_id) = endpoint_id {
        query = query.filter(call_record::Column::EndpointId.eq(endpoint_id));
    }
    if let Some(trunk) = trunk {
        query = query.filter(call_record::Column::Trunk.eq(trunk));
    }
    if let Some(prefix) = number_prefix {
        query = query.filter(call_record::Column::Number.starts_with(prefix));
    }
    Ok(query
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|r| CallRecordView {
            id: r.id,
            uniqueid: r.uniqueid,
            endpoint_id: r.endpoint_id,
            trunk: r.trunk,
            source: r.source,
            number: r.number,
            region: r.region,
            started_at: time(r.started_at),
            ended_at: time(r.ended_at),
            dial_status: r.dial_status,
            answered_secs: r.answered_secs,
            cost: money(u64::try_from(r.cost_micros).unwrap_or(0)),
        })
        .collect())
}

/// Rows the dashboard's series read at most (a day of a busy PBX).
const SERIES_ROWS: u64 = 200_000;

/// The dashboard's external calls and spend per hour over the last 24 hours: ended calls
/// by how they ended, attempts the rules refused, and what the ended calls cost.
pub async fn series(db: &impl sea_orm::ConnectionTrait) -> Result<FraudSeries, Internal> {
    let now_hour = Utc::now().timestamp().div_euclid(3600);
    let first = now_hour - 23;
    let since = DateTime::<Utc>::from_timestamp(first * 3600, 0).unwrap_or_default();
    let slot = |at: DateTime<Utc>| usize::try_from(at.timestamp().div_euclid(3600) - first).ok();
    let mut calls = vec![vec![0u64; 3]; 24];
    let mut spend = vec![vec![0u64; 1]; 24];
    let ended: Vec<(DateTime<Utc>, String, i64)> = call_record::Entity::find()
        .select_only()
        .columns([
            call_record::Column::StartedAt,
            call_record::Column::DialStatus,
            call_record::Column::CostMicros,
        ])
        .filter(call_record::Column::StartedAt.gte(since))
        .limit(SERIES_ROWS)
        .into_tuple()
        .all(db)
        .await?;
    for (at, status, cost) in ended {
        if let Some(i) = slot(at).filter(|i| *i < 24) {
            calls[i][usize::from(status != "ANSWER")] += 1;
            spend[i][0] += u64::try_from(cost).unwrap_or(0) / (policy::fraud::rates::MICROS / 100);
        }
    }
    let refused: Vec<DateTime<Utc>> = fraud_finding::Entity::find()
        .select_only()
        .column(fraud_finding::Column::At)
        .filter(fraud_finding::Column::At.gte(since))
        .filter(fraud_finding::Column::Outcome.ne("allow"))
        // One finding per refused attempt: the rule that decided it (several may fire).
        .group_by(fraud_finding::Column::At)
        .group_by(fraud_finding::Column::EndpointId)
        .group_by(fraud_finding::Column::Number)
        .limit(SERIES_ROWS)
        .into_tuple()
        .all(db)
        .await?;
    for at in refused {
        if let Some(i) = slot(at).filter(|i| *i < 24) {
            calls[i][2] += 1;
        }
    }
    let series = |kinds: &[&str], buckets| TimeSeries {
        bucket_secs: 3600,
        start_unix: first * 3600,
        kinds: kinds.iter().map(|k| (*k).to_owned()).collect(),
        buckets,
    };
    Ok(FraudSeries {
        calls: series(&["answered", "unanswered", "refused"], calls),
        spend: series(&["spend"], spend),
    })
}

/// The stored locks, put in force in the decision point (at start).
pub async fn restore_locks(core: &Core) -> Result<usize, Internal> {
    let locked: Vec<String> = locks(&core.db)
        .await?
        .into_iter()
        .map(|l| l.endpoint_id)
        .collect();
    let n = locked.len();
    core.fraud.restore_locks(locked);
    Ok(n)
}

/// Unlocks `endpoint_id`: its calls are decided afresh from now on.
pub async fn unlock(core: &Core, admin: &Admin, endpoint_id: &str) -> Result<(), FraudError> {
    let deleted = fraud_lock::Entity::delete_by_id(endpoint_id.to_owned())
        .exec(&core.db)
        .await?;
    let was_locked = core.fraud.unlock(endpoint_id);
    if deleted.rows_affected == 0 && !was_locked {
        return Err(FraudError::NotLocked(endpoint_id.to_owned()));
    }
    let detail = format!("unlocked {endpoint_id}");
    audit::record(
        &core.db,
        Record::by_caller(admin.caller(), Action::FraudUnlock, true, &detail),
    )
    .await?;
    Ok(())
}

/// The newest findings (at most `limit`), for one endpoint when given.
pub async fn findings(
    db: &impl sea_orm::ConnectionTrait,
    endpoint_id: Option<&str>,
    limit: u64,
) -> Result<Vec<FraudFindingView>, Internal> {
    let mut query = fraud_finding::Entity::find().order_by_desc(fraud_finding::Column::Id);
    if let Some(endpoint_id) = endpoint_id {
        query = query.filter(fraud_finding::Column::EndpointId.eq(endpoint_id));
    }
    Ok(query
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|f| FraudFindingView {
            id: f.id,
            at: time(f.at),
            endpoint_id: f.endpoint_id,
            trunk: f.trunk,
            number: f.number,
            region: f.region,
            outcome: f.outcome,
            rule: f.rule,
            mode: f.mode,
            reason: f.reason,
        })
        .collect())
}

fn call_view(call: &RunningCall) -> LiveCallView {
    LiveCallView {
        uniqueid: call.uniqueid.clone(),
        channel: call.channel.clone(),
        endpoint_id: call.endpoint.clone(),
        trunk: call.trunk.clone(),
        number: call.number.clone(),
        region: call.region.clone(),
        started_at: time(DateTime::<Utc>::from(call.started_at)),
        seconds: call.started.elapsed().as_secs(),
    }
}

/// The external calls running now, oldest first.
#[must_use]
pub fn live_calls(core: &Core) -> Vec<LiveCallView> {
    core.fraud.running().iter().map(call_view).collect()
}

/// Whether the decision is served, and its counts.
#[must_use]
pub fn status(core: &Core) -> FraudStatusView {
    use std::sync::atomic::Ordering::Relaxed;
    let (listening, error) = match core.fraud.listening() {
        Listening::On(_) => (true, None),
        Listening::NotStarted => (false, Some("not started".to_owned())),
        Listening::Failed(e) => (false, Some(e)),
    };
    let c = &core.fraud.counters;
    let spent = core.fraud.spent();
    FraudStatusView {
        listening,
        address: core.config.fraud_agi_listen.to_string(),
        error,
        allowed: c.allowed.load(Relaxed),
        blocked: c.blocked.load(Relaxed),
        locked: c.locked.load(Relaxed),
        malformed: c.malformed.load(Relaxed),
        running_calls: core.fraud.running_count(),
        locked_accounts: core.fraud.locked_count(),
        spent_last_hour: money(spent.0),
        spent_last_day: money(spent.1),
        rate_prefixes: core.fraud.rates().len(),
    }
}

/// Hangs up the running call `uniqueid` at an administrator's request.
pub async fn hang_up_call(core: &Core, admin: &Admin, uniqueid: &str) -> Result<(), FraudError> {
    let call = core
        .fraud
        .call(uniqueid)
        .ok_or_else(|| FraudError::NoSuchCall(uniqueid.to_owned()))?;
    let outcome = hang_up(core, std::slice::from_ref(&call)).await;
    let detail = format!(
        "hang up {} ({} to +{}): {}",
        call.channel,
        call.endpoint,
        call.number,
        outcome
            .as_ref()
            .map_or_else(ToString::to_string, |()| "done".to_owned())
    );
    audit::record(
        &core.db,
        Record::by_caller(
            admin.caller(),
            Action::FraudHangup,
            outcome.is_ok(),
            &detail,
        ),
    )
    .await?;
    outcome
}

/// Asks Asterisk to hang up `calls` (the apply account, which may write `call`). A call
/// that already ended is not an error.
async fn hang_up(core: &Core, calls: &[RunningCall]) -> Result<(), FraudError> {
    if calls.is_empty() {
        return Ok(());
    }
    // The apply account is in the policy alone; the endpoints and trunks are not needed.
    let (policy, _) = crate::services::pbx::load_policy(&core.db).await?;
    let timeout = Duration::from_secs(u64::from(core.config.asterisk_ami_timeout_secs));
    let mut ami = crate::services::apply_account::login(core, &policy, timeout)
        .await
        .map_err(|e| FraudError::Asterisk(e.to_string()))?;
    let mut failed = Vec::new();
    for call in calls {
        // Cause 21: call rejected.
        if let Err(e) = ami
            .action("Hangup", &[("Channel", &call.channel), ("Cause", "21")])
            .await
        {
            // "No such channel": it hung up meanwhile.
            if !e.to_string().contains("No such channel") {
                failed.push(format!("{}: {e}", call.channel));
            }
        }
    }
    ami.logoff().await;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(FraudError::Asterisk(failed.join("; ")))
    }
}

fn mode_word(mode: RuleMode) -> &'static str {
    match mode {
        RuleMode::Off => "off",
        RuleMode::Report => "report",
        RuleMode::Block => "block",
        RuleMode::Lock => "lock",
    }
}

fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allow => "allow",
        Outcome::Block => "block",
        Outcome::Lock => "lock",
    }
}

/// Where and when a rule fired: the columns its findings share.
struct CallFacts<'a> {
    at: DateTime<Utc>,
    endpoint: &'a str,
    trunk: &'a str,
    number: &'a str,
    region: &'a str,
}

impl CallFacts<'_> {
    /// One finding's row: `outcome` is what happened to the call (`allow`, `block`, `lock`).
    fn finding(
        &self,
        outcome: &str,
        rule: &str,
        mode: RuleMode,
        reason: &str,
    ) -> fraud_finding::ActiveModel {
        fraud_finding::ActiveModel {
            at: Set(self.at),
            endpoint_id: Set(self.endpoint.to_owned()),
            trunk: Set(self.trunk.to_owned()),
            number: Set(self.number.to_owned()),
            region: Set(self.region.to_owned()),
            outcome: Set(outcome.to_owned()),
            rule: Set(rule.to_owned()),
            mode: Set(mode_word(mode).to_owned()),
            reason: Set(reason.to_owned()),
            ..Default::default()
        }
    }
}

/// Carries out one follow-up of the decision point: what a fired rule leaves to do.
pub async fn follow_up(core: &Core, followup: Followup) -> Result<(), Internal> {
    match followup {
        Followup::Decided {
            at,
            endpoint,
            trunk,
            dialled,
            decision,
        } => {
            let at = DateTime::<Utc>::from(at);
            let (number, region) = match &decision.destination {
                policy::fraud::destination::Destination::External { e164, region, .. } => {
                    (e164.clone(), region.code.to_owned())
                }
                policy::fraud::destination::Destination::Unknown { e164 } => {
                    (e164.clone(), String::new())
                }
                _ => (dialled.clone(), String::new()),
            };
            let outcome = outcome_word(decision.outcome);
            let rows = decision.findings.iter().map(|f| {
                let call = CallFacts {
                    at,
                    endpoint: &endpoint,
                    trunk: &trunk,
                    number: &number,
                    region: &region,
                };
                call.finding(outcome, f.rule, f.mode, &f.reason)
            });
            // The lock first (it hangs up first): every millisecond is a billed one, and a
            // failed write below must not keep the calls up.
            if decision.outcome == Outcome::Lock {
                let cause = decision
                    .findings
                    .iter()
                    .find(|f| f.mode == RuleMode::Lock)
                    .or(decision.findings.first());
                let (rule, reason) =
                    cause.map_or(("lock", String::new()), |f| (f.rule, f.reason.clone()));
                lock_account(core, &endpoint, rule, &reason, &decision.hang_up).await?;
            }
            if !decision.findings.is_empty() {
                fraud_finding::Entity::insert_many(rows)
                    .exec(&core.db)
                    .await?;
            }
            remember(core, &endpoint, &decision.learned, at).await?;
            if !decision.findings.is_empty() {
                let reasons: Vec<&str> = decision
                    .findings
                    .iter()
                    .map(|f| f.reason.as_str())
                    .collect();
                core.alerts.notify(Notice::new(
                    Some(Trigger::Fraud),
                    format!(
                        "{endpoint} calling +{number}: {outcome} ({})",
                        reasons.join("; ")
                    ),
                    json!({
                        "endpoint_id": endpoint,
                        "trunk": trunk,
                        "number": number,
                        "region": region,
                        "outcome": outcome,
                        "rules": decision.findings.iter().map(|f| f.rule).collect::<Vec<_>>(),
                    }),
                ));
            }
        }
        Followup::Ended {
            at,
            ended,
            dial_status,
        } => {
            let call = &ended.call;
            call_record::ActiveModel {
                uniqueid: Set(call.uniqueid.clone()),
                endpoint_id: Set(call.endpoint.clone()),
                trunk: Set(call.trunk.clone()),
                source: Set(call.source.map(|s| s.to_string()).unwrap_or_default()),
                number: Set(call.number.clone()),
                region: Set(call.region.clone()),
                started_at: Set(DateTime::<Utc>::from(call.started_at)),
                ended_at: Set(DateTime::<Utc>::from(at)),
                dial_status: Set(dial_status),
                answered_secs: Set(i64::try_from(ended.answered_secs).unwrap_or(i64::MAX)),
                cost_micros: Set(i64::try_from(ended.cost).unwrap_or(i64::MAX)),
                ..Default::default()
            }
            .insert(&core.db)
            .await?;
        }
        Followup::LoggedIn {
            at,
            endpoint,
            source,
            finding,
            learned,
        } => {
            let at = DateTime::<Utc>::from(at);
            remember(core, &endpoint, &learned, at).await?;
            let Some(f) = finding else {
                return Ok(());
            };
            let locks = f.mode == RuleMode::Lock;
            let call = CallFacts {
                at,
                endpoint: &endpoint,
                trunk: "",
                number: "",
                region: "",
            };
            call.finding(
                if locks { "lock" } else { "allow" },
                f.rule,
                f.mode,
                &f.reason,
            )
            .insert(&core.db)
            .await?;
            if locks {
                let calls = core.fraud.calls_of(&endpoint);
                lock_account(core, &endpoint, f.rule, &f.reason, &calls).await?;
            }
            core.alerts.notify(Notice::new(
                Some(Trigger::Fraud),
                f.reason.clone(),
                json!({"endpoint_id": endpoint, "source": source.to_string(),
                       "rules": [f.rule], "outcome": mode_word(f.mode)}),
            ));
        }
        Followup::Alarm { at, alarm } => {
            let endpoint = alarm.endpoint.clone().unwrap_or_default();
            let call = alarm.hang_up.first();
            let facts = CallFacts {
                at: DateTime::<Utc>::from(at),
                endpoint: &endpoint,
                trunk: call.map_or("", |c| c.trunk.as_str()),
                number: call.map_or("", |c| c.number.as_str()),
                region: call.map_or("", |c| c.region.as_str()),
            };
            let outcome = match alarm.mode {
                RuleMode::Lock => "lock",
                RuleMode::Block => "block",
                RuleMode::Off | RuleMode::Report => "allow",
            };
            facts
                .finding(outcome, alarm.rule, alarm.mode, &alarm.reason)
                .insert(&core.db)
                .await?;
            match alarm.mode {
                RuleMode::Lock if !endpoint.is_empty() => {
                    // The watch locked it already; store the lock and hang up.
                    lock_account(core, &endpoint, alarm.rule, &alarm.reason, &alarm.hang_up)
                        .await?;
                }
                RuleMode::Lock | RuleMode::Block => {
                    if let Err(e) = hang_up(core, &alarm.hang_up).await {
                        tracing::error!(error = %e, rule = alarm.rule, "fraud: calls could not be hung up");
                    }
                }
                RuleMode::Off | RuleMode::Report => {}
            }
            core.alerts.notify(Notice::new(
                Some(Trigger::Fraud),
                alarm.reason.clone(),
                json!({"endpoint_id": alarm.endpoint, "rules": [alarm.rule],
                       "outcome": mode_word(alarm.mode)}),
            ));
        }
    }
    Ok(())
}

/// Stores what `endpoint` did for the first time (`region FR`, `network …`).
async fn remember(
    core: &Core,
    endpoint: &str,
    learned: &[String],
    at: DateTime<Utc>,
) -> Result<(), Internal> {
    if learned.is_empty() {
        return Ok(());
    }
    let seen = learned.iter().map(|what| fraud_history::ActiveModel {
        endpoint_id: Set(endpoint.to_owned()),
        seen: Set(what.clone()),
        first_at: Set(at),
    });
    fraud_history::Entity::insert_many(seen)
        .on_conflict(
            OnConflict::columns([
                fraud_history::Column::EndpointId,
                fraud_history::Column::Seen,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&core.db)
        .await?;
    Ok(())
}

/// Stores the lock of `endpoint` (the decision point holds it already) and hangs up `calls`.
async fn lock_account(
    core: &Core,
    endpoint: &str,
    rule: &str,
    reason: &str,
    calls: &[RunningCall],
) -> Result<(), Internal> {
    // Hang up first: every millisecond is a billed one.
    let hung_up = hang_up(core, calls).await;
    if !core.fraud.is_locked(endpoint) {
        // An administrator unlocked it while this waited in the queue: the unlock wins.
        return Ok(());
    }
    fraud_lock::Entity::insert(fraud_lock::ActiveModel {
        endpoint_id: Set(endpoint.to_owned()),
        rule: Set(rule.to_owned()),
        reason: Set(reason.to_owned()),
        locked_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(fraud_lock::Column::EndpointId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&core.db)
    .await?;
    let detail = match &hung_up {
        Ok(()) => format!(
            "{endpoint} locked ({rule}); {} running call(s) hung up",
            calls.len()
        ),
        Err(e) => format!("{endpoint} locked ({rule}); hanging up its calls failed: {e}"),
    };
    tracing::warn!(endpoint, rule, reason, "fraud: account locked");
    audit::record(
        &core.db,
        Record {
            actor: None,
            source_ip: None,
            action: Action::FraudLock,
            success: hung_up.is_ok(),
            detail: &detail,
        },
    )
    .await?;
    Ok(())
}

/// Call records kept at most (the oldest go first).
pub const MAX_CALL_RECORDS: u64 = 1_000_000;

/// Deletes findings beyond the newest [`MAX_FINDINGS`] and call records beyond the newest
/// [`MAX_CALL_RECORDS`]; the rows deleted.
pub async fn enforce_retention(db: &impl sea_orm::ConnectionTrait) -> Result<u64, Internal> {
    let findings =
        keep_newest::<fraud_finding::Entity>(db, fraud_finding::Column::Id, MAX_FINDINGS).await?;
    let records =
        keep_newest::<call_record::Entity>(db, call_record::Column::Id, MAX_CALL_RECORDS).await?;
    Ok(findings + records)
}

/// Deletes the rows of `entity` beyond the newest `keep` by `id`.
async fn keep_newest<E: EntityTrait>(
    db: &impl sea_orm::ConnectionTrait,
    id: E::Column,
    keep: u64,
) -> Result<u64, Internal> {
    let newest = E::find()
        .select_only()
        .column_as(id.max(), "max")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten();
    let Some(newest) = newest else {
        return Ok(0);
    };
    let keep_from = newest - i64::try_from(keep).unwrap_or(i64::MAX) + 1;
    Ok(E::delete_many()
        .filter(id.lt(keep_from))
        .exec(db)
        .await?
        .rows_affected)
}
