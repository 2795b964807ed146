//! `/`: the dashboard. For now: which sipwarden this is, how long it has run, and whether its
//! database answers.

use leptos::prelude::*;

use crate::api::get_dashboard;

/// The dashboard page.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let dashboard = Resource::new(|| (), |()| get_dashboard());
    view! {
        <h1>"Dashboard"</h1>
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
