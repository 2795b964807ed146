//! `/policy`: the global hardening policy (realm, banners, thresholds, bindings, dial
//! patterns, sipwarden's own AMI accounts). Hardening that is never right to turn off
//! (guests, anonymous endpoints, `alwaysauthreject`) is not a setting at all.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::form::TypedForm;

use crate::api::pbx::{UpdatePolicy, get_policy};
use crate::components::form::{
    FlashNotices, Refusal, action_error, csrf, is_admin, refused_form, use_flash,
};

/// The form's sections: a title and its fields (input name, label).
const SECTIONS: &[(&str, &[(&str, &str)])] = &[
    (
        "SIP",
        &[
            (
                "realm",
                "Digest realm of every auth (changing it needs new secrets)",
            ),
            ("user_agent", "User-Agent / Server header"),
            ("sip_bind_v4", "IPv4 address the SIP transports bind to"),
            ("sip_bind_v6", "IPv6 address (empty: no IPv6 transports)"),
            ("sip_port", "UDP/TCP port"),
            ("tls_cert_file", "TLS certificate file (empty: no TLS)"),
            ("tls_key_file", "TLS key file"),
            ("tls_port", "TLS port"),
        ],
    ),
    (
        "Unidentified requests",
        &[
            (
                "unidentified_request_count",
                "Requests from an unknown source before it is logged",
            ),
            ("unidentified_request_period", "… within this many seconds"),
            (
                "unidentified_request_prune_interval",
                "Forget sources after this many seconds",
            ),
        ],
    ),
    (
        "Endpoints and dialling",
        &[
            (
                "default_endpoint_networks",
                "Networks of an endpoint created without any",
            ),
            ("national_patterns", "Patterns the national class may dial"),
            (
                "international_patterns",
                "Patterns the international class may dial in addition",
            ),
            (
                "emergency_numbers",
                "Emergency numbers (always allowed, never limited)",
            ),
        ],
    ),
    (
        "AMI",
        &[
            ("ami_bind", "Address AMI listens on"),
            ("ami_port", "AMI port"),
            ("ami_auth_timeout", "Seconds a client has to log in"),
            ("ami_auth_limit", "Concurrent unauthenticated sessions"),
            ("guard_ami_user", "sipwarden's guard account"),
            ("apply_ami_user", "sipwarden's apply account"),
            (
                "guard_ami_permit",
                "Networks sipwarden connects to AMI from",
            ),
        ],
    ),
];

/// The policy page.
#[component]
pub fn PolicyPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::form::no_store();
    let admin = is_admin();
    let query = use_query_map();
    let flash = use_flash();
    let update = ServerAction::<UpdatePolicy>::new();
    let policy = Resource::new(|| (), |()| get_policy());
    let saved =
        move || query.read().get("saved").is_some() || matches!(update.value().get(), Some(Ok(_)));
    view! {
        <h1>"Hardening policy"</h1>
        <p class="lead">
            "Guests, anonymous endpoints and enumeration-friendly rejections are always off; they are not settings. "
            "Lists are separated by commas or new lines."
        </p>
        <Show when=saved><p class="notice" role="status" id="saved">"Policy saved. Apply the configuration to make it live."</p></Show>
        <Refusal error=action_error(update) />
        <FlashNotices flash />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (error, form) = refused_form(flash.await);
                match policy.await {
                    Ok(data) => {
                        let version = data.version;
                        let form = match form {
                            Some(TypedForm::Policy(form)) => *form,
                            _ => data.form,
                        };
                        view! {
                            <Refusal error />
                            <ActionForm action=update attr:id="policy-form" attr:class="panel">
                                <input type="hidden" name="csrf" value=csrf() />
                                {SECTIONS.iter().map(|(title, fields)| view! {
                                    <fieldset>
                                        <legend>{*title}</legend>
                                        <div class="grid">
                                            {fields.iter().map(|(name, label)| view! {
                                                <label>{*label}
                                                    <input type="text" name=*name value=form.get(name).to_owned() disabled=!admin />
                                                </label>
                                            }).collect_view()}
                                        </div>
                                    </fieldset>
                                }).collect_view()}
                                <fieldset>
                                    <legend>"Your own dialplan"</legend>
                                    <p class="hint">
                                        "Contexts named " <code>"[custom-…]"</code> ": " <code>"custom-internal"</code>
                                        " is reachable from every calling class, " <code>"custom-national"</code>
                                        " from national and international, " <code>"custom-international"</code>
                                        " from international; sipwarden's extensions and emergency numbers always match first. "
                                        "Menus, voicemail, announcements and conference rooms are fine; calls leave only through "
                                        <code>"Goto(sw-dial-local,EXTENSION,1)"</code> " (with the caller's call limit). "
                                        "Dial, System and other applications that could reach a trunk or the system are refused, with the line."
                                    </p>
                                    <label>"Your own dialplan"
                                        <textarea name="custom_dialplan" rows="10" spellcheck="false" class="code" disabled=!admin>{form.custom_dialplan.clone()}</textarea>
                                    </label>
                                </fieldset>
                                <p class="hint">"Version " {version} ". sipwarden's own AMI secrets are generated and kept; they are never shown here."</p>
                                {admin.then(|| view! { <button type="submit">"Save policy"</button> })}
                            </ActionForm>
                        }.into_any()
                    }
                    Err(e) => view! { <Refusal error=Signal::derive(move || Some(e.clone())) /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
