//! The backend side of the PBX pages: [`app::ssr::pbx::PbxConsole`] over the PBX and config
//! services. It only reads the caller (viewers read; changes need the CSRF token and the
//! admin role), turns the typed-in forms into the API's input types, calls the service and
//! maps its error. The rules stay in the services and the `policy` crate.
//!
//! It also keeps the flashes of plain form posts (see [`app::api::pbx`]): in memory, bound to
//! the session that made them, taken once, gone after [`FLASH_TTL`]. A restart loses them,
//! which costs at most one message (or a secret nobody saw: rotate it again).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::StatusCode;
use http::request::Parts;
use rand::RngCore;

use app::api::ConsoleError;
use app::api::pbx::{
    AmiUserForm, EndpointForm, PbxActionError, PbxFlash, PolicyData, PolicyForm, TrunkForm,
};
use policy::asterisk::{
    AmiClass, CallingClass, Codec, InvalidField, NewAmiUser, NewDidRoute, NewEndpoint, NewTrunk,
    PolicySettings, TlsSettings, Transport,
};
use wire::pbx::{
    AmiUserView, ApplyReport, EndpointList, EndpointView, Preview, RevisionView, TrunkView,
    WithSecret,
};

use crate::auth::{Admin, Caller};
use crate::http::HttpState;
use crate::services::pbx::PbxError;
use crate::services::{config, page, pbx};

/// How long a flash waits for its page.
pub const FLASH_TTL: Duration = Duration::from_secs(300);
/// Most flashes kept at once (the oldest go first); a flash is only made by a signed-in
/// user's form post, so this bounds memory, not a public door.
const FLASH_MAX: usize = 512;
/// Endpoints per page in the console.
const PAGE_SIZE: u64 = 50;

type Outcome<T> = Result<T, PbxActionError>;

struct FlashEntry {
    session_hash: String,
    made: Instant,
    flash: PbxFlash,
}

/// Implements the PBX pages on top of the application state.
pub struct PbxConsoleService {
    state: HttpState,
    flashes: Mutex<HashMap<String, FlashEntry>>,
}

impl PbxConsoleService {
    /// Wraps the state.
    #[must_use]
    pub fn new(state: HttpState) -> Self {
        Self {
            state,
            flashes: Mutex::new(HashMap::new()),
        }
    }
}

fn caller(req: &Parts) -> Outcome<Caller> {
    req.extensions
        .get::<Caller>()
        .cloned()
        .ok_or(PbxActionError::Console(ConsoleError::NotSignedIn))
}

/// The administrator, if the form's CSRF token matches their session and their role allows.
fn admin(req: &Parts, csrf: &str) -> Outcome<Admin> {
    let caller = caller(req)?;
    if !caller.csrf_matches(csrf) {
        return Err(ConsoleError::BadCsrf.into());
    }
    caller
        .admin()
        .map_err(|_| PbxActionError::Console(ConsoleError::Forbidden))
}

/// The one mapping from service errors to what the browser sees: the field and rule of a
/// refusal and the problems of a conflict are sipwarden's own words; an internal failure is
/// logged and shown as the fixed message.
fn shown(e: PbxError) -> PbxActionError {
    match e {
        PbxError::Invalid(field) => invalid(&field),
        PbxError::Conflict(problems) => PbxActionError::Conflict(problems),
        // The console never sends If-Match; kept total for the day it does.
        e @ PbxError::Stale { .. } => PbxActionError::Conflict(vec![e.to_string()]),
        PbxError::NotFound { kind, .. } => PbxActionError::NotFound {
            kind: kind.to_owned(),
        },
        PbxError::Internal(cause) => {
            tracing::error!(error = %cause, "internal error");
            PbxActionError::Console(ConsoleError::Internal)
        }
    }
}

fn invalid(field: &InvalidField) -> PbxActionError {
    PbxActionError::Invalid {
        field: field.field().to_owned(),
        reason: field.rule().to_owned(),
    }
}

/// The HTTP status of a PBX action error (server functions answer every error with 500
/// otherwise; see `middleware::server_fn_status`).
#[must_use]
pub fn status_of(e: &PbxActionError) -> StatusCode {
    match e {
        PbxActionError::Console(c) => super::error::status_of(*c),
        PbxActionError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        PbxActionError::Conflict(_) => StatusCode::CONFLICT,
        PbxActionError::NotFound { .. } => StatusCode::NOT_FOUND,
    }
}

// ---------------------------------------------------------------------------------------
// Forms -> the API's input types. Only splitting and number parsing happen here; every
// rule is checked by the `policy` constructors the services call.
// ---------------------------------------------------------------------------------------

