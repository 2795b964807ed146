//! `/`: the dashboard: attacks over time by kind (an SVG the server draws), the top sources
//! and accounts of a period, bans, the guard's taps, the firewall, the live revision and the
//! posture score; and which sipwarden this is. With JavaScript the figures follow
//! `/api/v1/dashboard/stream`: each `changed` message fetches them again (at most once a
//! second during an attack, every ten seconds otherwise).

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::api::get_dashboard;
use crate::api::guard::{AcknowledgeAlarms, get_attack_series, get_dashboard_summary};
use crate::components::form::{Refusal, action_error, csrf, is_admin};
use crate::components::live::{LiveMarker, LiveState};
use crate::components::time::{When, clock, day};
use wire::dashboard::{Alarms, DashboardSummary, NetworkEntry, TimeSeries, TopEntry};
use wire::firewall::TableState;

/// The dashboard page.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let dashboard = Resource::new(|| (), |()| get_dashboard());
    let query = use_query_map();
    let week = move || query.read().get("range").as_deref() == Some("week");
    let period = move || {
        query
            .read()
            .get("period")
            .filter(|p| PERIODS.contains(&p.as_str()))
            .unwrap_or_else(|| "day".to_owned())
    };
    let acknowledge = ServerAction::<AcknowledgeAlarms>::new();
    let series = Resource::new(week, get_attack_series);
    let fraud = Resource::new(|| (), |()| crate::api::fraud::get_fraud_series());
    let summary = Resource::new(
        move || (period(), acknowledge.version().get()),
        |(period, _)| get_dashboard_summary(period),
    );
    // Bumped by each message of the change feed; the page's updates are counted in
    // `data-updates` (what a test watches to know the figures came without a reload).
    let updates = RwSignal::new(0_u64);

    let stream = LiveState::new();

    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        crate::components::live::follow("/api/v1/dashboard/stream", "changed", stream, move |_| {
            series.refetch();
            summary.refetch();
            fraud.refetch();
            updates.update(|n| *n += 1);
        });
    });

    let range_href = move |range: &str| format!("/?range={range}&period={}", period());
    let period_href = move |p: &str| {
        format!(
            "/?range={}&period={p}",
            if week() { "week" } else { "hour" }
        )
    };
    view! {
        <h1>"Dashboard " <LiveMarker state=stream /></h1>
        <Show when=move || query.read().get("acknowledged").is_some()>
            <p class="notice" role="status">"Acknowledged: those signals are off the alarm card (they stay in the events)."</p>
        </Show>
        <Refusal error=action_error(acknowledge) />
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                summary.await.ok().map(|s| view! {
                    <AlarmCard alarms=s.alarms.clone() acknowledge />
                    <StatusTiles summary=s />
                })
            })}
        </Transition>
        <section id="attacks" data-updates=move || updates.get().to_string()>
            <h2>"Attacks " {move || if week() { "per hour, last week" } else { "per minute, last hour" }}</h2>
            <p class="pager">
                <A href=move || range_href("hour")>"last hour"</A> " · " <A href=move || range_href("week")>"last week"</A>
            </p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match series.await {
                        Ok(s) => view! { <StackedChart series=s id="attack-chart" noun=("event", "events") /> }.into_any(),
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section id="external-calls">
            <h2>"External calls and spend, per hour, last day"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match fraud.await {
                        Ok(f) => view! {
                            <StackedChart series=f.calls id="calls-chart" noun=("call", "calls") />
                            <StackedChart series=f.spend id="spend-chart" noun=("cent", "cents") />
                            <p class="hint">"Spend at the rate table's prices, in hundredths of its currency; calls still running are not in it yet. "
                                <A href="/fraud">"Toll fraud"</A></p>
                        }.into_any(),
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <p class="pager" id="period-choice">"Sources and accounts of the last "
            {PERIODS.iter().map(|p| view! {
                <A href=move || period_href(p)>{*p}</A> " "
            }).collect_view()}
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match summary.await {
                    Ok(s) => view! { <Defence summary=s /> }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
        <h2>"This appliance"</h2>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match dashboard.await {
                    Ok(d) => view! {
                        <dl class="facts" id="dashboard-facts">
                            <dt>"Version"</dt><dd id="version">{d.version.clone()}</dd>
                            <dt>"Uptime"</dt><dd id="uptime">{format_uptime(d.uptime_seconds)}</dd>
                            <dt>"Database"</dt>
                            <dd id="database">
                                {if d.database_ok { "ok" } else { "NOT ANSWERING" }}
                                " — " {d.database_path.clone()} " (" {format_bytes(d.database_bytes)} ")"
                            </dd>
                            <dt>"Console users"</dt><dd>{d.users}</dd>
                            <dt>"Active sessions"</dt><dd>{d.active_sessions}</dd>
                        </dl>
                    }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The periods the top lists can cover.
const PERIODS: [&str; 3] = ["hour", "day", "week"];

/// A colour per event kind, in the order of `TimeSeries::kinds`.
/// The kinds' colours, in the order the series lists them; the legend's swatches take the
/// same from the stylesheet's `.k0`…`.k8` (no inline style under the page's CSP).
const COLOURS: [&str; 9] = [
    "#d92d20", "#f79009", "#7a5af8", "#1570ef", "#0e9384", "#c11574", "#667085", "#98a2b3",
    "#4e5ba6",
];

/// The top of a chart's scale: `max` rounded up to 1, 2 or 5 times a power of ten, so the
/// axis reads in round numbers.
fn nice_ceiling(max: u64) -> u64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= max {
                return m * step;
            }
        }
        step *= 10;
    }
}

/// Stacked bars, one per bucket, drawn by the server (no script needed to see it), with a
/// count scale on the left, UTC times below, a legend with each kind's colour and count, and
/// each bar's time, count and kind on hover.
#[component]
fn StackedChart(
    series: TimeSeries,
    /// The chart's element id; its caption's is `<id>-total`.
    id: &'static str,
    /// What a count counts, one and many (`event`, `events`).
    noun: (&'static str, &'static str),
) -> impl IntoView {
    const WIDTH: f64 = 840.0;
    const HEIGHT: f64 = 160.0;
    let totals: Vec<u64> = series.buckets.iter().map(|b| b.iter().sum()).collect();
    let tallest = totals.iter().copied().max().unwrap_or(0);
    let top = nice_ceiling(tallest.max(1));
    let total: u64 = totals.iter().sum();
    let per = i64::try_from(series.bucket_secs).unwrap_or(60);
    let hourly = per >= 3600;
    #[allow(clippy::cast_precision_loss, reason = "bucket counts are small")]
    let bar = WIDTH / series.buckets.len().max(1) as f64;
    let mut rects = Vec::new();
    for (i, bucket) in series.buckets.iter().enumerate() {
        let mut y = HEIGHT;
        let at = series.start_unix + per * i64::try_from(i).unwrap_or(0);
        let when = if hourly {
            format!("{} {}", day(at), clock(at))
        } else {
            clock(at)
        };
        for (k, count) in bucket.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            #[allow(clippy::cast_precision_loss, reason = "bucket counts are small")]
            let h = HEIGHT * (*count as f64) / (top as f64);
            y -= h;
            #[allow(clippy::cast_precision_loss, reason = "at most 168 buckets")]
            let x = bar * i as f64;
            let kind = series
                .kinds
                .get(k)
                .map_or("", |c| wire::events::EventKind::label_of(c));
            let title = format!("{when} UTC: {count} {kind}");
            rects.push(view! {
                <rect x=format!("{x:.1}") y=format!("{y:.1}") width=format!("{:.1}", (bar - 1.0).max(1.0))
                      height=format!("{h:.1}") fill=COLOURS[k % COLOURS.len()]>
                    <title>{title}</title>
                </rect>
            });
        }
    }
    // Ticks: every 10 minutes of the hour, every day of the week, first and last included.
    let span = per * i64::try_from(series.buckets.len()).unwrap_or(0);
    let step = if hourly { 86_400 } else { 600 };
    let x_labels = (0_i64..)
        .map(|i| series.start_unix + step * i)
        .take_while(|t| *t <= series.start_unix + span)
        .map(|t| view! { <span>{if hourly { day(t) } else { clock(t) }}</span> })
        .collect_view();
    let by_kind: Vec<u64> = (0..series.kinds.len())
        .map(|k| {
            series
                .buckets
                .iter()
                .map(|b| b.get(k).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let legend = series
        .kinds
        .iter()
        .enumerate()
        .filter(|(k, _)| by_kind[*k] > 0)
        .map(|(k, name)| {
            view! {
                <span class="legend"><span class=format!("swatch k{}", k % COLOURS.len())></span>
                    {wire::events::EventKind::label_of(name).to_owned()} " " {by_kind[k]}</span>
            }
        })
        .collect_view();
    let half = top.is_multiple_of(2).then(|| (top / 2).to_string());
    view! {
        <figure class="chart">
            <div class="chart-grid">
                <div class="y-axis" aria-hidden="true">
                    <span>{top}</span><span>{half}</span><span>"0"</span>
                </div>
                <svg id=id viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none" role="img"
                     aria-label=format!("{total} {}, at most {tallest} per bar", noun.1)>
                    <line class="grid-line" x1="0" y1="0.5" x2=WIDTH y2="0.5" vector-effect="non-scaling-stroke" />
                    <line class="grid-line" x1="0" y1=HEIGHT / 2.0 x2=WIDTH y2=HEIGHT / 2.0 vector-effect="non-scaling-stroke" />
                    <line class="axis-line" x1="0" y1=HEIGHT x2=WIDTH y2=HEIGHT vector-effect="non-scaling-stroke" />
                    {rects}
                </svg>
                <span></span>
                <div class="x-axis" aria-hidden="true">{x_labels}</div>
            </div>
            <figcaption class="hint" id=format!("{id}-total")>
                {count(total, noun.0, noun.1)} "; tallest bar " {tallest} ". Times in UTC. "
                {legend}
            </figcaption>
        </figure>
    }
}

fn top_list(entries: Vec<TopEntry>, sources: bool) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="hint">"None."</p> }.into_any();
    }
    view! {
        <ol>
            {entries.into_iter().map(|e| {
                let href = if sources {
                    format!("/events?source={}", e.key)
                } else {
                    format!("/events?account={}", e.key)
                };
                view! {
                    <li><A href=href>{e.label.clone().unwrap_or_else(|| e.key.clone())}</A> " — " {count(e.events, "event", "events")}
                        {e.banned.then(|| view! { " " <strong class="banned">"banned"</strong> })}</li>
                }
            }).collect_view()}
        </ol>
    }
    .into_any()
}

