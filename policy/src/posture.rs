//! The posture check: the seven hardening steps (and the design's extras) evaluated against
//! a PBX model, as findings with a severity, what they mean, the object and where to fix it,
//! and a score that moves only when findings do.
//!
//! Many of these cannot happen to a model built through the checked constructors (an auth
//! name equal to its extension, say); they are checked anyway, because the model may come
//! from stored rows edited by hand, and because a rule that is checked cannot silently stop
//! holding when a constructor changes.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::asterisk::{Acl, CallingClass, PbxModel};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Tighten when convenient.
    Low,
    /// A real exposure.
    Medium,
    /// An attacker can use this now.
    High,
}

impl Severity {
    /// The name as serialized (`high`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }

    /// Points a finding of this severity takes off the score.
    #[must_use]
    pub fn weight(self) -> u32 {
        match self {
            Self::Info => 0,
            Self::Low => 2,
            Self::Medium => 8,
            Self::High => 25,
        }
    }
}

/// One thing the check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Finding {
    /// The rule, stable (`endpoint.open_acl`).
    pub rule: &'static str,
    pub severity: Severity,
    /// `endpoint`, `trunk`, `ami_user` or `policy`.
    pub object_kind: &'static str,
    /// The object's name (endpoint id, trunk or AMI user name; `policy` for the policy).
    pub object: String,
    /// What it means, in words.
    pub message: String,
    /// Which hardening step it belongs to (1 to 7; 0 for the design's extras).
    pub step: u8,
}

/// The result of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Posture {
    /// 100 minus the findings' weights, at least 0.
    pub score: u32,
    /// Worst first, then by rule and object.
    pub findings: Vec<Finding>,
}

/// A call limit above this many concurrent calls per endpoint is reported (step 5).
pub const CALL_LIMIT_REPORTED_ABOVE: u32 = 8;
/// More registered contacts than this per endpoint is reported.
pub const CONTACTS_REPORTED_ABOVE: u32 = 5;

/// Whether a network is reachable from the Internet (not private, loopback, link-local,
/// unique-local or documentation space).
fn is_public(net: &IpNet) -> bool {
    match net.network() {
        IpAddr::V4(a) => {
            !(a.is_private() || a.is_loopback() || a.is_link_local() || a.is_documentation())
        }
        IpAddr::V6(a) => {
            let first = a.segments()[0];
            !(a.is_loopback()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || (first == 0x2001 && a.segments()[1] == 0x0db8)) // documentation
        }
    }
}

/// How widely an ACL opens to the Internet: `Some(true)` for everything, `Some(false)` for a
/// public network wider than a /16 (IPv4) or a /32 (IPv6), `None` otherwise.
fn openness(acl: &Acl) -> Option<bool> {
    let mut wide = false;
    for net in acl.permit() {
        if net.is_everything() {
            return Some(true);
        }
        let n = net.ip_net();
        let too_wide = if net.is_ipv4() {
            n.prefix_len() < 16
        } else {
            n.prefix_len() < 32
        };
        wide |= too_wide && is_public(&n);
    }
    wide.then_some(false)
}