/// A typed-in list: items separated by commas, blanks or new lines.
fn list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|s| !s.is_empty())
}

fn number<T: std::str::FromStr>(field: &str, text: &str, default: T) -> Result<T, InvalidField> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(default);
    }
    text.parse()
        .map_err(|_| InvalidField::new(field, "must be a whole number in range"))
}

fn keywords<T>(
    field: &str,
    text: &str,
    parse: fn(&str) -> Result<T, InvalidField>,
) -> Result<Vec<T>, InvalidField> {
    list(text)
        .iter()
        .enumerate()
        .map(|(i, s)| parse(s).map_err(|e| InvalidField::new(format!("{field}[{i}]"), e.rule())))
        .collect()
}

fn keyword<T: Copy>(
    text: &str,
    default: T,
    parse: fn(&str) -> Result<T, InvalidField>,
) -> Result<T, InvalidField> {
    match text.trim() {
        "" => Ok(default),
        t => parse(t),
    }
}

fn new_endpoint(form: EndpointForm, secret: Option<String>) -> Result<NewEndpoint, InvalidField> {
    let defaults = NewEndpoint::default();
    Ok(NewEndpoint {
        extension: form.extension.trim().to_owned(),
        display_name: form.display_name.trim().to_owned(),
        mac: optional(&form.mac),
        secret,
        permit: list(&form.permit),
        deny: list(&form.deny),
        max_calls: number("max_calls", &form.max_calls, defaults.max_calls)?,
        calling_class: keyword(
            &form.calling_class,
            defaults.calling_class,
            CallingClass::parse,
        )?,
        codecs: if form.codecs.trim().is_empty() {
            defaults.codecs
        } else {
            keywords("codecs", &form.codecs, Codec::parse)?
        },
        transport: keyword(&form.transport, defaults.transport, Transport::parse)?,
        max_contacts: number("max_contacts", &form.max_contacts, defaults.max_contacts)?,
        enabled: form.enabled.is_some(),
    })
}

/// `DID=extension` per line (a blank or `->` also separates them).
fn did_routes(text: &str) -> Result<Vec<NewDidRoute>, InvalidField> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, line)| {
            let line = line.replace("->", "=").replace('→', "=");
            let (did, extension) = line
                .split_once('=')
                .or_else(|| line.split_once(char::is_whitespace))
                .ok_or_else(|| {
                    InvalidField::new(
                        format!("dids[{i}]"),
                        "one route per line, as number=extension",
                    )
                })?;
            Ok(NewDidRoute {
                did: did.trim().to_owned(),
                extension: extension.trim().to_owned(),
            })
        })
        .collect()
}

fn new_trunk(form: TrunkForm) -> Result<NewTrunk, InvalidField> {
    let defaults = NewTrunk::default();
    Ok(NewTrunk {
        name: form.name.trim().to_owned(),
        peer: form.peer.trim().to_owned(),
        port: number("port", &form.port, defaults.port)?,
        sources: list(&form.sources),
        dids: did_routes(&form.dids)?,
        transport: keyword(&form.transport, defaults.transport, Transport::parse)?,
        codecs: if form.codecs.trim().is_empty() {
            defaults.codecs
        } else {
            keywords("codecs", &form.codecs, Codec::parse)?
        },
        outbound: form.outbound.is_some(),
    })
}

fn new_ami_user(form: AmiUserForm, secret: Option<String>) -> Result<NewAmiUser, InvalidField> {
    Ok(NewAmiUser {
        name: form.name.trim().to_owned(),
        secret,
        permit: list(&form.permit),
        deny: list(&form.deny),
        read: keywords("read", &form.read, AmiClass::parse)?,
        write: keywords("write", &form.write, AmiClass::parse)?,
        allow_dangerous: form.allow_dangerous.is_some(),
    })
}

fn address<T: std::str::FromStr>(field: &str, text: &str, what: &str) -> Result<T, InvalidField> {
    text.trim()
        .parse()
        .map_err(|_| InvalidField::new(field, format!("must be an {what} address")))
}

