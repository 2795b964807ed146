//! The PBX pages' forms, as typed: endpoints, trunks, AMI users and the hardening policy,
//! and the console paths of their objects.

use serde::{Deserialize, Serialize};

use wire::pbx::{AmiUserView, EndpointView, TrunkView};

/// The endpoint form, as typed (lists are separated by commas, blanks or new lines).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointForm {
    pub extension: String,
    pub display_name: String,
    pub calling_class: String,
    /// Networks it may connect from; empty for the policy's defaults.
    pub permit: String,
    pub deny: String,
    pub max_calls: String,
    pub max_contacts: String,
    pub codecs: String,
    pub transport: String,
    /// Only at creation (the id is derived from it).
    pub mac: String,
    /// A checkbox: present when ticked.
    pub enabled: Option<String>,
}

impl EndpointForm {
    /// What the creation form starts with: the API's defaults.
    #[must_use]
    pub fn new_defaults() -> Self {
        Self {
            calling_class: "internal".to_owned(),
            max_calls: "2".to_owned(),
            max_contacts: "1".to_owned(),
            codecs: "ulaw, alaw".to_owned(),
            transport: "udp".to_owned(),
            enabled: Some("on".to_owned()),
            ..Self::default()
        }
    }
}

impl From<&EndpointView> for EndpointForm {
    fn from(e: &EndpointView) -> Self {
        Self {
            extension: e.extension.clone(),
            display_name: e.display_name.clone(),
            calling_class: e.calling_class.clone(),
            permit: e.permit.join(", "),
            deny: e.deny.join(", "),
            max_calls: e.max_calls.to_string(),
            max_contacts: e.max_contacts.to_string(),
            codecs: e.codecs.join(", "),
            transport: e.transport.clone(),
            mac: e.mac.clone().unwrap_or_default(),
            enabled: e.enabled.then(|| "on".to_owned()),
        }
    }
}

/// The trunk form, as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrunkForm {
    pub name: String,
    pub peer: String,
    pub port: String,
    /// Source networks; empty for the peer address alone.
    pub sources: String,
    /// One route per line: `DID=extension`.
    pub dids: String,
    pub transport: String,
    pub codecs: String,
    /// A checkbox: present when ticked.
    pub outbound: Option<String>,
    /// A checkbox: the trunk registers with the provider. The provider's password is a
    /// separate argument of the server functions, never part of this form (which a refused
    /// post keeps in a flash to fill the form again).
    pub registers: Option<String>,
    pub reg_username: String,
    pub reg_auth_username: String,
    pub reg_contact_user: String,
    pub reg_retry_interval: String,
    pub reg_forbidden_retry_interval: String,
    pub reg_expiration: String,
    /// A checkbox: the same credentials answer challenges on outbound calls.
    pub reg_outbound_auth: Option<String>,
}

impl TrunkForm {
    /// What the creation form starts with.
    #[must_use]
    pub fn new_defaults() -> Self {
        Self {
            port: "5060".to_owned(),
            transport: "udp".to_owned(),
            codecs: "ulaw, alaw".to_owned(),
            reg_retry_interval: "60".to_owned(),
            reg_forbidden_retry_interval: "0".to_owned(),
            reg_expiration: "3600".to_owned(),
            reg_outbound_auth: Some("on".to_owned()),
            ..Self::default()
        }
    }
}

impl From<&TrunkView> for TrunkForm {
    fn from(t: &TrunkView) -> Self {
        Self {
            name: t.name.clone(),
            peer: t.peer.clone(),
            port: t.port.to_string(),
            sources: t.sources.join(", "),
            dids: t
                .dids
                .iter()
                .map(|d| format!("{}={}", d.did, d.extension))
                .collect::<Vec<_>>()
                .join("\n"),
            transport: t.transport.clone(),
            codecs: t.codecs.join(", "),
            outbound: t.outbound.then(|| "on".to_owned()),
            ..registration_fields(t)
        }
    }
}

/// The registration part of the trunk form for `t` (the defaults when it does not register).
fn registration_fields(t: &TrunkView) -> TrunkForm {
    let Some(r) = &t.registration else {
        return TrunkForm::new_defaults();
    };
    TrunkForm {
        registers: Some("on".to_owned()),
        reg_username: r.username.clone(),
        reg_auth_username: r.auth_username.clone().unwrap_or_default(),
        reg_contact_user: r.contact_user.clone().unwrap_or_default(),
        reg_retry_interval: r.retry_interval.to_string(),
        reg_forbidden_retry_interval: r.forbidden_retry_interval.to_string(),
        reg_expiration: r.expiration.to_string(),
        reg_outbound_auth: r.outbound_auth.then(|| "on".to_owned()),
        ..TrunkForm::default()
    }
}

