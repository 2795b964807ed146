//! The global hardening policy: realm, banners, thresholds, AMI binding, calling-class
//! patterns and the guard's own AMI account.
//!
//! Some hardening is not a setting at all, because turning it off is never right: guests are
//! off, no anonymous endpoint exists, `alwaysauthreject` is on, the security log channel is
//! on. Those are constants of the renderers, not fields here.

use super::custom_dialplan::CustomDialplan;
use super::error::InvalidField;
use super::names::{DialPattern, EmergencyNumber, FilePath, ObjectName, Realm, UserAgent};
use super::net::{Acl, Network};
use super::secret::AmiSecret;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The policy as the API sends it and the database stores it; every field has a safe default.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySettings {
    /// The digest realm of every auth (step 2).
    pub realm: String,
    /// The `User-Agent`/`Server` header.
    pub user_agent: String,
    /// PJSIP `unidentified_request_count`.
    pub unidentified_request_count: u32,
    /// PJSIP `unidentified_request_period`, seconds.
    pub unidentified_request_period: u32,
    /// PJSIP `unidentified_request_prune_interval`, seconds.
    pub unidentified_request_prune_interval: u32,
    /// IPv4 address the SIP transports bind to.
    #[cfg_attr(feature = "utoipa", schema(value_type = String, format = Ipv4))]
    pub sip_bind_v4: Ipv4Addr,
    /// IPv6 address for a second set of transports; none by default.
    #[cfg_attr(feature = "utoipa", schema(value_type = Option<String>, format = Ipv6))]
    pub sip_bind_v6: Option<Ipv6Addr>,
    /// UDP/TCP SIP port.
    pub sip_port: u16,
    /// TLS certificate and key; TLS transports exist only when set.
    pub tls: Option<TlsSettings>,
    /// TLS SIP port.
    pub tls_port: u16,
    /// Networks an endpoint created without `permit` may connect from.
    pub default_endpoint_networks: Vec<String>,
    /// Patterns the `national` class may dial (through the outbound trunk).
    pub national_patterns: Vec<String>,
    /// Patterns the `international` class may dial in addition.
    pub international_patterns: Vec<String>,
    /// Numbers every endpoint may dial, never blocked by a call limit.
    pub emergency_numbers: Vec<String>,
    /// Address AMI listens on.
    #[cfg_attr(feature = "utoipa", schema(value_type = String, example = "127.0.0.1"))]
    pub ami_bind: IpAddr,
    /// AMI TCP port.
    pub ami_port: u16,
    /// Seconds a client has to log in to AMI.
    pub ami_auth_timeout: u32,
    /// Concurrent unauthenticated AMI sessions.
    pub ami_auth_limit: u32,
    /// The AMI user sipwarden's guard logs in as.
    pub guard_ami_user: String,
    /// Its secret; generated when absent.
    pub guard_ami_secret: Option<String>,
    /// Networks sipwarden connects to AMI from (both its accounts).
    pub guard_ami_permit: Vec<String>,
    /// The AMI user sipwarden reloads and verifies the configuration as.
    pub apply_ami_user: String,
    /// Its secret; generated when absent.
    pub apply_ami_secret: Option<String>,
    /// A dialplan of the administrator's own: `[custom-…]` contexts, of which
    /// `custom-internal`, `custom-national` and `custom-international` are included into the
    /// calling classes (see `CustomDialplan` for what it may do).
    pub custom_dialplan: String,
}

/// Certificate and key files for the TLS transport.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate (chain).
    pub cert_file: String,
    /// PEM private key.
    pub key_file: String,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            realm: "sipwarden".to_owned(),
            user_agent: "PBX".to_owned(),
            unidentified_request_count: 5,
            unidentified_request_period: 5,
            unidentified_request_prune_interval: 30,
            sip_bind_v4: Ipv4Addr::UNSPECIFIED,
            sip_bind_v6: None,
            sip_port: 5060,
            tls: None,
            tls_port: 5061,
            // Private ranges only: a phone on the LAN works out of the box, the Internet
            // does not reach it until an administrator says so (step 1).
            default_endpoint_networks: vec![
                "10.0.0.0/8".to_owned(),
                "172.16.0.0/12".to_owned(),
                "192.168.0.0/16".to_owned(),
                "fd00::/8".to_owned(),
            ],
            national_patterns: vec!["_0ZXXXXX.".to_owned()],
            international_patterns: vec!["_00ZXXXXX.".to_owned()],
            emergency_numbers: vec!["112".to_owned()],
            ami_bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ami_port: 5038,
            ami_auth_timeout: 10,
            ami_auth_limit: 5,
            guard_ami_user: "sipwarden-guard".to_owned(),
            guard_ami_secret: None,
            guard_ami_permit: vec!["127.0.0.1/32".to_owned()],
            apply_ami_user: "sipwarden-apply".to_owned(),
            apply_ami_secret: None,
            custom_dialplan: String::new(),
        }
    }
}

