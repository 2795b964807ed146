//! `/pbx-audit`: audit an Asterisk sipwarden did not configure, and take it over. The
//! administrator picks a tar or tar.gz of its configuration directory; the browser sends it
//! to `POST /api/v1/audit/config` (the REST API's own rules, session and CSRF token) and
//! shows the weaknesses with file and line; then, if they wish, to
//! `POST /api/v1/import/config` (first as a preview) and shows what the import takes over,
//! changes on the way in and cannot represent. The upload itself is never kept.
//!
//! Why the REST endpoints rather than server functions: a file goes up as the request body
//! as it is, with the API's upload limit, and scripts and the console get one answer.

use leptos::prelude::*;

use wire::config_audit::{ConfigAudit, ConfigFinding};
use wire::config_import::{ConfigImport, ImportOrigin};

/// Where an upload (an audit, an import) stands.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(feature = "hydrate"),
    allow(dead_code, reason = "only the browser uploads")
)]
enum Upload<T> {
    NotYet,
    Running(String),
    Done(String, T),
    Failed(String),
}

/// The audit page.
#[component]
pub fn PbxAuditPage() -> impl IntoView {
    let audit = RwSignal::new(Upload::<ConfigAudit>::NotYet);
    let import = RwSignal::new(Upload::<ConfigImport>::NotYet);
    let csrf = crate::components::form::csrf();
    let upload = move |to: &'static str| {
        #[cfg(feature = "hydrate")]
        {
            let csrf = csrf.clone();
            leptos::task::spawn_local(async move {
                match to {
                    "audit" => browser::run(csrf, audit, "/api/v1/audit/config").await,
                    "preview" => {
                        browser::run(csrf, import, "/api/v1/import/config?dry_run=true").await;
                    }
                    _ => browser::run(csrf, import, "/api/v1/import/config").await,
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&csrf, audit, import, to);
    };
    let (upload_preview, upload_import) = (upload.clone(), upload.clone());
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
            <button type="button" class="primary" id="audit-start" on:click=move |_| upload("audit")>"Audit"</button>
            <noscript><p class="error">
                "Auditing an upload here needs JavaScript. From a shell: "
                <code>"sipwarden audit /etc/asterisk"</code>", or "
                <code>"POST /api/v1/audit/config"</code>" with the archive as the body."
            </p></noscript>
        </div>
        {move || match audit.get() {
            Upload::NotYet => ().into_any(),
            Upload::Running(name) => view! { <p class="notice" role="status">"Auditing " {name} "…"</p> }.into_any(),
            Upload::Failed(why) => view! { <p class="error" role="alert" id="audit-error">{why}</p> }.into_any(),
            Upload::Done(name, report) => view! { <Report name report /> }.into_any(),
        }}
        <h2>"Take it over"</h2>
        <p>
            "Import the same archive into sipwarden: its phones keep the names and secrets they \
             register with (only digests are stored), its providers become trunks and its \
             manager.conf users AMI users. Preview first: nothing is stored, and you see what \
             changes on the way in and what cannot be represented. Nothing reaches Asterisk \
             until you apply the configuration. From a shell: "
            <code>"sipwarden import --dry-run /etc/asterisk"</code>"."
        </p>
        <div class="button-row">
            <button type="button" class="secondary" id="import-preview" on:click=move |_| upload_preview("preview")>"Preview import"</button>
            <button type="button" class="primary" id="import-start" on:click=move |_| upload_import("import")>"Import"</button>
        </div>
        {move || match import.get() {
            Upload::NotYet => ().into_any(),
            Upload::Running(name) => view! { <p class="notice" role="status">"Importing " {name} "…"</p> }.into_any(),
            Upload::Failed(why) => view! { <p class="error" role="alert" id="import-error">{why}</p> }.into_any(),
            Upload::Done(_, report) => view! { <ImportReport report /> }.into_any(),
        }}
    }
}

fn place(from: &ImportOrigin) -> String {
    format!("{}:{}", from.file, from.line)
}

fn notes(list: Vec<String>) -> impl IntoView {
    view! { <ul class="notes">{list.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul> }
}

/// What an import took over (or would), changed and left out.
#[component]
fn ImportReport(report: ConfigImport) -> impl IntoView {
    let headline = if report.dry_run {
        format!(
            "Preview: {} endpoints, {} trunks and {} AMI users would be imported; {} things cannot be.",
            report.endpoints.len(),
            report.trunks.len(),
            report.ami_users.len(),
            report.not_imported.len()
        )
    } else {
        format!(
            "Imported {} endpoints, {} trunks and {} AMI users; {} things were not. Apply the \
             configuration to load them into Asterisk.",
            report.endpoints.len(),
            report.trunks.len(),
            report.ami_users.len(),
            report.not_imported.len()
        )
    };
    view! {
        <p class="notice" role="status" id="import-result">{headline}</p>
        <div class="table-scroll">
            <table id="import-endpoints">
                <caption>"Endpoints"</caption>
                <thead><tr><th>"Name"</th><th>"Extension"</th><th>"Class"</th><th>"From"</th><th>"On the way in"</th></tr></thead>
                <tbody>
                    {report.endpoints.into_iter().map(|e| {
                        let id = e.id.clone();
                        view! {
                        <tr data-id=id>
                            <td><code>{e.id}</code></td>
                            <td>{e.extension} " " <span class="muted">{e.display_name}</span></td>
                            <td>{e.calling_class}</td>
                            <td><code>{place(&e.from)}</code></td>
                            <td>{notes(e.notes)}</td>
                        </tr>
                    }}).collect_view()}
                </tbody>
            </table>
        </div>
        <div class="table-scroll">
            <table id="import-trunks">
                <caption>"Trunks"</caption>
                <thead><tr><th>"Name"</th><th>"Provider"</th><th>"Carries"</th><th>"From"</th><th>"On the way in"</th></tr></thead>
                <tbody>
                    {report.trunks.into_iter().map(|t| {
                        let mut carries = vec![format!("{} DIDs", t.dids)];
                        if t.outbound { carries.push("outbound calls".to_owned()); }
                        if t.registers { carries.push("a registration".to_owned()); }
                        view! {
                            <tr>
                                <td><code>{t.name}</code></td>
                                <td>{t.peer}</td>
                                <td>{carries.join(", ")}</td>
                                <td><code>{place(&t.from)}</code></td>
                                <td>{notes(t.notes)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <div class="table-scroll">
            <table id="import-ami-users">
                <caption>"AMI users"</caption>
                <thead><tr><th>"Name"</th><th>"New secret (shown once)"</th><th>"From"</th><th>"On the way in"</th></tr></thead>
                <tbody>
                    {report.ami_users.into_iter().map(|u| view! {
                        <tr>
                            <td><code>{u.name}</code></td>
                            <td>{match u.secret {
                                Some(secret) => view! { <code class="secret">{secret}</code> }.into_any(),
                                None => view! { <span class="muted">"—"</span> }.into_any(),
                            }}</td>
                            <td><code>{place(&u.from)}</code></td>
                            <td>{notes(u.notes)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <div class="table-scroll">
            <table id="import-contexts">
                <caption>"Contexts and the calling classes they became"</caption>
                <thead><tr><th>"Context"</th><th>"Class"</th><th>"Why"</th></tr></thead>
                <tbody>
                    {report.contexts.into_iter().map(|c| view! {
                        <tr><td><code>{c.context}</code></td><td>{c.calling_class}</td><td>{c.reason}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {if report.not_imported.is_empty() {
            view! { <p class="muted" id="import-not-imported">"Everything found was imported."</p> }.into_any()
        } else {
            view! {
        <div class="table-scroll">
            <table id="import-not-imported">
                <caption>"Not imported"</caption>
                <thead><tr><th>"Where"</th><th>"What"</th><th>"Why"</th></tr></thead>
                <tbody>
                    {report.not_imported.into_iter().map(|n| view! {
                        <tr>
                            <td><code>{format!("{}:{}", n.file, n.line)}</code></td>
                            <td>{n.kind} " " <code>{n.object}</code></td>
                            <td>{n.reason}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
            }.into_any()
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

    use super::Upload;

    /// The upload's largest size (the API's limit).
    const MAX_UPLOAD_BYTES: f64 = 8.0 * 1024.0 * 1024.0;

    /// Sends the chosen file to `path` and puts the answer (or why there is none) into
    /// `state`.
    pub async fn run<T>(csrf: String, state: RwSignal<Upload<T>>, path: &str)
    where
        T: serde::de::DeserializeOwned + Send + Sync + 'static,
    {
        let outcome = match chosen() {
            Err(why) => Upload::Failed(why),
            Ok(file) => {
                let name = file.name();
                state.set(Upload::Running(name.clone()));
                match send(&csrf, &file, path).await {
                    Ok(report) => Upload::Done(name, report),
                    Err(why) => Upload::Failed(why),
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

    async fn send<T: serde::de::DeserializeOwned>(
        csrf: &str,
        file: &web_sys::File,
        path: &str,
    ) -> Result<T, String> {
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
            JsFuture::from(window.fetch_with_str_and_init(path, &init))
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
