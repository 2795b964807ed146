//! `/firewall`: the stored policy, where the kernel stands (with the countdown of an
//! unconfirmed change), the lockout preview, apply / confirm / revert, and the settings form.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::firewall::{
    ApplyFirewall, ConfirmFirewall, RevertFirewall, SaveFirewall, get_firewall,
};
use crate::components::form::{FormError, LastAction, Refusal, refused_form, use_flash};
use crate::form::TypedForm;
use wire::firewall::{FirewallPage as PageData, FirewallPolicy, TableState};
use wire::{Role, SessionInfo};

/// The firewall page.
#[component]
pub fn FirewallPage() -> impl IntoView {
    let session = expect_context::<SessionInfo>();
    let last = LastAction::new();
    let save = last.track("save", ServerAction::<SaveFirewall>::new());
    let apply = last.track("apply", ServerAction::<ApplyFirewall>::new());
    let confirm = last.track("confirm", ServerAction::<ConfirmFirewall>::new());
    let revert = last.track("revert", ServerAction::<RevertFirewall>::new());
    let data = Resource::new(
        move || {
            (
                save.version().get(),
                apply.version().get(),
                confirm.version().get(),
                revert.version().get(),
            )
        },
        |_| get_firewall(),
    );
    let query = use_query_map();
    let apply_result = last.outcome("apply", apply);
    let confirm_result = last.outcome("confirm", confirm);
    let revert_result = last.outcome("revert", revert);
    let notice = move || {
        if let Some(Ok(message)) = apply_result.get() {
            return Some(message);
        }
        let q = query.read();
        // A redirect's word counts only until an action finished on this page.
        let done = |key: &str| last.none() && q.get(key).is_some();
        let ok = |r: Option<Result<(), _>>| matches!(r, Some(Ok(())));
        if done("saved") || (last.is("save") && matches!(save.value().get(), Some(Ok(())))) {
            Some("Policy saved. Apply it to put it into the kernel.".to_owned())
        } else if done("applied") {
            Some("Applied provisionally: confirm before the countdown ends, or it reverts by itself.".to_owned())
        } else if done("confirmed") || ok(confirm_result.get()) {
            Some("Confirmed: the ruleset stays.".to_owned())
        } else if done("reverted") || ok(revert_result.get()) {
            Some("Reverted: the previous ruleset is back.".to_owned())
        } else {
            None
        }
    };
    // The settings form's refusal names the field: with JavaScript from the action, without
    // it from the flash the redirect names (which also holds what was typed).
    let flash = use_flash();
    let is_admin = session.role == Role::Admin;
    let csrf = session.csrf.clone();
    view! {
        <h1>"Firewall"</h1>
        <Show when=move || notice().is_some()>
            <p class="notice" role="status" id="firewall-notice">{notice}</p>
        </Show>
        <Refusal error=last.error("save", save) />
        <FormError result=apply_result />
        <FormError result=confirm_result />
        <FormError result=revert_result />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let csrf = csrf.clone();
                Suspend::new(async move {
                    let (refusal, typed) = refused_form(flash.await);
                    let typed = match typed {
                        Some(TypedForm::Firewall(policy)) => Some(*policy),
                        _ => None,
                    };
                    match data.await {
                        Ok(page) => view! {
                            <Refusal error=refusal />
                            <FirewallBody page typed is_admin csrf apply confirm revert save />
                        }.into_any(),
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn FirewallBody(
    page: PageData,
    /// What was typed into a refused settings form (no JavaScript), shown again.
    typed: Option<FirewallPolicy>,
    is_admin: bool,
    csrf: String,
    apply: ServerAction<ApplyFirewall>,
    confirm: ServerAction<ConfirmFirewall>,
    revert: ServerAction<RevertFirewall>,
    save: ServerAction<SaveFirewall>,
) -> impl IntoView {
    let status = page.status.clone();
    let settings = page.settings.clone();
    let form = typed.unwrap_or_else(|| settings.clone());
    let table = match status.table {
        TableState::NotApplied => "not applied: sipwarden has not loaded a ruleset into the kernel",
        TableState::Confirmed => "applied and confirmed",
        TableState::AwaitingConfirmation => "applied, AWAITING CONFIRMATION",
    };
    // The countdown ticks in the browser; without JavaScript it shows the time at render.
    let left = RwSignal::new(status.revert_in_secs.unwrap_or(0));
    Effect::new(move |_| {
        let _ = set_interval_with_handle(
            move || left.update(|s| *s = s.saturating_sub(1)),
            std::time::Duration::from_secs(1),
        );
    });
    let pending = status.table == TableState::AwaitingConfirmation;
    let peers_checked = status.peers_checked;
    let lockout = status.lockout.clone();
    let no_lockout = lockout.is_empty();
    let join = |v: &[String]| v.join("\n");
    let (csrf_confirm, csrf_revert, csrf_apply) = (csrf.clone(), csrf.clone(), csrf.clone());
    view! {
        <section id="firewall-state">
            <h2>"State"</h2>
            <dl class="facts">
                <dt>"Kernel table"</dt><dd id="table-state">{table}</dd>
                <dt>"Stored policy"</dt>
                <dd id="stored-live">
                    "version " {status.version} ": "
                    {if status.stored_is_live { "in force" } else { "NOT in force yet: apply it" }}
                </dd>
                <dt>"Firewall"</dt>
                <dd>{if settings.enabled { "enabled" } else { "disabled by the policy (apply changes nothing in the kernel)" }}</dd>
            </dl>
            {pending.then(move || view! {
                <p class="warning" id="countdown">
                    "Reverts at " {status.revert_at.clone().unwrap_or_default()} " — in "
                    <strong id="countdown-secs">{move || left.get()}</strong> " s unless confirmed."
                </p>
                {is_admin.then(|| view! {
                    <ActionForm action=confirm attr:class="inline" attr:id="confirm-form">
                        <input type="hidden" name="csrf" value=csrf_confirm />
                        <button type="submit" id="confirm">"Confirm: keep this ruleset"</button>
                    </ActionForm>
                    <ActionForm action=revert attr:class="inline">
                        <input type="hidden" name="csrf" value=csrf_revert />
                        <button type="submit" id="revert">"Revert now"</button>
                    </ActionForm>
                })}
            })}
        </section>
        <section id="lockout">
            <h2>"Lockout preview"</h2>
            {if no_lockout {
                view! {
                    <p id="lockout-none">"None of the " {peers_checked} " peer(s) known now (trunks, registered endpoints, signed-in administrators) would be blocked by the stored policy."</p>
                }.into_any()
            } else {
                view! {
                    <p class="warning">"The stored policy would block these peers:"</p>
                    <table id="lockout-table">
                        <thead><tr><th>"Kind"</th><th>"Name"</th><th>"Address"</th><th>"Why"</th></tr></thead>
                        <tbody>
                            {lockout.into_iter().map(|l| view! {
                                <tr><td>{l.kind}</td><td>{l.name}</td><td>{l.address}</td><td>{l.reason}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            {is_admin.then(|| view! {
                <ActionForm action=apply attr:id="apply-form">
                    <input type="hidden" name="csrf" value=csrf_apply.clone() />
                    {(!no_lockout).then(|| view! {
                        <label><input type="checkbox" name="force" value="on" id="force" />
                            " apply anyway, blocking the peers above"</label>
                    })}
                    <button type="submit" id="apply">"Apply (reverts unless confirmed)"</button>
                </ActionForm>
            })}
        </section>
        {is_admin.then(move || view! {
            <section id="firewall-settings">
                <h2>"Policy"</h2>
                <ActionForm action=save attr:id="firewall-form">
                    <input type="hidden" name="csrf" value=csrf.clone() />
                    <label><input type="checkbox" name="enabled" value="on" checked=form.enabled />
                        " Firewall enabled"</label>
                    <label>"SIP UDP port" <input type="number" name="sip_udp_port" min="1" max="65535" required value=form.sip_udp_port /></label>
                    <label>"SIP TCP port" <input type="number" name="sip_tcp_port" min="1" max="65535" required value=form.sip_tcp_port /></label>
                    <label>"SIP TLS port" <input type="number" name="sip_tls_port" min="1" max="65535" required value=form.sip_tls_port /></label>
                    <label>"AMI port" <input type="number" name="ami_port" min="1" max="65535" required value=form.ami_port /></label>
                    <label>"Console port" <input type="number" name="console_port" min="1" max="65535" required value=form.console_port /></label>
                    <label><input type="checkbox" name="restrict_console" value="on" checked=form.restrict_console />
                        " Console reachable only from the admin networks"</label>
                    <label>"Trusted networks (never dropped; one per line)"
                        <textarea name="trusted_networks" rows="3">{join(&form.trusted_networks)}</textarea></label>
                    <label>"Admin networks (never dropped; the console's when restricted)"
                        <textarea name="admin_networks" rows="3">{join(&form.admin_networks)}</textarea></label>
                    <label>"AMI networks (the only remote sources allowed on the AMI port)"
                        <textarea name="ami_networks" rows="3">{join(&form.ami_networks)}</textarea></label>
                    <label>"Blocklist (dropped on every port)"
                        <textarea name="blocklist" rows="3">{join(&form.blocklist)}</textarea></label>
                    <label>"Confirm window (seconds, 10 to 3600)"
                        <input type="number" name="confirm_window_secs" min="10" max="3600" required value=form.confirm_window_secs /></label>
                    <button type="submit" id="save-firewall">"Save policy"</button>
                </ActionForm>
            </section>
        })}
        <section>
            <h2>"Rate limits per source"</h2>
            <ul id="rate-limits">
                {page.rate_limits.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
            </ul>
            <p class="hint">"Rate tiers are edited over the REST API (PUT /api/v1/firewall)."</p>
        </section>
        <section>
            <h2>"Rendered ruleset (stored policy)"</h2>
            <pre id="ruleset">{status.ruleset}</pre>
        </section>
    }
}