impl fmt::Debug for PolicySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicySettings")
            .field("realm", &self.realm)
            .field("user_agent", &self.user_agent)
            .field("guard_ami_user", &self.guard_ami_user)
            .field(
                "guard_ami_secret",
                &self.guard_ami_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("apply_ami_user", &self.apply_ami_user)
            .field(
                "apply_ami_secret",
                &self.apply_ami_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// TLS files, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    cert_file: FilePath,
    key_file: FilePath,
}

impl TlsFiles {
    /// The certificate path.
    pub fn cert_file(&self) -> &FilePath {
        &self.cert_file
    }
    /// The private key path.
    pub fn key_file(&self) -> &FilePath {
        &self.key_file
    }
}

/// One of sipwarden's own AMI accounts: the guard's (`read = security`, no write class at
/// all) or the apply pipeline's (see [`GlobalPolicy::apply_account`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnAmiAccount {
    name: ObjectName,
    secret: AmiSecret,
    acl: Acl,
}

impl OwnAmiAccount {
    /// The login name.
    pub fn name(&self) -> &ObjectName {
        &self.name
    }
    /// The secret (sipwarden needs it to log in).
    pub fn secret(&self) -> &AmiSecret {
        &self.secret
    }
    /// Where sipwarden may connect from.
    pub fn acl(&self) -> &Acl {
        &self.acl
    }
}

/// The checked global policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalPolicy {
    realm: Realm,
    user_agent: UserAgent,
    unidentified_request_count: u32,
    unidentified_request_period: u32,
    unidentified_request_prune_interval: u32,
    sip_bind_v4: Ipv4Addr,
    sip_bind_v6: Option<Ipv6Addr>,
    sip_port: u16,
    tls: Option<TlsFiles>,
    tls_port: u16,
    default_endpoint_networks: Vec<Network>,
    national_patterns: Vec<DialPattern>,
    international_patterns: Vec<DialPattern>,
    emergency_numbers: Vec<EmergencyNumber>,
    ami_bind: IpAddr,
    ami_port: u16,
    ami_auth_timeout: u32,
    ami_auth_limit: u32,
    guard: OwnAmiAccount,
    apply: OwnAmiAccount,
    custom_dialplan: CustomDialplan,
    /// The text it was checked from, comments included, as the administrator wrote it.
    custom_dialplan_text: String,
}

fn in_range(field: &str, value: u32, min: u32, max: u32) -> Result<u32, InvalidField> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(InvalidField::new(
            field,
            format!("must be between {min} and {max}"),
        ))
    }
}

fn port(field: &str, value: u16, min: u16) -> Result<u16, InvalidField> {
    if value >= min {
        Ok(value)
    } else {
        Err(InvalidField::new(
            field,
            format!("must be a port between {min} and 65535"),
        ))
    }
}