/// Compromise signals, until an administrator acknowledges them: a correct login after
/// failed passwords is the one line of the events that matters most.
#[component]
fn AlarmCard(alarms: Alarms, acknowledge: ServerAction<AcknowledgeAlarms>) -> impl IntoView {
    if alarms.total == 0 {
        return ().into_any();
    }
    let through = alarms
        .events
        .iter()
        .map(|a| a.event.id)
        .max()
        .unwrap_or(0)
        .to_string();
    let more = alarms.total.saturating_sub(alarms.events.len() as u64);
    view! {
        <section class="alarm" id="alarm-card" role="alert" aria-label="Possible compromise">
            <h2>{count(alarms.total, "sign of a possible compromise", "signs of a possible compromise")}</h2>
            <ul>
                {alarms.events.into_iter().map(|a| {
                    let e = a.event;
                    let account = a.account_label.or(e.account.clone()).unwrap_or_else(|| "an unknown account".to_owned());
                    let href = format!("/events?source={}", e.address);
                    view! {
                        <li data-kind=e.kind.clone()>
                            <strong>{wire::events::EventKind::label_of(&e.kind).to_owned()}</strong>
                            ": " {account} " from " <A href=href>{e.address.clone()}</A> ", " <When at=e.at.clone() />
                        </li>
                    }
                }).collect_view()}
            </ul>
            {(more > 0).then(|| view! { <p>"… and " {more} " more in " <A href="/events">"the events"</A> "."</p> })}
            <p class="hint">"Check that the account's owner made it; if not, give the endpoint a new secret and ban the source."</p>
            {is_admin().then(|| view! {
                <ActionForm action=acknowledge attr:class="inline" attr:id="acknowledge-form">
                    <input type="hidden" name="csrf" value=csrf() />
                    <input type="hidden" name="through" value=through />
                    <button type="submit" class="secondary">"Acknowledge"</button>
                </ActionForm>
            })}
        </section>
    }
    .into_any()
}