/// Runs every rule over `model`.
#[must_use]
pub fn check(model: &PbxModel) -> Posture {
    let mut findings = Vec::new();
    let mut add = |rule, severity, object_kind, object: String, step, message: String| {
        findings.push(Finding {
            rule,
            severity,
            object_kind,
            object,
            message,
            step,
        });
    };
    let policy = model.policy();

    for e in model.endpoints() {
        let id = e.id().to_string();
        match openness(e.acl()) {
            Some(true) => add("endpoint.open_acl", Severity::High, "endpoint", id.clone(), 1,
                "accepts registrations from the whole Internet: anyone who guesses the secret can use it".to_owned()),
            Some(false) => add("endpoint.wide_acl", Severity::Medium, "endpoint", id.clone(), 1,
                "permits a public network wider than a /16 (IPv4) or /32 (IPv6)".to_owned()),
            None => {}
        }
        if e.id().as_str() == e.extension().as_str() {
            add(
                "endpoint.auth_name_is_extension",
                Severity::High,
                "endpoint",
                id.clone(),
                6,
                "its auth name is its extension number, the first name an enumeration tries \
                 (kept from the imported configuration: re-provision the phone as a new \
                 endpoint, whose name is generated)"
                    .to_owned(),
            );
        } else if e.id().as_str().bytes().all(|b| b.is_ascii_digit()) {
            add(
                "endpoint.numeric_auth_name",
                Severity::Medium,
                "endpoint",
                id.clone(),
                6,
                "its auth name is a number, which enumeration tools try in ranges (kept from the \
                 imported configuration: re-provision the phone as a new endpoint)"
                    .to_owned(),
            );
        }
        if let Some(why) = e.adopted().and_then(|a| a.weak_secret.as_deref()) {
            add(
                "endpoint.weak_imported_secret",
                Severity::High,
                "endpoint",
                id.clone(),
                3,
                format!(
                    "the secret kept from the imported configuration is weak ({why}); rotate it"
                ),
            );
        }
        if e.max_calls().get() > CALL_LIMIT_REPORTED_ABOVE {
            add(
                "endpoint.high_call_limit",
                Severity::Low,
                "endpoint",
                id.clone(),
                5,
                format!(
                    "allows {} concurrent calls; a phone rarely needs more than {CALL_LIMIT_REPORTED_ABOVE}",
                    e.max_calls().get()
                ),
            );
        }
        if e.calling_class() == CallingClass::International {
            let severity = if openness(e.acl()).is_some() {
                Severity::High
            } else {
                Severity::Low
            };
            add(
                "endpoint.international",
                severity,
                "endpoint",
                id.clone(),
                5,
                "may dial international numbers, the target of toll fraud".to_owned(),
            );
        }
        if e.max_contacts().get() > CONTACTS_REPORTED_ABOVE {
            add(
                "endpoint.many_contacts",
                Severity::Low,
                "endpoint",
                id,
                0,
                format!(
                    "accepts {} registered contacts; one per device is usual",
                    e.max_contacts().get()
                ),
            );
        }
    }

    for t in model.trunks() {
        if openness(t.sources()).is_some() {
            add("trunk.open_sources", Severity::High, "trunk", t.name().to_string(), 1,
                "is identified by a network open to the Internet: anyone there reaches its inbound context".to_owned());
        }
    }

    if !policy.ami_bind().is_loopback() {
        add(
            "ami.not_loopback",
            Severity::Medium,
            "policy",
            "policy".to_owned(),
            4,
            format!("AMI listens on {} instead of 127.0.0.1", policy.ami_bind()),
        );
    }
    for u in model.ami_users() {
        let name = u.name().to_string();
        if openness(u.acl()).is_some() {
            add(
                "ami.open_acl",
                Severity::High,
                "ami_user",
                name.clone(),
                4,
                "may log in to AMI from the Internet".to_owned(),
            );
        }
        let dangerous = u.dangerous_classes();
        if !dangerous.is_empty() {
            let classes: Vec<&str> = dangerous.iter().map(|c| c.as_str()).collect();
            add(
                "ami.dangerous_classes",
                Severity::Medium,
                "ami_user",
                name,
                4,
                format!(
                    "holds {}: root-equivalent on the PBX if its secret leaks",
                    classes.join(", ")
                ),
            );
        }
    }

    if policy
        .user_agent()
        .as_str()
        .to_ascii_lowercase()
        .contains("asterisk")
    {
        add(
            "policy.user_agent_names_asterisk",
            Severity::Low,
            "policy",
            "policy".to_owned(),
            7,
            "the SIP User-Agent names Asterisk, telling scanners what to try".to_owned(),
        );
    }

    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.rule.cmp(b.rule))
            .then(a.object.cmp(&b.object))
    });
    let lost: u32 = findings.iter().map(|f| f.severity.weight()).sum();
    Posture {
        score: 100u32.saturating_sub(lost),
        findings,
    }
}
