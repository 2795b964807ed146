//! The guard's thresholds and what each detector does. Every field has a default that is safe
//! for a small office PBX; the serde form is what the REST API stores and edits, and
//! [`FIELDS`] is the one list the console's Guard settings form is built from.

use serde::{Deserialize, Serialize};

use super::window::{DISTINCT_MAX, WINDOW_MAX};

/// Everything the detection engine can be tuned with.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardPolicy {
    /// Password guessing from one source.
    pub guessing: GuessingPolicy,
    /// Password guessing against one account from many sources.
    pub distributed: DistributedPolicy,
    /// Username enumeration from one source.
    pub enumeration: EnumerationPolicy,
    /// Known attack tools and probe sweeps.
    pub scanner: ScannerPolicy,
    /// Request rates per source and method.
    pub flood: FloodPolicy,
    /// Calls to numbers a caller may not reach.
    pub toll_fraud: TollFraudPolicy,
    /// Credentials used from outside an account's permitted networks.
    pub acl: AclPolicy,
    /// Unreadable messages and requests Asterisk reports as bad.
    pub malformed: MalformedPolicy,
    /// Ban durations.
    pub bans: BanPolicy,
    /// Memory bounds.
    pub limits: LimitsPolicy,
}

/// Failed challenges from one source.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuessingPolicy {
    /// Ban (or only report).
    pub ban: bool,
    /// A source is banned on exactly this many failed challenges in the window, so exactly
    /// this many wrong passwords reach Asterisk. For an address that logged in successfully
    /// within `trust_secs` (a NAT office) it is the threshold of one source *port* (one phone).
    pub max_failures: u32,
    /// Counting window, seconds.
    pub window_secs: u32,
    /// Failed challenges from an address that logged in successfully within `trust_secs`
    /// before the whole address (every phone behind it) is banned.
    pub known_source_max_failures: u32,
    /// How long a successful login makes its address "known" (protected from unproven
    /// evidence, banned per port, the firewall's generous rate tier), seconds.
    pub trust_secs: u32,
}

impl Default for GuessingPolicy {
    fn default() -> Self {
        Self {
            ban: true,
            max_failures: 5,
            window_secs: 600,
            known_source_max_failures: 30,
            trust_secs: 86_400,
        }
    }
}

/// Failed challenges against one account, summed over sources.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistributedPolicy {
    /// Ban (or only report).
    pub ban: bool,
    /// Failures on one account in the window before it counts as under attack.
    pub max_failures: u32,
    /// ... coming from at least this many distinct sources (at most 16).
    pub min_sources: u32,
    /// Counting window, seconds.
    pub window_secs: u32,
    /// How long the account stays "under attack", seconds. When it comes under attack,
    /// every source that failed on it in the window is banned at once; meanwhile every
    /// further source is banned at its first failure.
    pub attack_secs: u32,
}

impl Default for DistributedPolicy {
    fn default() -> Self {
        Self {
            ban: true,
            max_failures: 10,
            min_sources: 5,
            window_secs: 3600,
            attack_secs: 3600,
        }
    }
}

/// Distinct usernames tried by one source.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnumerationPolicy {
    /// Ban (or only report).
    pub ban: bool,
    /// Distinct unknown or failing usernames in the window that trigger (at most 16). A
    /// real account that logs in is never "tried".
    pub max_usernames: u32,
    /// Counting window, seconds. Long, so that slow scans (one name a minute) still count.
    pub window_secs: u32,
}

impl Default for EnumerationPolicy {
    fn default() -> Self {
        Self {
            ban: true,
            max_usernames: 10,
            window_secs: 86_400,
        }
    }
}

/// Known tools and probe sweeps.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScannerPolicy {
    /// Ban (or only report).
    pub ban: bool,
    /// User-Agent substrings (case-insensitive) of attack tools, acted on at first sight.
    pub user_agents: Vec<String>,
    /// Unauthenticated OPTIONS/REGISTER requests from a source that never sends credentials,
    /// in the window, that count as a sweep.
    pub max_unauthenticated_probes: u32,
    /// Sweep counting window, seconds.
    pub window_secs: u32,
}