/// The AMI user form, as typed (the secret is a separate argument, never kept in a flash).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AmiUserForm {
    pub name: String,
    pub permit: String,
    pub deny: String,
    /// Classes, e.g. `call, security`.
    pub read: String,
    pub write: String,
    /// A checkbox: explicit consent to root-equivalent classes.
    pub allow_dangerous: Option<String>,
}

impl AmiUserForm {
    /// What the creation form starts with: loopback only, no classes.
    #[must_use]
    pub fn new_defaults() -> Self {
        Self {
            permit: "127.0.0.1/32".to_owned(),
            ..Self::default()
        }
    }
}

impl From<&AmiUserView> for AmiUserForm {
    fn from(u: &AmiUserView) -> Self {
        Self {
            name: u.name.clone(),
            permit: u.permit.join(", "),
            deny: u.deny.join(", "),
            read: u.read.join(", "),
            write: u.write.join(", "),
            allow_dangerous: u.allow_dangerous.then(|| "on".to_owned()),
        }
    }
}

/// The hardening policy form, as typed. sipwarden's own AMI secrets are not in it (they are
/// kept as they are).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyForm {
    pub realm: String,
    pub user_agent: String,
    pub unidentified_request_count: String,
    pub unidentified_request_period: String,
    pub unidentified_request_prune_interval: String,
    pub sip_bind_v4: String,
    /// Empty: no IPv6 transports.
    pub sip_bind_v6: String,
    pub sip_port: String,
    /// Both empty: no TLS transport.
    pub tls_cert_file: String,
    pub tls_key_file: String,
    pub tls_port: String,
    pub default_endpoint_networks: String,
    pub national_patterns: String,
    pub international_patterns: String,
    pub emergency_numbers: String,
    pub ami_bind: String,
    pub ami_port: String,
    pub ami_auth_timeout: String,
    pub ami_auth_limit: String,
    pub guard_ami_user: String,
    pub guard_ami_permit: String,
    pub apply_ami_user: String,
    /// The administrator's own dialplan, as typed.
    pub custom_dialplan: String,
}

/// The policy as the form shows it, with its version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyData {
    pub form: PolicyForm,
    pub version: i32,
}

/// The console page of an endpoint.
#[must_use]
pub fn endpoint_page(id: &str) -> String {
    object_page("/endpoints", id)
}

/// The console page of an object under `list`. Ids and names are checked to be letters,
/// digits, `-` and `_`; anything else is dropped, so the path (also used in a redirect's
/// `Location`) cannot carry other characters.
#[must_use]
pub fn object_page(list: &str, key: &str) -> String {
    let safe: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    format!("{list}/{safe}")
}

impl PolicyForm {
    /// The value of the field `name` (the form's input names), or `""` for an unknown name.
    #[must_use]
    pub fn get(&self, name: &str) -> &str {
        match name {
            "realm" => &self.realm,
            "user_agent" => &self.user_agent,
            "unidentified_request_count" => &self.unidentified_request_count,
            "unidentified_request_period" => &self.unidentified_request_period,
            "unidentified_request_prune_interval" => &self.unidentified_request_prune_interval,
            "sip_bind_v4" => &self.sip_bind_v4,
            "sip_bind_v6" => &self.sip_bind_v6,
            "sip_port" => &self.sip_port,
            "tls_cert_file" => &self.tls_cert_file,
            "tls_key_file" => &self.tls_key_file,
            "tls_port" => &self.tls_port,
            "default_endpoint_networks" => &self.default_endpoint_networks,
            "national_patterns" => &self.national_patterns,
            "international_patterns" => &self.international_patterns,
            "emergency_numbers" => &self.emergency_numbers,
            "ami_bind" => &self.ami_bind,
            "ami_port" => &self.ami_port,
            "ami_auth_timeout" => &self.ami_auth_timeout,
            "ami_auth_limit" => &self.ami_auth_limit,
            "guard_ami_user" => &self.guard_ami_user,
            "guard_ami_permit" => &self.guard_ami_permit,
            "apply_ami_user" => &self.apply_ami_user,
            "custom_dialplan" => &self.custom_dialplan,
            _ => "",
        }
    }
}
