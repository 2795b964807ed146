//! `/alerts`: webhooks on the triggers an administrator picks, their test button, and the
//! delivery history. Administrators only (a webhook URL is often a credential itself). The
//! signing secret is shown once, after creation.

use leptos::prelude::*;

use crate::components::time::When;
use leptos_router::hooks::use_query_map;

use crate::api::alerts::{
    CreateAlert, DeleteAlert, SetAlertEnabled, TestAlert, UpdateAlert, get_alerts,
};
use crate::components::form::{
    Confirm, LastAction, Refusal, action_error, csrf, is_admin, query_error, reset_on_success,
    use_flash,
};
use crate::form::alerts::AlertForm;
use crate::form::{Flash, ShownSecret};
use wire::alerts::{AlertView, DeliveryView, Trigger};

/// The fields of an alert, shared by the creation and the edit forms.
#[component]
fn AlertFields(initial: AlertForm) -> impl IntoView {
    let boxes = Trigger::ALL
        .into_iter()
        .map(|t| {
            let checked = initial.has(t);
            view! {
                <label class="check">
                    <input type="checkbox" name=AlertForm::field_of(t) checked=checked />
                    " " <code>{t.as_str()}</code> ": " {t.describe()}
                </label>
            }
        })
        .collect_view();
    view! {
        <div class="grid">
            <label>"Name" <input type="text" name="name" value=initial.name required maxlength="64" /></label>
            <label class="wide">"URL (http or https)"
                <input type="text" name="url" value=initial.url required maxlength="2048" placeholder="https://hooks.example.com/sipwarden" />
            </label>
            <fieldset class="wide">
                <legend>"Fires when"</legend>
                {boxes}
            </fieldset>
            <label>"Rate-spike threshold (events per minute)"
                <input type="text" name="rate_per_minute" value=initial.rate_per_minute inputmode="numeric" placeholder="e.g. 100" />
            </label>
            <label class="check"><input type="checkbox" name="enabled" checked=initial.enabled.is_some() /> " Enabled"</label>
            <label class="check wide">
                <input type="checkbox" name="allow_internal_targets" checked=initial.allow_internal_targets.is_some() />
                " Allow internal targets: loopback, link-local (cloud metadata) and this host's own addresses. Off, such a URL is refused, also when its name resolves there."
            </label>
        </div>
    }
}

/// A signing secret shown this once.
#[component]
fn AlertSecret(#[prop(into)] secret: Signal<Option<ShownSecret>>) -> impl IntoView {
    move || {
        secret.get().map(|s| {
            view! {
                <div class="secret" role="status" id="alert-secret">
                    <p>
                        "Signing secret of alert " <code class="secret-key">{s.key}</code>
                        ". It is shown this once: copy it into the receiver now."
                    </p>
                    <p><code class="secret-value">{s.secret}</code></p>
                </div>
            }
        })
    }
}

/// One delivery in words.
fn delivery_text(d: &DeliveryView) -> String {
    let status = d
        .status_code
        .map(|s| format!(" (HTTP {s})"))
        .unwrap_or_default();
    let error = match (&d.error, d.outcome.as_str()) {
        (Some(e), "failed" | "pending") => format!(": {e}"),
        _ => String::new(),
    };
    format!(
        "{}{status} after {} attempt(s), {} ms{error}",
        d.outcome, d.attempts, d.duration_ms
    )
}

/// The test's outcome, from the hydrated action or from `?tested=<delivery>`.
#[component]
fn TestResult(delivery: Option<DeliveryView>) -> impl IntoView {
    delivery.map(|d| {
        let class = if d.outcome == "delivered" {
            "notice"
        } else {
            "error"
        };
        view! {
            <p class=class role="status" id="test-result">
                "Test delivery to alert " {d.alert_id} ": " {delivery_text(&d)}
            </p>
        }
    })
}