fn network_list(entries: Vec<NetworkEntry>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="hint">"None."</p> }.into_any();
    }
    view! {
        <ol id="top-networks">
            {entries.into_iter().map(|n| view! {
                <li><code>{n.network.clone()}</code> " — " {count(n.sources, "address", "addresses")} ", "
                    {count(n.events, "event", "events")}
                    {(n.banned > 0).then(|| view! { " " <strong class="banned">{n.banned} " banned"</strong> })}</li>
            }).collect_view()}
        </ol>
    }
    .into_any()
}

/// How bad a tile's news is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Good,
    Warn,
    Bad,
}

impl Level {
    fn class(self) -> &'static str {
        match self {
            Level::Good => "tile good",
            Level::Warn => "tile warn",
            Level::Bad => "tile bad",
        }
    }
}

/// Am I protected? The guard's mode and taps and the firewall's state, in one sentence.
#[must_use]
pub fn protection(summary: &DashboardSummary) -> (Level, &'static str, String) {
    let guard = &summary.guard;
    let down: Vec<&str> = guard
        .taps
        .iter()
        .filter(|t| t.state != "connected")
        .map(|t| t.name.as_str())
        .collect();
    let firewall = match summary.firewall {
        TableState::NotApplied => " The firewall is not applied.",
        TableState::AwaitingConfirmation => " A firewall change waits for confirmation.",
        TableState::Confirmed => "",
    };
    if guard.mode == "off" || !guard.running {
        return (
            Level::Bad,
            "Protection off",
            format!("The guard is not running: nobody is banned.{firewall}"),
        );
    }
    if !guard.taps.is_empty() && down.len() == guard.taps.len() {
        return (
            Level::Bad,
            "Guard blind",
            format!("No tap sees traffic ({}).{firewall}", down.join(", ")),
        );
    }
    if guard.mode == "log_only" {
        return (
            Level::Warn,
            "Watching only",
            format!("The guard logs what it would ban and bans nothing.{firewall}"),
        );
    }
    if !down.is_empty() {
        return (
            Level::Warn,
            "Partly blind",
            format!("Down: {}.{firewall}", down.join(", ")),
        );
    }
    if summary.firewall != TableState::Confirmed {
        return (Level::Warn, "Guard on", firewall.trim().to_owned());
    }
    (
        Level::Good,
        "Protected",
        "The guard sees every tap and bans; the firewall is applied.".to_owned(),
    )
}

