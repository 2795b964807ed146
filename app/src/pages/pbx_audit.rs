//! `/pbx-audit`: audit an Asterisk sipwarden did not configure. The administrator picks a tar
//! or tar.gz of its configuration directory; the browser sends it to
//! `POST /api/v1/audit/config` (the REST API's own rules, session and CSRF token) and shows
//! the weaknesses with file and line. Nothing uploaded is kept.
//!
//! Why the REST endpoint rather than a server function: a file goes up as the request body
//! as it is, with the API's upload limit, and scripts and the console get one answer.

use leptos::prelude::*;

use wire::config_audit::{ConfigAudit, ConfigFinding};

/// Where an audit stands.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(feature = "hydrate"),
    allow(dead_code, reason = "only the browser runs an audit")
)]
enum Audit {
    NotYet,
    Running(String),
    Done(String, ConfigAudit),
    Failed(String),
}

/// The audit page.
#[component]
pub fn PbxAuditPage() -> impl IntoView {
    let state = RwSignal::new(Audit::NotYet);
    let csrf = crate::components::form::csrf();
    let start = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let csrf = csrf.clone();
            leptos::task::spawn_local(async move {
                browser::run(csrf, state).await;
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&csrf, state);
    };
    view! {
        <h1>"Audit a PBX"</h1>
        <p class="lead">
            "How weak is an Asterisk you already run? Upload its configuration directory as a tar \
             or tar.gz archive — for example made with "
            <code>"tar czf asterisk.tgz -C /etc/asterisk ."</code>
            " — and see every weakness of the seven hardening steps with its file and line. \
             FreePBX's generated files and their "<code>"*_custom.conf"</code>" companions are \
             read as Asterisk reads them. Nothing you upload is kept."
        </p>
        <div class="card">
            <label>"Configuration archive (tar or tar.gz, at most 8 MiB)"
                <input type="file" id="audit-file" accept=".tar,.tgz,.gz,application/gzip,application/x-tar" />
            </label>
            <button type="button" class="primary" id="audit-start" on:click=start>"Audit"</button>
            <noscript><p class="error">
                "Auditing an upload here needs JavaScript. From a shell: "
                <code>"sipwarden audit /etc/asterisk"</code>", or "
                <code>"POST /api/v1/audit/config"</code>" with the archive as the body."
            </p></noscript>
        </div>
        {move || match state.get() {
            Audit::NotYet => ().into_any(),
            Audit::Running(name) => view! { <p class="notice" role="status">"Auditing " {name} "…"</p> }.into_any(),
            Audit::Failed(why) => view! { <p class="error" role="alert" id="audit-error">{why}</p> }.into_any(),
            Audit::Done(name, report) => view! { <Report name report /> }.into_any(),
        }}
    }
}

#[component]
fn Report(name: String, report: ConfigAudit) -> impl IntoView {
    let level = match report.score {
        90.. => "tile good",
        50..90 => "tile warn",
        _ => "tile bad",
    };
    let high = report
        .findings
        .iter()
        .filter(|f| f.severity == "high")
        .count();
    let files = report.files.join(", ");
    view! {
        <section class="tiles" aria-label="Audit result">
            <div class=level id="audit-score">
                <span class="tile-label">"Score of " {name}</span>
                <strong>{report.score} " / 100"</strong>
                <span class="tile-detail">{report.findings.len()} " findings, " {high} " high"</span>
            </div>
        </section>
        <p class="muted" id="audit-files">"Files read: " {files}</p>
        {if report.findings.is_empty() {
            view! { <p class="notice">"No weakness found."</p> }.into_any()
        } else {
            view! {
                <div class="table-scroll">
                    <table id="audit-findings">
                        <thead><tr>
                            <th>"Severity"</th><th>"Where"</th><th>"Object"</th>
                            <th>"Step"</th><th>"What it means"</th>
                        </tr></thead>
                        <tbody>
                            {report.findings.into_iter().map(|f| view! { <FindingRow f /> }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any()
        }}
    }
}

#[component]
fn FindingRow(f: ConfigFinding) -> impl IntoView {
    let class = format!("severity {}", f.severity);
    let place = format!("{}:{}", f.file, f.line);
    let rule = f.rule.clone();
    let step = if f.step == 0 {
        "—".to_owned()
    } else {
        f.step.to_string()
    };
    view! {
        <tr data-rule=rule>
            <td><span class=class>{f.severity}</span></td>
            <td><code>{place}</code></td>
            <td>{f.object}</td>
            <td>{step}</td>
            <td>{f.message} " " <span class="muted">"(" {f.rule} ")"</span></td>
        </tr>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    use super::Audit;

    /// The upload's largest size (the API's limit).
    const MAX_UPLOAD_BYTES: f64 = 8.0 * 1024.0 * 1024.0;

    /// Sends the chosen file and puts the answer (or why there is none) into `state`.
    pub async fn run(csrf: String, state: RwSignal<Audit>) {
        let outcome = match chosen() {
            Err(why) => Audit::Failed(why),
            Ok(file) => {
                let name = file.name();
                state.set(Audit::Running(name.clone()));
                match send(&csrf, &file).await {
                    Ok(report) => Audit::Done(name, report),
                    Err(why) => Audit::Failed(why),
                }
            }
        };
        state.set(outcome);
    }

    fn chosen() -> Result<web_sys::File, String> {
        let file = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id("audit-file"))
            .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
            .and_then(|input| input.files())
            .and_then(|files| files.get(0))
            .ok_or("Choose an archive first.")?;
        if file.size() > MAX_UPLOAD_BYTES {
            return Err(format!(
                "{} is larger than 8 MiB: archive only the configuration directory.",
                file.name()
            ));
        }
        Ok(file)
    }

    async fn send(
        csrf: &str,
        file: &web_sys::File,
    ) -> Result<wire::config_audit::ConfigAudit, String> {
        let failed = |e: JsValue| {
            format!(
                "The upload failed: {}",
                e.as_string()
                    .unwrap_or_else(|| "the server could not be reached".to_owned())
            )
        };
        let headers = web_sys::Headers::new().map_err(failed)?;
        headers.set("x-csrf-token", csrf).map_err(failed)?;
        headers
            .set("content-type", "application/octet-stream")
            .map_err(failed)?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_credentials(web_sys::RequestCredentials::SameOrigin);
        init.set_headers(&headers);
        init.set_body(file);
        let window = web_sys::window().ok_or("no window")?;
        let response: web_sys::Response =
            JsFuture::from(window.fetch_with_str_and_init("/api/v1/audit/config", &init))
                .await
                .map_err(failed)?
                .dyn_into()
                .map_err(failed)?;
        let text = JsFuture::from(response.text().map_err(failed)?)
            .await
            .map_err(failed)?
            .as_string()
            .unwrap_or_default();
        if response.ok() {
            return serde_json::from_str(&text).map_err(|e| format!("Unexpected answer: {e}"));
        }
        // A problem document says what to do; anything else at least its status.
        let detail = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|p| p["detail"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("The server answered {}.", response.status()));
        Err(detail)
    }
}