fn list<T>(
    field: &str,
    items: &[String],
    max: usize,
    parse: impl Fn(&str) -> Result<T, InvalidField>,
) -> Result<Vec<T>, InvalidField> {
    if items.len() > max {
        return Err(InvalidField::new(
            field,
            format!("must list at most {max} entries"),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let parsed = parse(item).map_err(|e| e.for_field(format!("{field}[{i}]")))?;
        if items[..i].contains(item) {
            return Err(InvalidField::new(
                format!("{field}[{i}]"),
                "is listed twice",
            ));
        }
        out.push(parsed);
    }
    Ok(out)
}

impl GlobalPolicy {
    /// Checks the settings. The guard's AMI secret is generated with `rng` when the settings
    /// carry none (first start); store [`GlobalPolicy::settings`] afterwards to keep it.
    pub fn new<R: Rng + ?Sized>(
        settings: PolicySettings,
        rng: &mut R,
    ) -> Result<Self, InvalidField> {
        let realm = Realm::parse(&settings.realm)?;
        let user_agent = UserAgent::parse(&settings.user_agent)?;
        let tls = match &settings.tls {
            Some(tls) => Some(TlsFiles {
                cert_file: FilePath::parse(&tls.cert_file)
                    .map_err(|e| e.for_field("tls.cert_file"))?,
                key_file: FilePath::parse(&tls.key_file)
                    .map_err(|e| e.for_field("tls.key_file"))?,
            }),
            None => None,
        };
        let sip_port = port("sip_port", settings.sip_port, 1)?;
        let tls_port = port("tls_port", settings.tls_port, 1)?;
        if tls.is_some() && tls_port == sip_port {
            return Err(InvalidField::new("tls_port", "must differ from sip_port"));
        }
        let default_endpoint_networks = list(
            "default_endpoint_networks",
            &settings.default_endpoint_networks,
            64,
            Network::parse,
        )?;
        if default_endpoint_networks.iter().any(Network::is_everything) {
            return Err(InvalidField::new(
                "default_endpoint_networks",
                "a /0 network would let every address in",
            ));
        }
        let guard_name = ObjectName::parse(&settings.guard_ami_user)
            .map_err(|e| e.for_field("guard_ami_user"))?;
        let guard_secret = match &settings.guard_ami_secret {
            Some(secret) => {
                AmiSecret::parse(secret).map_err(|e| e.for_field("guard_ami_secret"))?
            }
            None => AmiSecret::generate(rng),
        };
        let guard_acl = Acl::from_strings(&settings.guard_ami_permit, &[]).map_err(|e| {
            let field = format!("guard_ami_{}", e.field());
            e.for_field(field)
        })?;
        let apply_name = ObjectName::parse(&settings.apply_ami_user)
            .map_err(|e| e.for_field("apply_ami_user"))?;
        // manager.c compares user names case-insensitively.
        if apply_name
            .as_str()
            .eq_ignore_ascii_case(guard_name.as_str())
        {
            return Err(InvalidField::new(
                "apply_ami_user",
                "must differ from guard_ami_user",
            ));
        }
        let custom_dialplan = CustomDialplan::parse(&settings.custom_dialplan)?;
        let apply_secret = match &settings.apply_ami_secret {
            Some(secret) => {
                AmiSecret::parse(secret).map_err(|e| e.for_field("apply_ami_secret"))?
            }
            None => AmiSecret::generate(rng),
        };
        Ok(Self {
            realm,
            user_agent,
            unidentified_request_count: in_range(
                "unidentified_request_count",
                settings.unidentified_request_count,
                1,
                1000,
            )?,
            unidentified_request_period: in_range(
                "unidentified_request_period",
                settings.unidentified_request_period,
                1,
                3600,
            )?,
            unidentified_request_prune_interval: in_range(
                "unidentified_request_prune_interval",
                settings.unidentified_request_prune_interval,
                1,
                86_400,
            )?,
            sip_bind_v4: settings.sip_bind_v4,
            sip_bind_v6: settings.sip_bind_v6,
            sip_port,
            tls,
            tls_port,
            default_endpoint_networks,
            national_patterns: list(
                "national_patterns",
                &settings.national_patterns,
                32,
                DialPattern::parse,
            )?,
            international_patterns: list(
                "international_patterns",
                &settings.international_patterns,
                32,
                DialPattern::parse,
            )?,
            emergency_numbers: list(
                "emergency_numbers",
                &settings.emergency_numbers,
                8,
                EmergencyNumber::parse,
            )?,
            ami_bind: settings.ami_bind,
            // Why: manager.c warns about ports below 1024; AMI never needs one.
            ami_port: port("ami_port", settings.ami_port, 1024)?,
            ami_auth_timeout: in_range("ami_auth_timeout", settings.ami_auth_timeout, 1, 300)?,
            ami_auth_limit: in_range("ami_auth_limit", settings.ami_auth_limit, 1, 1000)?,
            apply: OwnAmiAccount {
                name: apply_name,
                secret: apply_secret,
                acl: guard_acl.clone(),
            },
            guard: OwnAmiAccount {
                name: guard_name,
                secret: guard_secret,
                acl: guard_acl,
            },
            custom_dialplan,
            custom_dialplan_text: settings.custom_dialplan,
        })
    }

    /// The settings this policy was made from, including the generated guard secret; store
    /// these.
    pub fn settings(&self) -> PolicySettings {
        let strings = |v: &[Network]| v.iter().map(ToString::to_string).collect();
        PolicySettings {
            realm: self.realm.to_string(),
            user_agent: self.user_agent.to_string(),
            unidentified_request_count: self.unidentified_request_count,
            unidentified_request_period: self.unidentified_request_period,
            unidentified_request_prune_interval: self.unidentified_request_prune_interval,
            sip_bind_v4: self.sip_bind_v4,
            sip_bind_v6: self.sip_bind_v6,
            sip_port: self.sip_port,
            tls: self.tls.as_ref().map(|t| TlsSettings {
                cert_file: t.cert_file.to_string(),
                key_file: t.key_file.to_string(),
            }),
            tls_port: self.tls_port,
            default_endpoint_networks: strings(&self.default_endpoint_networks),
            national_patterns: self
                .national_patterns
                .iter()
                .map(ToString::to_string)
                .collect(),
            international_patterns: self
                .international_patterns
                .iter()
                .map(ToString::to_string)
                .collect(),
            emergency_numbers: self
                .emergency_numbers
                .iter()
                .map(ToString::to_string)
                .collect(),
            ami_bind: self.ami_bind,
            ami_port: self.ami_port,
            ami_auth_timeout: self.ami_auth_timeout,
            ami_auth_limit: self.ami_auth_limit,
            guard_ami_user: self.guard.name.to_string(),
            guard_ami_secret: Some(self.guard.secret.as_str().to_owned()),
            guard_ami_permit: strings(self.guard.acl.permit()),
            apply_ami_user: self.apply.name.to_string(),
            apply_ami_secret: Some(self.apply.secret.as_str().to_owned()),
            custom_dialplan: self.custom_dialplan_text.clone(),
        }
    }

    /// The digest realm.
    pub fn realm(&self) -> &Realm {
        &self.realm
    }
    /// The banner text.
    pub fn user_agent(&self) -> &UserAgent {
        &self.user_agent
    }
    /// `(count, period, prune_interval)` for unidentified requests.
    pub fn unidentified_requests(&self) -> (u32, u32, u32) {
        (
            self.unidentified_request_count,
            self.unidentified_request_period,
            self.unidentified_request_prune_interval,
        )
    }
    /// IPv4 bind address of the SIP transports.
    pub fn sip_bind_v4(&self) -> Ipv4Addr {
        self.sip_bind_v4
    }
    /// IPv6 bind address, if IPv6 transports are wanted.
    pub fn sip_bind_v6(&self) -> Option<Ipv6Addr> {
        self.sip_bind_v6
    }
    /// UDP/TCP port.
    pub fn sip_port(&self) -> u16 {
        self.sip_port
    }
    /// TLS files, if TLS is configured.
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }
    /// TLS port.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }
    /// Networks for endpoints created without their own.
    pub fn default_endpoint_networks(&self) -> &[Network] {
        &self.default_endpoint_networks
    }
    /// National patterns.
    pub fn national_patterns(&self) -> &[DialPattern] {
        &self.national_patterns
    }
    /// International patterns.
    pub fn international_patterns(&self) -> &[DialPattern] {
        &self.international_patterns
    }
    /// Emergency numbers.
    pub fn emergency_numbers(&self) -> &[EmergencyNumber] {
        &self.emergency_numbers
    }
    /// AMI bind address (127.0.0.1 unless changed).
    pub fn ami_bind(&self) -> IpAddr {
        self.ami_bind
    }
    /// AMI port.
    pub fn ami_port(&self) -> u16 {
        self.ami_port
    }
    /// `(authtimeout, authlimit)` for AMI.
    pub fn ami_auth(&self) -> (u32, u32) {
        (self.ami_auth_timeout, self.ami_auth_limit)
    }
    /// The administrator's own dialplan.
    pub fn custom_dialplan(&self) -> &CustomDialplan {
        &self.custom_dialplan
    }
    /// The guard's own AMI account.
    pub fn guard(&self) -> &OwnAmiAccount {
        &self.guard
    }
    /// sipwarden's account for `Reload` and for verifying what Asterisk loaded: write
    /// `config` (Reload, ShowDialPlan), `system` (PJSIPShow*) and `command` (`manager show
    /// user`). Root-equivalent, like the config files sipwarden already writes; loopback only.
    pub fn apply_account(&self) -> &OwnAmiAccount {
        &self.apply
    }
}
