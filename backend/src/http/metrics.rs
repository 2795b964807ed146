//! `/metrics` in the Prometheus text format: HTTP requests and latency by route, the guard's
//! counters, stored events by kind, bans, the taps (AMI connection included), configuration
//! revisions and apply results, and the firewall's state.
//!
//! HTTP figures are counted by a middleware as requests finish; everything else is read at
//! scrape time from where it already lives (the guard, the database), so there is one
//! source of truth and nothing to keep in sync.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use sea_orm::{ConnectionTrait, Statement};

use crate::core::Core;
use crate::guard::ami_tap::TapState;
use crate::http::request_id::method_label;

/// One histogram of [`crate::guard::enforce`], unlabelled.
fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    h: &crate::guard::latency::HistogramSnapshot,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (bound, n) in crate::guard::latency::BUCKETS.iter().zip(h.buckets) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum {}", h.sum_secs);
    let _ = writeln!(out, "{name}_count {}", h.count);
}

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Debug, Default)]
struct RouteStats {
    /// Requests by (method, status).
    count: BTreeMap<(String, u16), u64>,
    /// Cumulative histogram counts per bucket, then the total and the sum.
    buckets: [u64; BUCKETS.len()],
    total: u64,
    sum_secs: f64,
}

/// HTTP request counters, keyed by route template (`/api/v1/endpoints/{id}`), never by the
/// raw path: a scanner's random URLs must not grow the table.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    routes: Mutex<BTreeMap<String, RouteStats>>,
}

impl HttpMetrics {
    fn record(&self, route: String, method: &str, status: u16, secs: f64) {
        let mut routes = crate::sync::lock(&self.routes);
        let stats = routes.entry(route).or_default();
        *stats.count.entry((method.to_owned(), status)).or_default() += 1;
        for (bucket, bound) in stats.buckets.iter_mut().zip(BUCKETS) {
            if secs <= bound {
                *bucket += 1;
            }
        }
        stats.total += 1;
        stats.sum_secs += secs;
    }

    fn render(&self, out: &mut String) {
        let routes = crate::sync::lock(&self.routes);
        out.push_str(
            "# HELP sipwarden_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE sipwarden_http_requests_total counter\n");
        for (route, stats) in routes.iter() {
            for ((method, status), n) in &stats.count {
                let _ = writeln!(
                    out,
                    "sipwarden_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        out.push_str(
            "# HELP sipwarden_http_request_duration_seconds HTTP request latency by route.\n",
        );
        out.push_str("# TYPE sipwarden_http_request_duration_seconds histogram\n");
        for (route, stats) in routes.iter() {
            let route = escape(route);
            for (n, bound) in stats.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "sipwarden_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "sipwarden_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                stats.total
            );
            let _ = writeln!(
                out,
                "sipwarden_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                stats.sum_secs
            );
            let _ = writeln!(
                out,
                "sipwarden_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                stats.total
            );
        }
    }
}

/// Label values are quoted: backslash, quote and newline must be escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Counts every request by its route template once it is answered.
pub async fn count_requests(
    State(counters): State<Arc<HttpMetrics>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method()).to_owned();
    let started = Instant::now();
    let res = next.run(req).await;
    counters.record(
        route,
        &method,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}

fn gauge(out: &mut String, name: &str, help: &str, kind: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// Rows of `(label, count)` from a grouping query; empty on error (logged).
async fn grouped(state: &Core, sql: &str) -> Vec<(String, f64)> {
    let backend = state.db.get_database_backend();
    match state
        .db
        .query_all(Statement::from_string(backend, sql.to_owned()))
        .await
    {
        Ok(rows) => rows
            .iter()
            .filter_map(|r| {
                let label: String = r.try_get_by_index(0).ok()?;
                let n: i64 = r.try_get_by_index(1).ok()?;
                #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
                Some((label, n as f64))
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics query failed");
            Vec::new()
        }
    }
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    security((), ("bearerAuth" = [])),
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 401, description = "The server requires an API token for metrics, or the token is bad",
            content((String = "text/plain"), (crate::http::error::ProblemDoc = "application/problem+json"))),
    ))]