fn policy_settings(form: PolicyForm) -> Result<PolicySettings, InvalidField> {
    let d = PolicySettings::default();
    let tls = match (optional(&form.tls_cert_file), optional(&form.tls_key_file)) {
        (None, None) => None,
        (Some(cert_file), Some(key_file)) => Some(TlsSettings {
            cert_file,
            key_file,
        }),
        _ => {
            return Err(InvalidField::new(
                "tls_key_file",
                "give both the certificate and the key file, or neither",
            ));
        }
    };
    Ok(PolicySettings {
        realm: form.realm.trim().to_owned(),
        user_agent: form.user_agent.trim().to_owned(),
        unidentified_request_count: number(
            "unidentified_request_count",
            &form.unidentified_request_count,
            d.unidentified_request_count,
        )?,
        unidentified_request_period: number(
            "unidentified_request_period",
            &form.unidentified_request_period,
            d.unidentified_request_period,
        )?,
        unidentified_request_prune_interval: number(
            "unidentified_request_prune_interval",
            &form.unidentified_request_prune_interval,
            d.unidentified_request_prune_interval,
        )?,
        sip_bind_v4: address::<Ipv4Addr>("sip_bind_v4", &form.sip_bind_v4, "IPv4")?,
        sip_bind_v6: optional(&form.sip_bind_v6)
            .map(|a| address::<Ipv6Addr>("sip_bind_v6", &a, "IPv6"))
            .transpose()?,
        sip_port: number("sip_port", &form.sip_port, d.sip_port)?,
        tls,
        tls_port: number("tls_port", &form.tls_port, d.tls_port)?,
        default_endpoint_networks: list(&form.default_endpoint_networks),
        national_patterns: list(&form.national_patterns),
        international_patterns: list(&form.international_patterns),
        emergency_numbers: list(&form.emergency_numbers),
        ami_bind: address::<IpAddr>("ami_bind", &form.ami_bind, "IP")?,
        ami_port: number("ami_port", &form.ami_port, d.ami_port)?,
        ami_auth_timeout: number(
            "ami_auth_timeout",
            &form.ami_auth_timeout,
            d.ami_auth_timeout,
        )?,
        ami_auth_limit: number("ami_auth_limit", &form.ami_auth_limit, d.ami_auth_limit)?,
        guard_ami_user: form.guard_ami_user.trim().to_owned(),
        // Left out: the service keeps the stored secrets.
        guard_ami_secret: None,
        guard_ami_permit: list(&form.guard_ami_permit),
        apply_ami_user: form.apply_ami_user.trim().to_owned(),
        apply_ami_secret: None,
    })
}

fn policy_data((s, version): (PolicySettings, i32)) -> PolicyData {
    let (tls_cert_file, tls_key_file) =
        s.tls.map(|t| (t.cert_file, t.key_file)).unwrap_or_default();
    PolicyData {
        form: PolicyForm {
            realm: s.realm,
            user_agent: s.user_agent,
            unidentified_request_count: s.unidentified_request_count.to_string(),
            unidentified_request_period: s.unidentified_request_period.to_string(),
            unidentified_request_prune_interval: s.unidentified_request_prune_interval.to_string(),
            sip_bind_v4: s.sip_bind_v4.to_string(),
            sip_bind_v6: s.sip_bind_v6.map(|a| a.to_string()).unwrap_or_default(),
            sip_port: s.sip_port.to_string(),
            tls_cert_file,
            tls_key_file,
            tls_port: s.tls_port.to_string(),
            default_endpoint_networks: s.default_endpoint_networks.join(", "),
            national_patterns: s.national_patterns.join(", "),
            international_patterns: s.international_patterns.join(", "),
            emergency_numbers: s.emergency_numbers.join(", "),
            ami_bind: s.ami_bind.to_string(),
            ami_port: s.ami_port.to_string(),
            ami_auth_timeout: s.ami_auth_timeout.to_string(),
            ami_auth_limit: s.ami_auth_limit.to_string(),
            guard_ami_user: s.guard_ami_user,
            guard_ami_permit: s.guard_ami_permit.join(", "),
            apply_ami_user: s.apply_ami_user,
        },
        version,
    }
}