/// One word or a number: a plural that reads right.
fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The answers first: protected or not, under attack or not, what is in force.
#[component]
fn StatusTiles(summary: DashboardSummary) -> impl IntoView {
    let (level, headline, detail) = protection(&summary);
    let events: u64 = summary.events_by_kind.iter().map(|(_, n)| n).sum();
    let attack = if summary.rate_per_minute > 0 {
        Level::Bad
    } else if events > 0 {
        Level::Warn
    } else {
        Level::Good
    };
    let posture = if summary.posture_high > 0 {
        Level::Bad
    } else {
        Level::Good
    };
    view! {
        <section id="status" class="tiles" aria-label="Status">
            <div class=level.class() id="tile-protection">
                <span class="tile-label">"Protection"</span>
                <strong>{headline}</strong>
                <span class="tile-detail">{detail}</span>
            </div>
            <div class=attack.class() id="tile-attacks">
                <span class="tile-label">"Attacks now"</span>
                <strong>{if summary.rate_per_minute == 0 { "None".to_owned() } else { format!("{} / min", summary.rate_per_minute) }}</strong>
                <span class="tile-detail">{count(events, "event", "events")} " in the last " {summary.period.clone()} "; "<A href="/events">"see them"</A></span>
            </div>
            <div class="tile" id="tile-bans">
                <span class="tile-label">"Bans in force"</span>
                <strong>{summary.bans_active}</strong>
                <span class="tile-detail">{summary.bans_expiring_soon} " ending within 10 min"</span>
            </div>
            {if !summary.asterisk_managed {
                view! {
                    <div class="tile" id="tile-pending">
                        <span class="tile-label">"Configuration"</span>
                        <strong>"Watch-only"</strong>
                        <span class="tile-detail">"sipwarden guards this Asterisk but writes none of its files"</span>
                    </div>
                }.into_any()
            } else if summary.pending_changes {
                view! {
                    <div class="tile warn" id="tile-pending">
                        <span class="tile-label">"Configuration"</span>
                        <strong>"Changes pending"</strong>
                        <span class="tile-detail"><A href="/config">"Review and apply"</A></span>
                    </div>
                }.into_any()
            } else {
                view! {
                    <div class="tile good" id="tile-pending">
                        <span class="tile-label">"Configuration"</span>
                        <strong>"Applied"</strong>
                        <span class="tile-detail">{summary.live_revision.map_or_else(|| "Nothing applied yet".to_owned(), |n| format!("Asterisk runs revision {n}"))}</span>
                    </div>
                }.into_any()
            }}
            <div class=posture.class() id="tile-posture">
                <span class="tile-label">"Posture"</span>
                <strong>{summary.posture_score} " / 100"</strong>
                <span class="tile-detail">{count(u64::from(summary.posture_high), "high finding", "high findings")}</span>
            </div>
        </section>
    }
}