/// User-Agent fingerprints of tools seen attacking Asterisk. Sources: SIPVicious (`svmap`,
/// `svwar`, `svcrack` send `friendly-scanner`; newer versions and forks `sipvicious`), sipcli,
/// sipsak, sundayddr, VaxSIPUserAgent, pplsip, iWar, sip-scan and SIVuS as listed in public
/// fail2ban / iptables string-match rules and APIBAN reports; `smap` (the SIP nmap);
/// `friendly-request`, `siparmyknife`, `PortSIP VoIP SDK` (the free-licence build bots use).
pub const DEFAULT_SCANNER_USER_AGENTS: &[&str] = &[
    "friendly-scanner",
    "friendly-request",
    "sipvicious",
    "sipcli",
    "sipsak",
    "sundayddr",
    "vaxsipuseragent",
    "vaxipuseragent",
    "pplsip",
    "iwar",
    "sip-scan",
    "sivus",
    "smap",
    "siparmyknife",
    "portsip voip sdk",
];

impl Default for ScannerPolicy {
    fn default() -> Self {
        Self {
            ban: true,
            user_agents: DEFAULT_SCANNER_USER_AGENTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            max_unauthenticated_probes: 30,
            window_secs: 300,
        }
    }
}

/// A sustained rate with a burst allowance.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRate {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Requests allowed above the sustained rate at once.
    pub burst: u32,
}

/// Request rates per source, by method.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FloodPolicy {
    /// Ban (or only report).
    pub ban: bool,
    /// REGISTER.
    pub register: RequestRate,
    /// INVITE.
    pub invite: RequestRate,
    /// OPTIONS.
    pub options: RequestRate,
    /// Every other method.
    pub other: RequestRate,
}

impl Default for FloodPolicy {
    fn default() -> Self {
        // A phone registers every few minutes and a busy trunk may place tens of calls a
        // second; these leave a wide margin for both.
        Self {
            ban: true,
            register: RequestRate {
                per_second: 10,
                burst: 50,
            },
            invite: RequestRate {
                per_second: 20,
                burst: 100,
            },
            options: RequestRate {
                per_second: 10,
                burst: 50,
            },
            other: RequestRate {
                per_second: 50,
                burst: 200,
            },
        }
    }
}

/// Toll-fraud probes.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TollFraudPolicy {
    /// Detect at all.
    pub enabled: bool,
    /// Ban a source that answered Asterisk's challenge for a call to an external number
    /// without being a known account where it may call from (the classic "call 00972... and
    /// see if it goes through" probe). Before it answers, the probe is only reported: a lone
    /// unauthenticated INVITE proves nothing about its source address.
    pub ban_unknown_callers: bool,
    /// Also ban a known account dialling outside its class (off by default: that is more
    /// often a user mistake than an attack; it is reported and alerted either way).
    pub ban_class_violations: bool,
}

impl Default for TollFraudPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            ban_unknown_callers: true,
            ban_class_violations: false,
        }
    }
}

/// An account's credentials used from outside its permitted networks (a leaked secret).
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AclPolicy {
    /// Ban the source (it is reported and alerted either way).
    pub ban: bool,
}

impl Default for AclPolicy {
    fn default() -> Self {
        Self { ban: true }
    }
}

/// Unreadable messages and Asterisk's bad-request events.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MalformedPolicy {
    /// Ban (or only report).
    pub ban: bool,
    /// Count in the window that triggers.
    pub max_messages: u32,
    /// Counting window, seconds.
    pub window_secs: u32,
}

impl Default for MalformedPolicy {
    fn default() -> Self {
        Self {
            ban: true,
            max_messages: 50,
            window_secs: 60,
        }
    }
}