/// The alerts page.
#[component]
pub fn AlertsPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::form::no_store();
    let admin = is_admin();
    let query = use_query_map();
    let flash = use_flash();
    let last = LastAction::new();
    let create = last.track("create", ServerAction::<CreateAlert>::new());
    let created_form = reset_on_success(create);
    let update = last.track("update", ServerAction::<UpdateAlert>::new());
    let toggle = last.track("toggle", ServerAction::<SetAlertEnabled>::new());
    let delete = last.track("delete", ServerAction::<DeleteAlert>::new());
    let test = last.track("test", ServerAction::<TestAlert>::new());
    let page = Resource::new(
        move || {
            (
                create.version().get(),
                update.version().get(),
                toggle.version().get(),
                delete.version().get(),
                test.version().get(),
            )
        },
        |_| get_alerts(),
    );
    // The signing secret stays on screen after other actions (a test, a toggle): it is shown
    // this once.
    let created = Signal::derive(move || {
        create
            .value()
            .get()
            .and_then(Result::ok)
            .map(|c| ShownSecret {
                kind: "alert".to_owned(),
                key: c.view.name,
                label: String::new(),
                secret: c.secret,
                provisioning: Vec::new(),
            })
    });
    let tested_here = last.outcome("test", test);
    let tested_here = Signal::derive(move || tested_here.get().and_then(Result::ok));
    let tested_id = move || {
        query
            .read()
            .get("tested")
            .and_then(|s| s.parse::<i32>().ok())
    };
    let (update_error, toggle_error, delete_error, test_error, code_error) = (
        last.error("update", update),
        last.error("toggle", toggle),
        last.error("delete", delete),
        last.error("test", test),
        query_error(),
    );
    let row_error = Signal::derive(move || {
        update_error
            .get()
            .or_else(|| toggle_error.get())
            .or_else(|| delete_error.get())
            .or_else(|| test_error.get())
            .or_else(|| code_error.get().filter(|_| last.none()))
    });
    let (updated, toggled, deleted) = (
        last.outcome("update", update),
        last.outcome("toggle", toggle),
        last.outcome("delete", delete),
    );
    let notice = move || {
        let q = query.read();
        let said = |key: &str| last.none() && q.get(key).is_some();
        if said("saved")
            || matches!(updated.get(), Some(Ok(())))
            || matches!(toggled.get(), Some(Ok(())))
        {
            Some("Alert saved.")
        } else if said("deleted") || matches!(deleted.get(), Some(Ok(()))) {
            Some("Alert deleted.")
        } else {
            None
        }
    };

    view! {
        <h1>"Alerts"</h1>
        <p class="hint">
            "Each alert POSTs a JSON body to its URL when one of its triggers fires, signed with its secret: "
            <code>"X-Sipwarden-Signature: sha256=<hex>"</code> " is the HMAC-SHA256 of "
            <code>"<X-Sipwarden-Timestamp>.<body>"</code>
            ". Receivers should refuse timestamps older than five minutes. A delivery is tried up to five times "
            "(1, 2, 4, 8 s apart) until the receiver answers 2xx; a 4xx other than 408 or 429 ends it."
        </p>
        <Show when=move || notice().is_some()>
            <p class="notice" role="status" id="alert-notice">{notice}</p>
        </Show>
        <AlertSecret secret=created />
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let flash = flash.await;
                let secret = flash.as_ref().and_then(Flash::secret);
                let error = flash.as_ref().and_then(Flash::error);
                view! {
                    <AlertSecret secret=Signal::derive(move || secret.clone()) />
                    <Refusal error=Signal::derive(move || error.clone()) />
                }
            })}
        </Suspense>
        <Refusal error=row_error />
        {move || tested_here.get().map(|d| view! { <TestResult delivery=Some(d) /> })}

        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(data) => {
                        let from_redirect = tested_id()
                            .and_then(|id| data.deliveries.iter().find(|d| d.id == id).cloned());
                        let names: Vec<(i32, String)> =
                            data.alerts.iter().map(|a| (a.id, a.name.clone())).collect();
                        let name_of = move |id: i32| {
                            names
                                .iter()
                                .find(|(i, _)| *i == id)
                                .map_or_else(|| id.to_string(), |(_, n)| n.clone())
                        };
                        let dropped = (data.dropped > 0).then(|| view! {
                            <p class="error" id="alerts-dropped">
                                {data.dropped} " notices were dropped because deliveries could not keep up."
                            </p>
                        });
                        let alerts = if data.alerts.is_empty() {
                            view! { <p class="hint" id="no-alerts">"No alerts yet."</p> }.into_any()
                        } else {
                            view! {
                                <table class="list" id="alert-table">
                                    <thead><tr>
                                        <th>"Name"</th><th>"URL"</th><th>"Fires when"</th><th>"State"</th><th></th>
                                    </tr></thead>
                                    <tbody>
                                        {data.alerts.into_iter().map(|a| view! {
                                            <AlertRow alert=a update toggle delete test />
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        };
                        let history = if data.deliveries.is_empty() {
                            view! { <p class="hint" id="no-deliveries">"Nothing delivered yet."</p> }.into_any()
                        } else {
                            view! {
                                <table class="list" id="delivery-table">
                                    <thead><tr>
                                        <th>"When"</th><th>"Alert"</th><th>"Trigger"</th><th>"What"</th>
                                        <th>"Attempts"</th><th>"Status"</th><th>"Outcome"</th><th>"Error"</th>
                                    </tr></thead>
                                    <tbody>
                                        {data.deliveries.into_iter().map(|d| view! {
                                            <tr class=format!("delivery {}", d.outcome)>
                                                <td><When at=d.at.clone() /></td>
                                                <td>{name_of(d.alert_id)}</td>
                                                <td>{d.trigger.clone()}</td>
                                                <td>{d.summary.clone()}</td>
                                                <td>{d.attempts}</td>
                                                <td>{d.status_code.map(|s| s.to_string()).unwrap_or_default()}</td>
                                                <td class="outcome">{d.outcome.clone()}</td>
                                                <td>{d.error.clone().unwrap_or_default()}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        };
                        view! {
                            <TestResult delivery=from_redirect />
                            {dropped}
                            {alerts}
                            <h2>"Delivery history"</h2>
                            <p class="hint">"The latest 50; the last 1,000 are kept."</p>
                            {history}
                        }.into_any()
                    }
                    Err(e) => view! { <Refusal error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                }
            })}
        </Suspense>

        {admin.then(|| view! {
            <h2>"New alert"</h2>
            <Refusal error=action_error(create) />
            <ActionForm action=create node_ref=created_form attr:id="alert-create" attr:class="panel">
                <input type="hidden" name="csrf" value=csrf() />
                <AlertFields initial=AlertForm::new_defaults() />
                <button type="submit">"Create alert"</button>
            </ActionForm>
        })}
    }
}

/// One alert: its settings, test, on/off, delete, and an edit form.
#[component]
fn AlertRow(
    alert: AlertView,
    update: ServerAction<UpdateAlert>,
    toggle: ServerAction<SetAlertEnabled>,
    delete: ServerAction<DeleteAlert>,
    test: ServerAction<TestAlert>,
) -> impl IntoView {
    let id = alert.id.to_string();
    let (id_test, id_toggle, id_delete, id_edit) = (id.clone(), id.clone(), id.clone(), id.clone());
    let form = AlertForm::from(&alert);
    let triggers = alert
        .triggers
        .iter()
        .map(|t| match (t, alert.rate_per_minute) {
            (Trigger::RateSpike, Some(r)) => format!("rate-spike (> {r}/min)"),
            _ => t.as_str().to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let (state, flip, flip_text) = if alert.enabled {
        ("enabled", "false", "Disable")
    } else {
        ("disabled", "true", "Enable")
    };
    view! {
        <tr data-alert=id>
            <td class="name">{alert.name.clone()}</td>
            <td><code>{alert.url.clone()}</code></td>
            <td class="triggers">{triggers}</td>
            <td class="state">{state}</td>
            <td class="actions">
                <ActionForm action=test attr:class="inline test">
                    <input type="hidden" name="csrf" value=csrf() />
                    <input type="hidden" name="id" value=id_test />
                    <button type="submit" class="secondary">"Test"</button>
                </ActionForm>
                <ActionForm action=toggle attr:class="inline toggle">
                    <input type="hidden" name="csrf" value=csrf() />
                    <input type="hidden" name="id" value=id_toggle />
                    <input type="hidden" name="enabled" value=flip />
                    <button type="submit" class="secondary">{flip_text}</button>
                </ActionForm>
                <Confirm label="Delete" class="danger delete" question=format!("Delete alert {}? Its deliveries and history go with it.", alert.name)>
                    <ActionForm action=delete attr:class="inline delete">
                        <input type="hidden" name="csrf" value=csrf() />
                        <input type="hidden" name="id" value=id_delete />
                        <button type="submit" class="danger">"Yes, delete"</button>
                    </ActionForm>
                </Confirm>
                <details>
                    <summary>"Edit"</summary>
                    <ActionForm action=update attr:class="panel edit">
                        <input type="hidden" name="csrf" value=csrf() />
                        <input type="hidden" name="id" value=id_edit />
                        <AlertFields initial=form />
                        <button type="submit">"Save"</button>
                    </ActionForm>
                </details>
            </td>
        </tr>
    }
}
