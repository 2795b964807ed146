//! `/fraud`: toll-fraud protection. Whether the pre-call decision is served and what it
//! decided, the accounts the rules locked (unlock), the external calls running now (hang
//! up), what the rules found and the calls that ended (searchable by endpoint and number),
//! the rate table the spend rules price calls with, and the fraud policy.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::fraud::{
    HangUpFraudCall, UnlockFraudAccount, UpdateFraudSettings, UploadFraudRates, get_fraud_page,
    get_fraud_settings,
};
use crate::components::form::{
    FlashNotices, Refusal, action_error, csrf, is_admin, refused_form, use_flash,
};
use crate::components::settings::Setting;
use crate::components::time::When;
use crate::form::TypedForm;
use crate::pages::bans::human_secs;
use wire::fraud::{CallRecordView, FraudFindingView, FraudPageData};

/// The Fraud page.
#[component]
pub fn FraudPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::form::no_store();
    let admin = is_admin();
    let query = use_query_map();
    let flash = use_flash();
    let update = ServerAction::<UpdateFraudSettings>::new();
    let unlock = ServerAction::<UnlockFraudAccount>::new();
    let hang_up = ServerAction::<HangUpFraudCall>::new();
    let rates = ServerAction::<UploadFraudRates>::new();
    let filter = move || {
        let q = query.read();
        let pick = |k: &str| q.get(k).filter(|v| !v.is_empty());
        (pick("endpoint"), pick("number"))
    };
    let page = Resource::new(
        move || {
            (
                filter(),
                unlock.version().get(),
                hang_up.version().get(),
                rates.version().get(),
            )
        },
        |((endpoint, number), ..)| get_fraud_page(endpoint, number),
    );
    let settings = Resource::new(move || update.version().get(), |_| get_fraud_settings());
    let notice = move || {
        let q = query.read();
        if q.get("saved").is_some() || matches!(update.value().get(), Some(Ok(_))) {
            Some("Fraud policy saved: the next call is decided by it.")
        } else if q.get("unlocked").is_some() || matches!(unlock.value().get(), Some(Ok(()))) {
            Some("Account unlocked.")
        } else if q.get("hung_up").is_some() || matches!(hang_up.value().get(), Some(Ok(()))) {
            Some("Call hung up.")
        } else if q.get("rates").is_some() || matches!(rates.value().get(), Some(Ok(_))) {
            Some("Rate table stored: calls are priced by it now.")
        } else {
            None
        }
    };
    let (endpoint_value, number_value) = (
        move || filter().0.unwrap_or_default(),
        move || filter().1.unwrap_or_default(),
    );
    view! {
        <h1>"Toll fraud"</h1>
        <p class="lead">
            "Every call through a trunk is decided before it is dialled: where it goes, how many run at once, how fast an account calls, what it costs. A rule reports, blocks the call, or locks the account and hangs up its calls. Emergency numbers are never asked about."
        </p>
        <Show when=move || notice().is_some()>
            <p class="notice" role="status" id="fraud-notice">{notice}</p>
        </Show>
        <Refusal error=action_error(unlock) />
        <Refusal error=action_error(hang_up) />
        <Refusal error=action_error(rates) />
        <FlashNotices flash />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(data) => view! { <Overview data admin unlock hang_up /> }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Findings and call records"</h2>
        <form method="get" action="/fraud" id="fraud-search" class="inline">
            <label>"Endpoint " <input type="text" name="endpoint" prop:value=endpoint_value maxlength="64" /></label>
            <label>"Number starts with " <input type="text" name="number" prop:value=number_value maxlength="15" inputmode="numeric" /></label>
            <button type="submit">"Search"</button>
        </form>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(data) => view! {
                        <Findings findings=data.findings />
                        <Records records=data.records />
                    }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Rate table"</h2>
        <p class="hint">"CSV lines "<code>"prefix,per_minute"</code>" (E.164 prefix, price of a minute; the longest prefix wins). Destinations it does not price cost the policy's unknown rate. Also at PUT /api/v1/fraud/rates."</p>
        {admin.then(|| view! {
            <ActionForm action=rates attr:id="fraud-rates-form" attr:class="panel">
                <input type="hidden" name="csrf" value=csrf() />
                <textarea name="csv" id="fraud-rates" rows="6" placeholder="prefix,per_minute\n44,0.02\n447,0.15"></textarea>
                <button type="submit">"Store rate table"</button>
            </ActionForm>
        })}
        <h2>"Policy"</h2>
        <Refusal error=action_error(update) />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (error, form) = refused_form(flash.await);
                match settings.await {
                    Ok(data) => {
                        let typed = match form {
                            Some(TypedForm::FraudSettings(form)) => Some(form.values),
                            _ => None,
                        };
                        view! {
                            <Refusal error />
                            <ActionForm action=update attr:id="fraud-policy-form" attr:class="panel">
                                <input type="hidden" name="csrf" value=csrf() />
                                <input type="hidden" name="version" value=data.version />
                                {data.sections.into_iter().enumerate().map(|(i, (title, list))| {
                                    let typed = typed.clone();
                                    view! {
                                        <fieldset id=format!("fraud-section-{i}")>
                                            <legend>{title}</legend>
                                            <div class="grid">
                                                {list.into_iter().map(|mut s| {
                                                    if let Some(typed) = &typed {
                                                        // What was typed comes back.
                                                        s.value = typed.get(&s.path).cloned().unwrap_or_default();
                                                    }
                                                    view! { <Setting setting=s admin prefix="f" /> }
                                                }).collect_view()}
                                            </div>
                                        </fieldset>
                                    }
                                }).collect_view()}
                                <p class="hint">"Version " {data.version} ". The same settings are at GET/PUT /api/v1/fraud/policy. Run new rules in report for a while before they block."</p>
                                {admin.then(|| view! { <button type="submit">"Save fraud policy"</button> })}
                            </ActionForm>
                        }
                        .into_any()
                    }
                    Err(e) => view! { <Refusal error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The decision's status, the locked accounts and the running calls.
#[component]
fn Overview(
    data: FraudPageData,
    admin: bool,
    unlock: ServerAction<UnlockFraudAccount>,
    hang_up: ServerAction<HangUpFraudCall>,
) -> impl IntoView {
    let s = data.status;
    let listening = if s.listening {
        format!("Serving the decision at {}", s.address)
    } else {
        format!(
            "NOT serving the decision ({}): calls follow the fail modes",
            s.error.clone().unwrap_or_default()
        )
    };
    let rates = if data.rates.prefixes == 0 {
        "no rate table: every call costs the unknown rate".to_owned()
    } else {
        format!("rate table of {} prefixes", data.rates.prefixes)
    };
    view! {
        <section class="panel" id="fraud-status">
            <p class=if s.listening { "ok" } else { "error" }>{listening}</p>
            <dl class="facts">
                <dt>"Allowed"</dt><dd id="fraud-allowed">{s.allowed}</dd>
                <dt>"Blocked"</dt><dd id="fraud-blocked">{s.blocked}</dd>
                <dt>"Locks"</dt><dd>{s.locked}</dd>
                <dt>"Running"</dt><dd>{s.running_calls}</dd>
                <dt>"Spent, last hour"</dt><dd id="fraud-spent-hour">{s.spent_last_hour}</dd>
                <dt>"Spent, last day"</dt><dd>{s.spent_last_day}</dd>
            </dl>
            <p class="hint">{rates}</p>
        </section>
        <h2>"Locked accounts"</h2>
        {if data.locks.is_empty() {
            view! { <p id="no-locks">"No account is locked."</p> }.into_any()
        } else {
            view! {
                <table id="fraud-locks">
                    <thead><tr><th>"Endpoint"</th><th>"Rule"</th><th>"Why"</th><th>"Since"</th><th></th></tr></thead>
                    <tbody>
                        {data.locks.into_iter().map(|l| {
                            let id = l.endpoint_id.clone();
                            view! {
                                <tr>
                                    <td class="endpoint">{l.endpoint_id}</td>
                                    <td>{l.rule}</td>
                                    <td>{l.reason}</td>
                                    <td><When at=l.locked_at /></td>
                                    <td>{admin.then(|| view! {
                                        <ActionForm action=unlock attr:class="inline">
                                            <input type="hidden" name="csrf" value=csrf() />
                                            <input type="hidden" name="endpoint_id" value=id />
                                            <button type="submit" class="unlock">"Unlock"</button>
                                        </ActionForm>
                                    })}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        <h2>"External calls now"</h2>
        {if data.calls.is_empty() {
            view! { <p id="no-calls">"No external call is running."</p> }.into_any()
        } else {
            view! {
                <table id="fraud-calls">
                    <thead><tr><th>"Endpoint"</th><th>"To"</th><th>"Region"</th><th>"Trunk"</th><th>"For"</th><th></th></tr></thead>
                    <tbody>
                        {data.calls.into_iter().map(|c| {
                            let id = c.uniqueid.clone();
                            view! {
                                <tr>
                                    <td>{c.endpoint_id}</td>
                                    <td>"+" {c.number}</td>
                                    <td>{c.region}</td>
                                    <td>{c.trunk}</td>
                                    <td>{human_secs(c.seconds)}</td>
                                    <td>{admin.then(|| view! {
                                        <ActionForm action=hang_up attr:class="inline">
                                            <input type="hidden" name="csrf" value=csrf() />
                                            <input type="hidden" name="uniqueid" value=id />
                                            <button type="submit" class="hang-up">"Hang up"</button>
                                        </ActionForm>
                                    })}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

/// The rules that fired.
#[component]
fn Findings(findings: Vec<FraudFindingView>) -> impl IntoView {
    if findings.is_empty() {
        return view! { <p id="no-findings">"No rule has fired."</p> }.into_any();
    }
    view! {
        <table id="fraud-findings">
            <caption>"Rules that fired, newest first"</caption>
            <thead><tr><th>"When"</th><th>"Endpoint"</th><th>"To"</th><th>"Rule"</th><th>"Call"</th><th>"Why"</th></tr></thead>
            <tbody>
                {findings.into_iter().map(|f| {
                    let class = format!("outcome-{}", f.outcome);
                    view! {
                    <tr class=class>
                        <td><When at=f.at /></td>
                        <td>{f.endpoint_id}</td>
                        <td>{if f.number.is_empty() { String::new() } else { format!("+{} {}", f.number, f.region) }}</td>
                        <td>{f.rule} " (" {f.mode} ")"</td>
                        <td>{f.outcome}</td>
                        <td>{f.reason}</td>
                    </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// The calls that ended.
#[component]
fn Records(records: Vec<CallRecordView>) -> impl IntoView {
    if records.is_empty() {
        return view! { <p id="no-records">"No external call has ended yet."</p> }.into_any();
    }
    view! {
        <table id="fraud-records">
            <caption>"External calls, newest first"</caption>
            <thead><tr><th>"Started"</th><th>"Endpoint"</th><th>"From"</th><th>"To"</th><th>"Trunk"</th><th>"Status"</th><th>"Answered"</th><th>"Cost"</th></tr></thead>
            <tbody>
                {records.into_iter().map(|r| view! {
                    <tr>
                        <td><When at=r.started_at /></td>
                        <td>{r.endpoint_id}</td>
                        <td>{r.source}</td>
                        <td>"+" {r.number} " " {r.region}</td>
                        <td>{r.trunk}</td>
                        <td>{r.dial_status}</td>
                        <td>{human_secs(u64::try_from(r.answered_secs).unwrap_or(0))}</td>
                        <td>{r.cost}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