#[async_trait::async_trait]
impl app::ssr::pbx::PbxConsole for PbxConsoleService {
    async fn put_flash(&self, req: &Parts, flash: PbxFlash) -> Option<String> {
        let session_hash = caller(req).ok()?.session_hash;
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        let now = Instant::now();
        let mut flashes = self.flashes.lock().unwrap_or_else(PoisonError::into_inner);
        flashes.retain(|_, e| now.duration_since(e.made) < FLASH_TTL);
        while flashes.len() >= FLASH_MAX {
            let oldest = flashes
                .iter()
                .min_by_key(|(_, e)| e.made)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => flashes.remove(&k),
                None => break,
            };
        }
        flashes.insert(
            token.clone(),
            FlashEntry {
                session_hash,
                made: now,
                flash,
            },
        );
        Some(token)
    }

    async fn take_flash(&self, req: &Parts, token: &str) -> Option<PbxFlash> {
        let session_hash = caller(req).ok()?.session_hash;
        let mut flashes = self.flashes.lock().unwrap_or_else(PoisonError::into_inner);
        // Another session's token is left alone (and shows nothing here).
        if flashes.get(token)?.session_hash != session_hash {
            return None;
        }
        let entry = flashes.remove(token)?;
        (entry.made.elapsed() < FLASH_TTL).then_some(entry.flash)
    }

    async fn list_endpoints(
        &self,
        req: &Parts,
        q: Option<String>,
        cursor: Option<String>,
    ) -> Outcome<EndpointList> {
        caller(req)?;
        pbx::list_endpoints(&self.state.db, q.as_deref(), cursor.as_deref(), PAGE_SIZE)
            .await
            .map_err(shown)
    }

    async fn get_endpoint(&self, req: &Parts, id: &str) -> Outcome<EndpointView> {
        caller(req)?;
        pbx::get_endpoint(&self.state.db, id).await.map_err(shown)
    }

    async fn create_endpoint(
        &self,
        req: &Parts,
        csrf: &str,
        form: EndpointForm,
        secret: Option<String>,
    ) -> Outcome<WithSecret<EndpointView>> {
        let admin = admin(req, csrf)?;
        let new = new_endpoint(form, secret).map_err(|e| invalid(&e))?;
        pbx::create_endpoint(&self.state, &admin, new)
            .await
            .map_err(shown)
    }

    async fn update_endpoint(
        &self,
        req: &Parts,
        csrf: &str,
        id: &str,
        form: EndpointForm,
    ) -> Outcome<EndpointView> {
        let admin = admin(req, csrf)?;
        let changes = new_endpoint(form, None).map_err(|e| invalid(&e))?;
        pbx::update_endpoint(&self.state, &admin, id, changes, None)
            .await
            .map_err(shown)
    }

    async fn delete_endpoint(&self, req: &Parts, csrf: &str, id: &str) -> Outcome<()> {
        let admin = admin(req, csrf)?;
        pbx::delete_endpoint(&self.state, &admin, id)
            .await
            .map_err(shown)
    }

    async fn rotate_endpoint_secret(
        &self,
        req: &Parts,
        csrf: &str,
        id: &str,
    ) -> Outcome<WithSecret<EndpointView>> {
        let admin = admin(req, csrf)?;
        pbx::rotate_endpoint_secret(&self.state, &admin, id, None)
            .await
            .map_err(shown)
    }

    async fn list_trunks(&self, req: &Parts) -> Outcome<Vec<TrunkView>> {
        caller(req)?;
        // The console shows one page of the most the API pages allow: a PBX has a few trunks.
        pbx::list_trunks(&self.state.db, None, page::MAX_LIMIT)
            .await
            .map(|p| p.items)
            .map_err(shown)
    }

    async fn create_trunk(&self, req: &Parts, csrf: &str, form: TrunkForm) -> Outcome<TrunkView> {
        let admin = admin(req, csrf)?;
        let new = new_trunk(form).map_err(|e| invalid(&e))?;
        pbx::create_trunk(&self.state, &admin, new)
            .await
            .map_err(shown)
    }

    async fn get_trunk(&self, req: &Parts, name: &str) -> Outcome<TrunkView> {
        caller(req)?;
        pbx::get_trunk(&self.state.db, name).await.map_err(shown)
    }

    async fn update_trunk(
        &self,
        req: &Parts,
        csrf: &str,
        name: &str,
        form: TrunkForm,
    ) -> Outcome<TrunkView> {
        let admin = admin(req, csrf)?;
        let changes = new_trunk(form).map_err(|e| invalid(&e))?;
        pbx::update_trunk(&self.state, &admin, name, changes, None)
            .await
            .map_err(shown)
    }

    async fn delete_trunk(&self, req: &Parts, csrf: &str, name: &str) -> Outcome<()> {
        let admin = admin(req, csrf)?;
        pbx::delete_trunk(&self.state, &admin, name)
            .await
            .map_err(shown)
    }

    async fn list_ami_users(&self, req: &Parts) -> Outcome<Vec<AmiUserView>> {
        caller(req)?;
        pbx::list_ami_users(&self.state.db, None, page::MAX_LIMIT)
            .await
            .map(|p| p.items)
            .map_err(shown)
    }

    async fn create_ami_user(
        &self,
        req: &Parts,
        csrf: &str,
        form: AmiUserForm,
        secret: Option<String>,
    ) -> Outcome<WithSecret<AmiUserView>> {
        let admin = admin(req, csrf)?;
        let new = new_ami_user(form, secret).map_err(|e| invalid(&e))?;
        pbx::create_ami_user(&self.state, &admin, new)
            .await
            .map_err(shown)
    }

    async fn get_ami_user(&self, req: &Parts, name: &str) -> Outcome<AmiUserView> {
        caller(req)?;
        pbx::get_ami_user(&self.state.db, name).await.map_err(shown)
    }

    async fn update_ami_user(
        &self,
        req: &Parts,
        csrf: &str,
        name: &str,
        form: AmiUserForm,
    ) -> Outcome<AmiUserView> {
        let admin = admin(req, csrf)?;
        let changes = new_ami_user(form, None).map_err(|e| invalid(&e))?;
        pbx::update_ami_user(&self.state, &admin, name, changes, None)
            .await
            .map_err(shown)
    }

    async fn delete_ami_user(&self, req: &Parts, csrf: &str, name: &str) -> Outcome<()> {
        let admin = admin(req, csrf)?;
        pbx::delete_ami_user(&self.state, &admin, name)
            .await
            .map_err(shown)
    }

    async fn rotate_ami_secret(
        &self,
        req: &Parts,
        csrf: &str,
        name: &str,
    ) -> Outcome<WithSecret<AmiUserView>> {
        let admin = admin(req, csrf)?;
        pbx::rotate_ami_secret(&self.state, &admin, name, None)
            .await
            .map_err(shown)
    }

    async fn policy(&self, req: &Parts) -> Outcome<PolicyData> {
        caller(req)?;
        pbx::get_policy(&self.state.db)
            .await
            .map(policy_data)
            .map_err(shown)
    }

    async fn update_policy(
        &self,
        req: &Parts,
        csrf: &str,
        form: PolicyForm,
    ) -> Outcome<PolicyData> {
        let admin = admin(req, csrf)?;
        let settings = policy_settings(form).map_err(|e| invalid(&e))?;
        pbx::update_policy(&self.state, &admin, settings, None)
            .await
            .map(policy_data)
            .map_err(shown)
    }

    async fn preview(&self, req: &Parts) -> Outcome<Preview> {
        caller(req)?
            .admin()
            .map_err(|_| PbxActionError::Console(ConsoleError::Forbidden))?;
        config::preview(&self.state).await.map_err(shown)
    }

    async fn apply(&self, req: &Parts, csrf: &str) -> Outcome<ApplyReport> {
        let admin = admin(req, csrf)?;
        config::apply(&self.state, &admin).await.map_err(shown)
    }

    async fn revisions(&self, req: &Parts) -> Outcome<Vec<RevisionView>> {
        caller(req)?;
        config::revisions(&self.state, None, 50)
            .await
            .map(|p| p.items)
            .map_err(shown)
    }

    async fn rollback(&self, req: &Parts, csrf: &str, number: i32) -> Outcome<ApplyReport> {
        let admin = admin(req, csrf)?;
        config::rollback(&self.state, &admin, number)
            .await
            .map_err(shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_lists_split_on_commas_blanks_and_lines() {
        assert_eq!(
            list(" 10.0.0.0/8,192.168.1.0/24\n fd00::/8 ,, "),
            ["10.0.0.0/8", "192.168.1.0/24", "fd00::/8"]
        );
    }

    #[test]
    fn a_word_for_a_number_names_the_field() {
        let form = EndpointForm {
            extension: "1001".into(),
            display_name: "A".into(),
            max_calls: "two".into(),
            ..EndpointForm::new_defaults()
        };
        let e = new_endpoint(form, None).unwrap_err();
        assert_eq!(e.field(), "max_calls");
    }

    #[test]
    fn an_unknown_codec_is_refused_with_its_position() {
        let form = EndpointForm {
            codecs: "ulaw, speex".into(),
            ..EndpointForm::new_defaults()
        };
        let e = new_endpoint(form, None).unwrap_err();
        assert_eq!(e.field(), "codecs[1]");
        assert!(e.rule().contains("ulaw"), "{}", e.rule());
    }

    #[test]
    fn did_routes_read_one_per_line() {
        let routes = did_routes("4930123=1001\n 4930124 -> 1002 \n\n").unwrap();
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[1].did, "4930124");
        assert_eq!(routes[1].extension, "1002");
        assert_eq!(did_routes("nonsense").unwrap_err().field(), "dids[0]");
    }

    #[test]
    fn the_policy_form_round_trips_the_defaults() {
        let defaults = PolicySettings::default();
        let data = policy_data((defaults.clone(), 1));
        assert_eq!(policy_settings(data.form).unwrap(), defaults);
    }
}