#[component]
fn Defence(summary: DashboardSummary) -> impl IntoView {
    let taps = summary
        .guard
        .taps
        .iter()
        .map(|t| format!("{}: {}", t.name, t.state))
        .collect::<Vec<_>>()
        .join(", ");
    let firewall = match summary.firewall {
        TableState::NotApplied => "not applied",
        TableState::Confirmed => "applied",
        TableState::AwaitingConfirmation => "AWAITING CONFIRMATION",
    };
    let by_kind = summary
        .events_by_kind
        .iter()
        .map(|(k, n)| format!("{} {n}", wire::events::EventKind::label_of(k)))
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <section id="defence">
            <h2>"Defence"</h2>
            <dl class="facts">
                <dt>"Events (last " {summary.period.clone()} ")"</dt><dd id="events-by-kind">{if by_kind.is_empty() { "none".to_owned() } else { by_kind }}</dd>
                <dt>"Bans in force"</dt>
                <dd id="bans-active">{summary.bans_active} " (" {summary.bans_expiring_soon} " ending within 10 min)"
                    {summary.newest_ban.map(|b| view! { "; newest " <A href="/bans">{b.address}</A> " — " {b.reason} })}</dd>
                <dt>"Guard"</dt><dd id="guard-taps">{summary.guard.mode.clone()} "; " {if taps.is_empty() { "no taps".to_owned() } else { taps }}</dd>
                <dt>"Firewall"</dt><dd id="firewall-state"><A href="/firewall">{firewall}</A></dd>
                <dt>"Live revision"</dt><dd>{summary.live_revision.map_or_else(|| "none applied yet".to_owned(), |n| n.to_string())}</dd>
                <dt>"Posture"</dt><dd id="posture-score">{summary.posture_score} " / 100 (" {summary.posture_high} " high findings)"</dd>
            </dl>
            <div class="grid">
                <div><h3>"Top networks (last " {summary.period.clone()} ")"</h3>{network_list(summary.top_networks)}</div>
                <div><h3>"Top sources"</h3>{top_list(summary.top_sources, true)}</div>
                <div><h3>"Top targeted accounts"</h3>{top_list(summary.top_accounts, false)}</div>
            </div>
        </section>
    }
}

fn format_uptime(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if d > 0 {
        format!("{d} d {h} h {m} min")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min {s} s")
    }
}

fn format_bytes(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_in_the_largest_useful_units() {
        assert_eq!(format_uptime(59), "0 min 59 s");
        assert_eq!(format_uptime(3 * 3600 + 120), "3 h 2 min");
        assert_eq!(format_uptime(2 * 86_400 + 3600), "2 d 1 h 0 min");
    }
}