/// Ban durations: `base × factor^(n-1)` for the n-th proven offence, capped.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BanPolicy {
    /// First ban, seconds.
    pub base_secs: u32,
    /// Growth per repeat offence.
    pub factor: u32,
    /// Longest ban, seconds.
    pub max_secs: u32,
    /// An address with no offence for this long starts again at the first ban, seconds.
    pub forget_after_secs: u32,
    /// A ban on unproven evidence (one UDP datagram, whose source anybody can forge): short,
    /// and it never counts as an offence, seconds.
    pub unproven_secs: u32,
}

impl Default for BanPolicy {
    fn default() -> Self {
        Self {
            base_secs: 900,
            factor: 4,
            max_secs: 7 * 86_400,
            forget_after_secs: 30 * 86_400,
            unproven_secs: 300,
        }
    }
}

/// Memory bounds.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsPolicy {
    /// Sources tracked at once (about 170 bytes each, with the index).
    pub max_sources: u32,
    /// Accounts tracked for distributed guessing (about 550 bytes each).
    pub max_accounts: u32,
    /// Repeat-offender records kept.
    pub max_offenders: u32,
    /// Addresses that logged in within the trust period (only a correct login adds one).
    pub max_known: u32,
    /// Source ports and (address, account) pairs tracked for the NAT-office rules.
    pub max_ports: u32,
    /// Authenticated requests awaiting Asterisk's answer (rounded up to a power of two).
    pub pending_slots: u32,
}

impl Default for LimitsPolicy {
    fn default() -> Self {
        Self {
            max_sources: 262_144,
            max_accounts: 16_384,
            max_offenders: 262_144,
            max_known: 65_536,
            max_ports: 65_536,
            pending_slots: 16_384,
        }
    }
}

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("guard policy: {field} {problem}")]
pub struct PolicyError {
    /// The offending field, dotted (`guessing.max_failures`).
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

fn refuse(field: &'static str, problem: impl Into<String>) -> PolicyError {
    PolicyError {
        field,
        problem: problem.into(),
    }
}

fn in_range(field: &'static str, value: u32, min: u32, max: u32) -> Result<(), PolicyError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(refuse(field, format!("must be between {min} and {max}")))
    }
}

/// Most entries of one table.
const MAX_ENTRIES: u32 = 1 << 22;
/// Most memory the engine's tables may be allowed to take, all full.
const MAX_STATE_BYTES: u64 = 1 << 30;

/// A year: no window or ban is longer.
const YEAR: u32 = 365 * 86_400;
/// Most scanner fingerprints, and the longest one.
const MAX_FINGERPRINTS: usize = 200;
const MAX_FINGERPRINT_LEN: usize = 64;

