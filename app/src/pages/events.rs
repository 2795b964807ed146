//! `/events`: what the guard saw, newest first, filtered by kind, source and account; new
//! events appear at the top as they happen (Server-Sent Events from `/api/v1/events/stream`)
//! when JavaScript runs. Above them, whether the guard can see at all: its taps and counters.

use leptos::prelude::*;

use crate::components::time::When;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;

use crate::api::guard::{get_events, get_guard_status};
use crate::components::live::{LiveMarker, LiveState};
use wire::events::{EventKind, EventView, GuardStatusView};

/// Live rows kept on the page at most.
#[cfg(feature = "hydrate")]
const LIVE_MAX: usize = 200;

/// The events page.
#[component]
pub fn EventsPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |key: &str| {
        query
            .read()
            .get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let filter = move || {
        (
            param("kind"),
            param("source"),
            param("account"),
            param("cursor"),
        )
    };
    let stored = Resource::new(filter, |(kind, source, account, cursor)| {
        get_events(kind, source, account, cursor)
    });
    let status = Resource::new(|| (), |()| get_guard_status());
    let live = RwSignal::new(Vec::<EventView>::new());
    let stream = LiveState::new();

    // In the browser: follow the live stream with the page's filters (not when paging back).
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let (kind, source, account, cursor) = filter();
        live.set(Vec::new());
        if cursor.is_some() {
            return;
        }
        let mut url = "/api/v1/events/stream?".to_owned();
        for (key, value) in [("kind", kind), ("source", source), ("account", account)] {
            if let Some(v) = value {
                url.push_str(&format!("{key}={}&", encode(&v)));
            }
        }
        crate::components::live::follow(&url, "event", stream, move |m| {
            let Some(text) = m.data().as_string() else {
                return;
            };
            if let Ok(event) = serde_json::from_str::<EventView>(&text) {
                live.update(|v| {
                    if !v.iter().any(|e| e.id == event.id) {
                        v.insert(0, event);
                        v.truncate(LIVE_MAX);
                    }
                });
            }
        });
    });

    let selected = move |k: &str| param("kind").as_deref() == Some(k);
    view! {
        <h1>"Events " <LiveMarker state=stream /></h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match status.await {
                    Ok(s) => view! { <GuardStatus status=s /> }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
        <Form method="GET" action="/events" attr:id="event-filter" attr:class="inline-form">
            <label>"Kind "
                <select name="kind">
                    <option value="">"any"</option>
                    {EventKind::ALL.into_iter().map(|k| { let code = k.as_str(); view! { <option value=code selected=move || selected(code)>{k.label()}</option> } }).collect_view()}
                </select>
            </label>
            <label>" Source " <input type="text" name="source" value=move || param("source").unwrap_or_default() placeholder="203.0.113.7" /></label>
            <label>" Account " <input type="text" name="account" value=move || param("account").unwrap_or_default() /></label>
            <button type="submit">"Filter"</button>
            " " <A href="/events">"clear"</A>
        </Form>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match stored.await {
                    Ok(page) => {
                        let (kind, source, account, _) = filter();
                        let older = page.next_cursor.map(|c| {
                            let mut href = format!("/events?cursor={}", encode(&c));
                            for (key, value) in [("kind", kind), ("source", source), ("account", account)] {
                                if let Some(v) = value {
                                    href.push_str(&format!("&{key}={}", encode(&v)));
                                }
                            }
                            href
                        });
                        let empty = page.items.is_empty();
                        view! {
                            <table id="events-table" class="events">
                                <thead><tr>
                                    <th>"When"</th><th>"Kind"</th><th>"Source"</th><th>"Account"</th>
                                    <th>"Method"</th><th>"User-Agent"</th><th>"Outcome"</th><th>"Evidence"</th>
                                </tr></thead>
                                <tbody id="live-rows">
                                    <For each=move || live.get() key=|e| e.id children=|e| view! { <EventRow event=e live=true /> } />
                                </tbody>
                                <tbody>
                                    {page.items.into_iter().map(|e| view! { <EventRow event=e live=false /> }).collect_view()}
                                </tbody>
                            </table>
                            <Show when=move || empty && live.with(Vec::is_empty)>
                                <p id="no-events">"No events stored for this filter yet."</p>
                            </Show>
                            {older.map(|href| view! { <p class="pager"><A href=href>"Older →"</A></p> })}
                        }.into_any()
                    }
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn EventRow(event: EventView, live: bool) -> impl IntoView {
    let by_source = format!("/events?source={}", encode(&event.address));
    let outcome_class = match event.outcome.as_str() {
        "banned" | "banned-port" => "banned",
        "protected" => "protected",
        _ => "",
    };
    let class = if live {
        format!("live {outcome_class}")
    } else {
        outcome_class.to_owned()
    };
    let unproven = !event.proven && event.outcome != "reported";
    view! {
        <tr class=class data-id=event.id>
            <td><When at=event.at /></td>
            <td class="kind" data-kind=event.kind.clone() title=event.kind.clone()>{EventKind::label_of(&event.kind).to_owned()}</td>
            <td class="address"><A href=by_source>{event.source}</A></td>
            <td>{event.account.unwrap_or_default()}</td>
            <td>{event.method.unwrap_or_default()}</td>
            <td>{event.user_agent.unwrap_or_default()}</td>
            <td class="outcome">
                {event.outcome}
                {unproven.then(|| view! { <span class="unproven" title="One UDP datagram: its source address may be forged.">" (unproven)"</span> })}
            </td>
            <td title=event.detector>{event.evidence}</td>
        </tr>
    }
}

/// The guard's mode, taps and counters, and what it judges by (shared with the Guard page).
#[component]
pub fn GuardStatus(status: GuardStatusView) -> impl IntoView {
    let blind = status.running
        && !status.taps.is_empty()
        && status.taps.iter().all(|t| t.state != "connected");
    view! {
        <section id="guard-status">
            {(!status.running).then(|| view! { <p class="warning">"The guard is not running (mode " {status.mode.clone()} "): nothing is watching Asterisk."</p> })}
            {blind.then(|| view! { <p class="warning" id="guard-blind">"The guard is blind: no tap is connected."</p> })}
            <dl class="facts">
                <dt>"Mode"</dt><dd id="guard-mode">{status.mode.clone()}</dd>
                <dt>"Taps"</dt>
                <dd id="taps">
                    {status.taps.into_iter().map(|t| {
                        let class = format!("tap {}", t.state);
                        view! {
                            <span class=class>{t.name} ": " {t.state} {t.detail.map(|d| format!(" ({d})"))}</span> " "
                        }
                    }).collect_view()}
                </dd>
                <dt>"Judged"</dt><dd>{status.messages} " observations, " {status.events} " events, " {status.bans} " bans since start"</dd>
                <dt>"Bans"</dt><dd id="ban-kinds">{status.port_bans} " of one port, " {status.unproven_bans} " short (unproven evidence); " {status.protected} " times a protected source was spared"</dd>
                <dt>"Ban latency"</dt>
                <dd id="ban-latency">
                    {match (status.ban_to_kernel, status.ban_recorded) {
                        (Some(k), Some(r)) => format!(
                            "in the kernel {:.1} ms (p50), {:.1} ms (p99), {:.1} ms (max) after the deciding packet; recorded {:.1} ms (p99)",
                            k.p50_us as f64 / 1000.0, k.p99_us as f64 / 1000.0, k.max_us as f64 / 1000.0, r.p99_us as f64 / 1000.0
                        ),
                        _ => "no ban yet".to_owned(),
                    }}
                </dd>
                <dt>"Judges by"</dt>
                <dd id="guard-model">
                    {match status.model {
                        Some(m) => format!(
                            "{}, {}, {} that cost money, {}, {}; {} (logged in recently); policy version {}",
                            count(m.accounts, "account"), count(m.trunks, "trunk"),
                            count(m.external_patterns, "dial pattern"), count(m.trusted, "trusted network"),
                            count(m.infrastructure, "gateway or resolver"),
                            count(status.known_addresses, "known address"), status.policy_version
                        ),
                        None => format!("nothing (not running); policy version {}", status.policy_version),
                    }}
                </dd>
                <dt>"Tracked"</dt><dd>{status.tracked_sources} " sources (" {status.source_evictions} " evicted), " {status.engine_bytes / 1024} " KiB"</dd>
                <dt>"Stored"</dt><dd id="events-total">{status.events_total} " events (" {status.events_dropped} " dropped)"</dd>
                <dt>"Capture"</dt><dd id="capture">{status.capture_packets} " packets, " {status.capture_messages} " SIP messages, " {status.capture_dropped} " dropped by the kernel"</dd>
                {status.log_tap.map(|log| view! {
                    <dt>"Security log"</dt>
                    <dd id="log-tap">
                        {log.observed} " events judged, " {log.deferred} " left to AMI, "
                        {log.unreadable} " lines not attributable (an attacker's text could be read as another address)"
                    </dd>
                })}
            </dl>
        </section>
    }
}

/// `1 trunk`, `2 trunks`.
fn count(n: u64, noun: &str) -> String {
    match (n, noun) {
        (1, _) => format!("1 {noun}"),
        (_, "gateway or resolver") => format!("{n} gateways or resolvers"),
        (_, "known address") => format!("{n} known addresses"),
        _ => format!("{n} {noun}s"),
    }
}

/// Percent-encodes a query value (addresses and account names; anything else is escaped).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("203.0.113.7"), "203.0.113.7");
        assert_eq!(encode("2001:db8::1"), "2001%3Adb8%3A%3A1");
        assert_eq!(encode("a&b=c d"), "a%26b%3Dc%20d");
    }
}
