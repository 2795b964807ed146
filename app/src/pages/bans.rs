//! `/bans`: the bans in force with their expiry and reason, a form to ban, and unban.

use leptos::prelude::*;

use crate::components::time::When;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::api::firewall::{AddBan, RemoveBan, get_bans};
use crate::components::form::{FormError, LastAction};
use wire::{Role, SessionInfo};

/// The bans page.
#[component]
pub fn BansPage() -> impl IntoView {
    let session = expect_context::<SessionInfo>();
    let last = LastAction::new();
    let add = last.track("add", ServerAction::<AddBan>::new());
    let remove = last.track("remove", ServerAction::<RemoveBan>::new());
    let bans = Resource::new(
        move || (add.version().get(), remove.version().get()),
        |_| get_bans(),
    );
    let query = use_query_map();
    let (add_result, remove_result) = (last.outcome("add", add), last.outcome("remove", remove));
    let notice = move || {
        if let Some(Ok(message)) = add_result.get() {
            return Some(message);
        }
        if matches!(remove_result.get(), Some(Ok(()))) {
            return Some("Ban lifted.".to_owned());
        }
        let q = query.read();
        if !last.none() {
            None
        } else if q.get("banned").is_some() {
            Some("Banned.".to_owned())
        } else if q.get("unbanned").is_some() {
            Some("Ban lifted.".to_owned())
        } else {
            None
        }
    };
    let is_admin = session.role == Role::Admin;
    let csrf = session.csrf.clone();
    let form_csrf = csrf.clone();
    view! {
        <h1>"Bans"</h1>
        <Show when=move || notice().is_some()>
            <p class="notice" role="status" id="bans-notice">{notice}</p>
        </Show>
        <FormError result=add_result />
        <FormError result=remove_result />
        {is_admin.then(|| view! {
            <ActionForm action=add attr:id="ban-form">
                <input type="hidden" name="csrf" value=form_csrf.clone() />
                <label>"Address" <input type="text" name="address" required placeholder="203.0.113.7" /></label>
                <label>"Minutes" <input type="number" name="duration_minutes" min="1" max="525600" value="60" required /></label>
                <label>"Reason" <input type="text" name="reason" required maxlength="200" /></label>
                <button type="submit" id="ban">"Ban"</button>
            </ActionForm>
        })}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let csrf = csrf.clone();
                Suspend::new(async move {
                    match bans.await {
                        Ok(list) if list.is_empty() => view! { <p id="no-bans">"No bans in force."</p> }.into_any(),
                        Ok(list) => view! {
                            <table id="bans-table">
                                <thead><tr>
                                    <th>"Address"</th><th>"Reason"</th><th>"By"</th><th>"Since"</th>
                                    <th>"Expires"</th><th>"Left"</th><th>"Offences"</th><th></th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|b| {
                                        let address = b.address.clone();
                                        let evidence = format!("/events?source={}", b.address);
                                        let csrf = csrf.clone();
                                        view! {
                                            <tr>
                                                <td class="address">{b.address} " " <A href=evidence attr:class="evidence">"events"</A></td>
                                                <td>{b.reason}</td>
                                                <td>{b.actor.unwrap_or(b.origin)}</td>
                                                <td><When at=b.created_at /></td>
                                                <td>{match b.expires_at { Some(at) => view! { <When at /> }.into_any(), None => "never".into_any() }}</td>
                                                <td>{b.remaining_secs.map_or_else(|| "—".into(), human_secs)}</td>
                                                <td>{b.offences}</td>
                                                <td>{is_admin.then(|| view! {
                                                    <ActionForm action=remove attr:class="inline">
                                                        <input type="hidden" name="csrf" value=csrf />
                                                        <input type="hidden" name="address" value=address />
                                                        <button type="submit" class="unban">"Unban"</button>
                                                    </ActionForm>
                                                })}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// Seconds as the largest useful units.
pub(crate) fn human_secs(secs: u64) -> String {
    match secs {
        s if s >= 86_400 => format!("{} d {} h", s / 86_400, s / 3600 % 24),
        s if s >= 3600 => format!("{} h {} min", s / 3600, s / 60 % 60),
        s if s >= 60 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::human_secs;

    #[test]
    fn time_left_reads_in_the_largest_useful_units() {
        assert_eq!(human_secs(59), "59 s");
        assert_eq!(human_secs(3599), "59 min 59 s");
        assert_eq!(human_secs(7200 + 60), "2 h 1 min");
        assert_eq!(human_secs(2 * 86_400 + 3600), "2 d 1 h");
    }
}