pub async fn metrics(
    State(state): State<Core>,
    State(counters): State<Arc<HttpMetrics>>,
    req: Request,
) -> Response {
    // Loopback (a Prometheus beside it) reads freely unless told otherwise; anyone else
    // shows a token. The resolved client counts, so a trusted proxy on loopback opens
    // nothing; behind a proxy nobody named (plain HTTP, no trusted proxies) every client
    // looks like loopback, so there loopback is nobody special.
    let proxied_blind = state.config.plain_http && state.config.trusted_proxies.is_empty();
    let local = !proxied_blind
        && crate::http::extract::peer_ip(req.extensions())
            .to_canonical()
            .is_loopback();
    if (state.config.metrics_require_token || !local)
        && req
            .extensions()
            .get::<crate::auth::Caller>()
            .is_none_or(|c| c.token_id.is_none())
    {
        let mut res = (
            StatusCode::UNAUTHORIZED,
            "metrics need an API token: Authorization: Bearer swt_...\n",
        )
            .into_response();
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return res;
    }
    let mut out = String::with_capacity(8192);
    counters.render(&mut out);

    #[allow(clippy::cast_precision_loss, reason = "counters far below 2^52")]
    let f = |n: u64| n as f64;
    let running = state.guard.get();
    let stats = running.map(|r| r.guard.stats());
    let counter = |pick: fn(&policy::guard::GuardStats) -> u64| {
        vec![(String::new(), stats.as_ref().map_or(0.0, |s| f(pick(s))))]
    };
    gauge(
        &mut out,
        "sipwarden_guard_running",
        "1 when the guard runs.",
        "gauge",
        &[(String::new(), if running.is_some() { 1.0 } else { 0.0 })],
    );
    gauge(
        &mut out,
        "sipwarden_guard_messages_total",
        "Observations the guard judged.",
        "counter",
        &counter(|s| s.messages),
    );
    gauge(
        &mut out,
        "sipwarden_guard_events_total",
        "Events the guard raised.",
        "counter",
        &counter(|s| s.events),
    );
    gauge(
        &mut out,
        "sipwarden_guard_bans_total",
        "Bans the guard decided.",
        "counter",
        &counter(|s| s.bans),
    );
    gauge(
        &mut out,
        "sipwarden_guard_tracked_sources",
        "Sources the engine tracks now.",
        "gauge",
        &counter(|s| s.tracked_sources),
    );
    gauge(
        &mut out,
        "sipwarden_guard_source_evictions_total",
        "Sources evicted to bound memory.",
        "counter",
        &counter(|s| s.source_evictions),
    );
    gauge(
        &mut out,
        "sipwarden_guard_state_bytes",
        "Heap bytes of the engine's tables.",
        "gauge",
        &counter(|s| s.state_bytes),
    );
    gauge(
        &mut out,
        "sipwarden_guard_port_bans_total",
        "Bans of one source port of an address (one phone behind a NAT office).",
        "counter",
        &counter(|s| s.port_bans),
    );
    gauge(
        &mut out,
        "sipwarden_guard_unproven_bans_total",
        "Short bans on unproven evidence (one UDP datagram, whose source may be forged).",
        "counter",
        &counter(|s| s.unproven_bans),
    );
    gauge(
        &mut out,
        "sipwarden_guard_protected_total",
        "Findings against a trunk, the host's gateway or resolver, or an address that logged in, reported instead of banned.",
        "counter",
        &counter(|s| s.protected),
    );
    gauge(
        &mut out,
        "sipwarden_guard_known_addresses",
        "Addresses that logged in within the trust period.",
        "gauge",
        &counter(|s| s.tracked_known),
    );
    fraud_metrics(&mut out, &state);
    if let Some(latency) = running.map(|r| &r.ban_latency) {
        histogram(
            &mut out,
            "sipwarden_ban_to_kernel_seconds",
            "From the capture of the packet that decided a ban to the kernel's acknowledgement of it.",
            &latency.to_kernel.snapshot(),
        );
        histogram(
            &mut out,
            "sipwarden_ban_recorded_seconds",
            "From the capture of the packet that decided a ban to the end of its recording in the database.",
            &latency.to_record.snapshot(),
        );
        gauge(
            &mut out,
            "sipwarden_ban_queue_dropped_total",
            "Ban decisions the kernel writer's queue had no room for.",
            "counter",
            &[(
                String::new(),
                f(latency.dropped.load(std::sync::atomic::Ordering::Relaxed)),
            )],
        );
    }
    let taps: Vec<(String, f64)> = running
        .map(|r| {
            r.taps
                .iter()
                .map(|(name, rx)| {
                    let up = matches!(*rx.borrow(), TapState::Connected);
                    (format!("tap=\"{name}\""), if up { 1.0 } else { 0.0 })
                })
                .collect()
        })
        .unwrap_or_default();
    gauge(
        &mut out,
        "sipwarden_tap_up",
        "1 when the tap sees traffic (ami: AMI connected).",
        "gauge",
        &taps,
    );
    gauge(
        &mut out,
        "sipwarden_events_stored_total",
        "Guard events written since start.",
        "counter",
        &[(String::new(), f(state.events.stored()))],
    );
    gauge(
        &mut out,
        "sipwarden_events_dropped_total",
        "Guard events the store's queue had no room for.",
        "counter",
        &[(
            String::new(),
            running.map_or(0.0, |r| f(r.guard.store_dropped())),
        )],
    );
    gauge(
        &mut out,
        "sipwarden_alert_notices_dropped_total",
        "Alert notices dropped because the delivery queue was full.",
        "counter",
        &[(String::new(), f(state.alerts.dropped()))],
    );
    let by_kind: Vec<(String, f64)> = grouped(
        &state,
        "SELECT kind, SUM(count) FROM event_rollups GROUP BY kind",
    )
    .await
    .into_iter()
    .map(|(k, n)| (format!("kind=\"{}\"", escape(&k)), n))
    .collect();
    gauge(
        &mut out,
        "sipwarden_events_by_kind",
        "Stored guard events by kind (rollups).",
        "gauge",
        &by_kind,
    );
    let bans: Vec<(String, f64)> = grouped(
        &state,
        "SELECT origin, COUNT(*) FROM bans WHERE expires_at IS NULL OR expires_at > datetime('now') GROUP BY origin",
    )
    .await
    .into_iter()
    .map(|(o, n)| (format!("origin=\"{}\"", escape(&o)), n))
    .collect();
    gauge(
        &mut out,
        "sipwarden_bans_active",
        "Bans in force by origin (api, guard).",
        "gauge",
        &bans,
    );
    let revisions: Vec<(String, f64)> = grouped(
        &state,
        "SELECT status, COUNT(*) FROM config_revisions GROUP BY status",
    )
    .await
    .into_iter()
    .map(|(s, n)| (format!("status=\"{}\"", escape(&s)), n))
    .collect();
    gauge(
        &mut out,
        "sipwarden_config_revisions",
        "Configuration revisions by status (failed = apply failed).",
        "gauge",
        &revisions,
    );
    let live: Vec<(String, f64)> = grouped(
        &state,
        "SELECT 'live', MAX(number) FROM config_revisions WHERE status = 'live'",
    )
    .await
    .into_iter()
    .map(|(_, n)| (String::new(), n))
    .collect();
    gauge(
        &mut out,
        "sipwarden_config_live_revision",
        "The configuration revision live in Asterisk.",
        "gauge",
        &live,
    );
    let firewall = match (
        state.firewall.pending().await,
        state.firewall.live_policy().await,
    ) {
        (Ok(Some(_)), _) => 2.0,
        (Ok(None), Ok(Some(p))) if p.enabled => 1.0,
        _ => 0.0,
    };
    gauge(
        &mut out,
        "sipwarden_firewall_state",
        "0 not applied or disabled, 1 applied and confirmed, 2 awaiting confirmation.",
        "gauge",
        &[(String::new(), firewall)],
    );

    let mut res = out.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

/// The pre-call fraud decision: whether it is served, its verdicts, what runs and is
/// locked, and the spend.
fn fraud_metrics(out: &mut String, state: &Core) {
    use std::sync::atomic::Ordering::Relaxed;
    let one = |v: f64| [(String::new(), v)];
    #[allow(
        clippy::cast_precision_loss,
        reason = "counts and spend far below 2^52"
    )]
    let f = |v: u64| v as f64;
    let fraud = &state.fraud;
    let listening = matches!(fraud.listening(), crate::fraud::Listening::On(_));
    gauge(
        out,
        "sipwarden_fraud_decision_listening",
        "1 when the pre-call fraud decision (FastAGI) is served.",
        "gauge",
        &one(if listening { 1.0 } else { 0.0 }),
    );
    let c = &fraud.counters;
    gauge(
        out,
        "sipwarden_fraud_decisions_total",
        "Pre-call decisions by outcome (malformed: refused questions that were not well formed).",
        "counter",
        &[
            ("outcome=\"allow\"".to_owned(), f(c.allowed.load(Relaxed))),
            ("outcome=\"block\"".to_owned(), f(c.blocked.load(Relaxed))),
            ("outcome=\"lock\"".to_owned(), f(c.locked.load(Relaxed))),
            (
                "outcome=\"malformed\"".to_owned(),
                f(c.malformed.load(Relaxed)),
            ),
        ],
    );
    gauge(
        out,
        "sipwarden_fraud_followups_dropped_total",
        "Fired rules whose recording the worker's queue had no room for.",
        "counter",
        &one(f(c.dropped.load(Relaxed))),
    );
    gauge(
        out,
        "sipwarden_fraud_running_calls",
        "External calls let through and still running.",
        "gauge",
        &one(f(fraud.running_count() as u64)),
    );
    gauge(
        out,
        "sipwarden_fraud_locked_accounts",
        "Accounts a fraud rule locked.",
        "gauge",
        &one(f(fraud.locked_count() as u64)),
    );
    let (hour, day) = fraud.spent();
    let micros = policy::fraud::rates::MICROS as f64;
    gauge(
        out,
        "sipwarden_fraud_spend",
        "Spent on external calls (rate table's currency), running calls included.",
        "gauge",
        &[
            ("window=\"hour\"".to_owned(), f(hour) / micros),
            ("window=\"day\"".to_owned(), f(day) / micros),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label(&http::Method::DELETE), "DELETE");
        for invented in [
            "PROPFIND",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "get",
        ] {
            let method = http::Method::from_bytes(invented.as_bytes()).expect("a token");
            assert_eq!(method_label(&method), "other", "{invented}");
        }
    }

    #[test]
    fn requests_are_counted_per_route_with_a_cumulative_histogram() {
        let m = HttpMetrics::default();
        m.record("/api/v1/bans".into(), "GET", 200, 0.003);
        m.record("/api/v1/bans".into(), "GET", 200, 0.2);
        m.record("/api/v1/bans".into(), "POST", 422, 0.004);
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains("sipwarden_http_requests_total{route=\"/api/v1/bans\",method=\"GET\",status=\"200\"} 2"), "{out}");
        assert!(out.contains(
            "sipwarden_http_requests_total{route=\"/api/v1/bans\",method=\"POST\",status=\"422\"} 1"
        ));
        assert!(out.contains("le=\"0.005\"} 2"), "{out}");
        assert!(out.contains("le=\"0.25\"} 3"), "{out}");
        assert!(out.contains("le=\"+Inf\"} 3"));
        assert!(
            out.contains("sipwarden_http_request_duration_seconds_count{route=\"/api/v1/bans\"} 3")
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