impl GuardPolicy {
    /// Refuses values the engine cannot honour (zero, or beyond what its fixed-size counters
    /// can count), naming the first field that is wrong.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let g = &self.guessing;
        in_range("guessing.max_failures", g.max_failures, 1, WINDOW_MAX)?;
        in_range("guessing.window_secs", g.window_secs, 1, YEAR)?;
        in_range(
            "guessing.known_source_max_failures",
            g.known_source_max_failures,
            1,
            WINDOW_MAX,
        )?;
        in_range("guessing.trust_secs", g.trust_secs, 60, 30 * 86_400)?;
        let d = &self.distributed;
        in_range("distributed.max_failures", d.max_failures, 1, WINDOW_MAX)?;
        in_range("distributed.min_sources", d.min_sources, 1, DISTINCT_MAX)?;
        in_range("distributed.window_secs", d.window_secs, 1, YEAR)?;
        in_range("distributed.attack_secs", d.attack_secs, 1, YEAR)?;
        let e = &self.enumeration;
        in_range(
            "enumeration.max_usernames",
            e.max_usernames,
            1,
            DISTINCT_MAX,
        )?;
        in_range("enumeration.window_secs", e.window_secs, 1, YEAR)?;
        let s = &self.scanner;
        in_range(
            "scanner.max_unauthenticated_probes",
            s.max_unauthenticated_probes,
            1,
            WINDOW_MAX,
        )?;
        in_range("scanner.window_secs", s.window_secs, 1, YEAR)?;
        if s.user_agents.len() > MAX_FINGERPRINTS {
            return Err(refuse(
                "scanner.user_agents",
                format!("must list at most {MAX_FINGERPRINTS} fingerprints"),
            ));
        }
        for ua in &s.user_agents {
            if ua.trim().is_empty()
                || ua.len() > MAX_FINGERPRINT_LEN
                || !ua.bytes().all(|b| (0x20..0x7f).contains(&b))
            {
                return Err(refuse(
                    "scanner.user_agents",
                    format!(
                        "each fingerprint must be 1 to {MAX_FINGERPRINT_LEN} printable ASCII characters"
                    ),
                ));
            }
        }
        for (field, rate) in [
            ("flood.register", self.flood.register),
            ("flood.invite", self.flood.invite),
            ("flood.options", self.flood.options),
            ("flood.other", self.flood.other),
        ] {
            if !(1..=1000).contains(&rate.per_second) || !(1..=100_000).contains(&rate.burst) {
                return Err(refuse(
                    field,
                    "per_second must be 1 to 1000 and burst 1 to 100000",
                ));
            }
        }
        let m = &self.malformed;
        in_range("malformed.max_messages", m.max_messages, 1, WINDOW_MAX)?;
        in_range("malformed.window_secs", m.window_secs, 1, YEAR)?;
        let b = &self.bans;
        in_range("bans.base_secs", b.base_secs, 1, YEAR)?;
        in_range("bans.factor", b.factor, 1, 100)?;
        in_range("bans.max_secs", b.max_secs, b.base_secs, YEAR)?;
        in_range("bans.forget_after_secs", b.forget_after_secs, 1, 10 * YEAR)?;
        in_range("bans.unproven_secs", b.unproven_secs, 1, 3600)?;
        let l = &self.limits;
        for (field, value) in [
            ("limits.max_sources", l.max_sources),
            ("limits.max_accounts", l.max_accounts),
            ("limits.max_offenders", l.max_offenders),
            ("limits.max_known", l.max_known),
            ("limits.max_ports", l.max_ports),
        ] {
            in_range(field, value, 1, MAX_ENTRIES)?;
        }
        // The pending array is allocated whole at start, so it gets a tighter bound.
        in_range("limits.pending_slots", l.pending_slots, 1, 1 << 20)?;
        let bytes = super::Engine::capacity_bytes(l);
        if bytes > MAX_STATE_BYTES {
            return Err(refuse(
                "limits",
                format!(
                    "would let the guard's tables grow to {} MiB; at most {} MiB",
                    bytes >> 20,
                    MAX_STATE_BYTES >> 20
                ),
            ));
        }
        Ok(())
    }
}

use crate::settings::field;
pub use crate::settings::{FieldKind, SettingField as PolicyField};

use FieldKind::{Lines, Number, Switch};

/// Every setting of [`GuardPolicy`], in the order a form shows them. A test checks that it
/// names every leaf of the serde form and nothing else, so the form cannot drift.
pub const FIELDS: &[PolicyField] = &[
    field(
        "guessing.ban",
        "Ban password guessing",
        "Off: guessing is only reported.",
        Switch,
    ),
    field(
        "guessing.max_failures",
        "Failed passwords before a ban",
        "Exactly this many wrong passwords from one source reach Asterisk; for an address that logged in recently (a NAT office), from one source port.",
        Number,
    ),
    field(
        "guessing.window_secs",
        "Guessing window (s)",
        "Failures older than this are forgotten.",
        Number,
    ),
    field(
        "guessing.known_source_max_failures",
        "Failures before an office address is banned",
        "For an address that logged in recently: failures from all its ports before the whole address is banned.",
        Number,
    ),
    field(
        "guessing.trust_secs",
        "Trust after a correct login (s)",
        "How long a correct login makes its address known: protected from unproven evidence, banned per port, in the firewall's generous rate tier.",
        Number,
    ),
    field(
        "distributed.ban",
        "Ban distributed guessing",
        "Off: only reported.",
        Switch,
    ),
    field(
        "distributed.max_failures",
        "Failures on one account",
        "Failed passwords for one account, from all sources, before it is under attack.",
        Number,
    ),
    field(
        "distributed.min_sources",
        "From at least this many sources",
        "At most 16.",
        Number,
    ),
    field(
        "distributed.window_secs",
        "Distributed window (s)",
        "Failures older than this are forgotten.",
        Number,
    ),
    field(
        "distributed.attack_secs",
        "Under attack for (s)",
        "Meanwhile every source that fails on the account is banned at its first failure.",
        Number,
    ),
    field(
        "enumeration.ban",
        "Ban enumeration",
        "Off: only reported.",
        Switch,
    ),
    field(
        "enumeration.max_usernames",
        "Unknown or failing usernames",
        "Distinct names one source may try (at most 16); accounts that log in are never counted.",
        Number,
    ),
    field(
        "enumeration.window_secs",
        "Enumeration window (s)",
        "Long, so slow scans still count.",
        Number,
    ),
    field("scanner.ban", "Ban scanners", "Off: only reported.", Switch),
    field(
        "scanner.user_agents",
        "Scanner User-Agents",
        "Substrings of attack tools' User-Agent headers, one per line, matched without regard to case.",
        Lines,
    ),
    field(
        "scanner.max_unauthenticated_probes",
        "Probes without credentials",
        "OPTIONS/REGISTER requests from a source that never sends credentials before it counts as a sweep.",
        Number,
    ),
    field(
        "scanner.window_secs",
        "Sweep window (s)",
        "Probes older than this are forgotten.",
        Number,
    ),
    field("flood.ban", "Ban floods", "Off: only reported.", Switch),
    field(
        "flood.register.per_second",
        "REGISTER per second",
        "Sustained rate per source.",
        Number,
    ),
    field(
        "flood.register.burst",
        "REGISTER burst",
        "Requests allowed above the rate at once.",
        Number,
    ),
    field(
        "flood.invite.per_second",
        "INVITE per second",
        "Sustained rate per source.",
        Number,
    ),
    field(
        "flood.invite.burst",
        "INVITE burst",
        "Requests allowed above the rate at once.",
        Number,
    ),
    field(
        "flood.options.per_second",
        "OPTIONS per second",
        "Sustained rate per source.",
        Number,
    ),
    field(
        "flood.options.burst",
        "OPTIONS burst",
        "Requests allowed above the rate at once.",
        Number,
    ),
    field(
        "flood.other.per_second",
        "Other requests per second",
        "Sustained rate per source.",
        Number,
    ),
    field(
        "flood.other.burst",
        "Other requests burst",
        "Requests allowed above the rate at once.",
        Number,
    ),
    field(
        "toll_fraud.enabled",
        "Watch calls to external numbers",
        "Off: no toll-fraud detection.",
        Switch,
    ),
    field(
        "toll_fraud.ban_unknown_callers",
        "Ban unknown callers",
        "Ban a source that answers Asterisk's challenge for an external call without being an account allowed there.",
        Switch,
    ),
    field(
        "toll_fraud.ban_class_violations",
        "Ban class violations",
        "Also ban a known account dialling outside its calling class (always reported and alerted).",
        Switch,
    ),
    field(
        "acl.ban",
        "Ban credentials used from outside",
        "An account's credentials sent from outside its permitted networks (always reported and alerted).",
        Switch,
    ),
    field(
        "malformed.ban",
        "Ban malformed traffic",
        "Off: only reported.",
        Switch,
    ),
    field(
        "malformed.max_messages",
        "Malformed messages",
        "Unreadable messages or bad requests from one source before it triggers.",
        Number,
    ),
    field(
        "malformed.window_secs",
        "Malformed window (s)",
        "Messages older than this are forgotten.",
        Number,
    ),
    field(
        "bans.base_secs",
        "First ban (s)",
        "Length of a first proven ban.",
        Number,
    ),
    field(
        "bans.factor",
        "Growth per repeat offence",
        "Each further proven offence multiplies the ban by this.",
        Number,
    ),
    field(
        "bans.max_secs",
        "Longest ban (s)",
        "Bans never grow past this.",
        Number,
    ),
    field(
        "bans.forget_after_secs",
        "Forget offences after (s)",
        "An address without offence for this long starts again at the first ban.",
        Number,
    ),
    field(
        "bans.unproven_secs",
        "Ban on unproven evidence (s)",
        "One UDP datagram can be forged: such bans are short and never count as an offence (at most 3600).",
        Number,
    ),
    field(
        "limits.max_sources",
        "Sources tracked",
        "Memory bound: the least recently seen are forgotten first.",
        Number,
    ),
    field(
        "limits.max_accounts",
        "Accounts tracked",
        "Memory bound for distributed guessing.",
        Number,
    ),
    field(
        "limits.max_offenders",
        "Repeat offenders kept",
        "Memory bound of the offence history.",
        Number,
    ),
    field(
        "limits.max_known",
        "Known addresses kept",
        "Memory bound of addresses that logged in.",
        Number,
    ),
    field(
        "limits.max_ports",
        "Ports and logins tracked",
        "Memory bound of the NAT-office rules.",
        Number,
    ),
    field(
        "limits.pending_slots",
        "Pending requests",
        "Authenticated requests awaiting Asterisk's answer.",
        Number,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_valid_and_round_trips_through_json() {
        let p = GuardPolicy::default();
        p.validate().unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<GuardPolicy>(&json).unwrap(), p);
        // Partial documents take defaults for the rest.
        let partial: GuardPolicy =
            serde_json::from_str(r#"{"guessing":{"max_failures":3}}"#).unwrap();
        assert_eq!(partial.guessing.max_failures, 3);
        assert_eq!(partial.guessing.window_secs, 600);
    }

    #[test]
    fn a_zero_threshold_is_refused_naming_the_field() {
        let mut p = GuardPolicy::default();
        p.guessing.max_failures = 0;
        assert_eq!(p.validate().unwrap_err().field, "guessing.max_failures");
        let mut p = GuardPolicy::default();
        p.flood.invite.burst = 0;
        assert_eq!(p.validate().unwrap_err().field, "flood.invite");
        let mut p = GuardPolicy::default();
        p.bans.max_secs = p.bans.base_secs - 1;
        assert_eq!(p.validate().unwrap_err().field, "bans.max_secs");
        let mut p = GuardPolicy::default();
        p.scanner.user_agents.push("bad\nline".into());
        assert_eq!(p.validate().unwrap_err().field, "scanner.user_agents");
        // Every table at its largest would take more than a GiB.
        let mut p = GuardPolicy::default();
        p.limits.max_sources = MAX_ENTRIES;
        p.limits.max_offenders = MAX_ENTRIES;
        p.limits.max_accounts = MAX_ENTRIES;
        assert_eq!(p.validate().unwrap_err().field, "limits");
    }

    #[test]
    fn the_field_list_names_every_setting_once_with_its_kind() {
        let json = serde_json::to_value(GuardPolicy::default()).unwrap();
        let want = crate::settings::leaf_paths(&json);
        let mut have: Vec<String> = FIELDS.iter().map(|f| f.path.to_owned()).collect();
        have.sort();
        assert_eq!(have, want);
        for f in FIELDS {
            let value = f.path.split('.').fold(&json, |v, k| &v[k]);
            let kind = match value {
                serde_json::Value::Bool(_) => Switch,
                serde_json::Value::Number(_) => Number,
                serde_json::Value::Array(_) => Lines,
                other => panic!("{}: unexpected {other}", f.path),
            };
            assert_eq!(kind, f.kind, "{}", f.path);
        }
    }
}
