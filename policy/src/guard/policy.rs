//! The guard's thresholds. Every field has a default that is safe for a small office PBX;
//! the serde form is what the console's policy page and the REST API edit.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::window::{DISTINCT_MAX, WINDOW_MAX};

/// Everything the detection engine can be tuned with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardPolicy {
    /// Networks that are never banned (their events are still reported).
    pub allowlist: Vec<IpNet>,
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
    /// Correct logins from outside an account's permitted networks.
    pub acl: AclPolicy,
    /// Unreadable messages and requests Asterisk reports as bad.
    pub malformed: MalformedPolicy,
    /// Ban durations.
    pub bans: BanPolicy,
    /// Memory bounds.
    pub limits: LimitsPolicy,
}

/// Failed challenges from one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuessingPolicy {
    /// The source is banned on exactly this many failed challenges in the window, so exactly
    /// this many wrong passwords reach Asterisk.
    pub max_failures: u32,
    /// Counting window, seconds.
    pub window_secs: u32,
    /// Failures for an account the source has just logged in as (a NAT office where one phone
    /// has a stale password) are counted apart, against this higher threshold.
    pub own_account_max_failures: u32,
    /// How long a successful login makes the source "known" for that account, seconds.
    pub trust_secs: u32,
}

impl Default for GuessingPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window_secs: 600,
            own_account_max_failures: 30,
            trust_secs: 3600,
        }
    }
}

/// Failed challenges against one account, summed over sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistributedPolicy {
    /// Failures on one account in the window before it counts as under attack.
    pub max_failures: u32,
    /// ... coming from at least this many distinct sources (at most 16).
    pub min_sources: u32,
    /// Counting window, seconds.
    pub window_secs: u32,
    /// How long the account stays "under attack", seconds; meanwhile every source that fails
    /// on it is banned at its first failure (a botnet tries few passwords per address).
    pub attack_secs: u32,
}

impl Default for DistributedPolicy {
    fn default() -> Self {
        Self {
            max_failures: 20,
            min_sources: 5,
            window_secs: 3600,
            attack_secs: 3600,
        }
    }
}

/// Distinct usernames tried by one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnumerationPolicy {
    /// Distinct unknown usernames in the window that trigger a ban (at most 16).
    pub max_usernames: u32,
    /// Counting window, seconds. Long, so that slow scans (one name a minute) still count.
    pub window_secs: u32,
}

impl Default for EnumerationPolicy {
    fn default() -> Self {
        Self {
            max_usernames: 10,
            window_secs: 86_400,
        }
    }
}

/// Known tools and probe sweeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScannerPolicy {
    /// User-Agent substrings (case-insensitive) of attack tools, banned on first sight.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Requests allowed above the sustained rate at once.
    pub burst: u32,
}

/// Request rates per source, by method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FloodPolicy {
    /// REGISTER.
    pub register: Rate,
    /// INVITE.
    pub invite: Rate,
    /// OPTIONS.
    pub options: Rate,
    /// Every other method.
    pub other: Rate,
}

impl Default for FloodPolicy {
    fn default() -> Self {
        // A phone registers every few minutes and a busy trunk may place tens of calls a
        // second; these leave a wide margin for both.
        Self {
            register: Rate {
                per_second: 10,
                burst: 50,
            },
            invite: Rate {
                per_second: 20,
                burst: 100,
            },
            options: Rate {
                per_second: 10,
                burst: 50,
            },
            other: Rate {
                per_second: 50,
                burst: 200,
            },
        }
    }
}

/// Toll-fraud probes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TollFraudPolicy {
    /// Detect at all.
    pub enabled: bool,
    /// Ban an INVITE to an external number from a caller that is no known account in its
    /// permitted networks (the classic "call 00972... and see if it goes through" probe).
    pub ban_unknown_callers: bool,
    /// Also ban a known account dialling outside its class (off by default: that is more
    /// often a user mistake than an attack; the event is reported either way).
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

/// Correct logins from outside the account's networks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AclPolicy {
    /// Ban the source (the password has leaked; the event is reported either way).
    pub ban: bool,
}

impl Default for AclPolicy {
    fn default() -> Self {
        Self { ban: true }
    }
}

/// Unreadable messages and Asterisk's bad-request events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MalformedPolicy {
    /// Count in the window that triggers a ban.
    pub max_messages: u32,
    /// Counting window, seconds.
    pub window_secs: u32,
}

impl Default for MalformedPolicy {
    fn default() -> Self {
        Self {
            max_messages: 50,
            window_secs: 60,
        }
    }
}

/// Ban durations: `base × factor^(n-1)` for the n-th offence, capped.
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
}

impl Default for BanPolicy {
    fn default() -> Self {
        Self {
            base_secs: 900,
            factor: 4,
            max_secs: 7 * 86_400,
            forget_after_secs: 30 * 86_400,
        }
    }
}

/// Memory bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsPolicy {
    /// Sources tracked at once (about 150 bytes each, with the index).
    pub max_sources: u32,
    /// Accounts tracked for distributed guessing.
    pub max_accounts: u32,
    /// Repeat-offender records kept.
    pub max_offenders: u32,
    /// Authenticated requests awaiting Asterisk's answer (rounded up to a power of two).
    pub pending_slots: u32,
}

impl Default for LimitsPolicy {
    fn default() -> Self {
        Self {
            max_sources: 262_144,
            max_accounts: 65_536,
            max_offenders: 262_144,
            pending_slots: 16_384,
        }
    }
}

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("guard policy: {field} {problem}")]
pub struct PolicyError {
    /// The offending field, dotted.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl GuardPolicy {
    /// Refuses thresholds the engine cannot honour (zero, or beyond what its fixed-size
    /// counters can count).
    pub fn validate(&self) -> Result<(), PolicyError> {
        let counted: [(&'static str, u32); 6] = [
            ("guessing.max_failures", self.guessing.max_failures),
            (
                "guessing.own_account_max_failures",
                self.guessing.own_account_max_failures,
            ),
            ("distributed.max_failures", self.distributed.max_failures),
            (
                "scanner.max_unauthenticated_probes",
                self.scanner.max_unauthenticated_probes,
            ),
            ("malformed.max_messages", self.malformed.max_messages),
            ("enumeration.max_usernames", self.enumeration.max_usernames),
        ];
        for (field, value) in counted {
            if value == 0 {
                return Err(PolicyError {
                    field,
                    problem: "must be at least 1",
                });
            }
            if value > WINDOW_MAX {
                return Err(PolicyError {
                    field,
                    problem: "must be at most 2040",
                });
            }
        }
        if self.enumeration.max_usernames > DISTINCT_MAX
            || self.distributed.min_sources > DISTINCT_MAX
        {
            return Err(PolicyError {
                field: "enumeration.max_usernames / distributed.min_sources",
                problem: "must be at most 16 (distinct counts keep 16 fingerprints)",
            });
        }
        let windows: [(&'static str, u32); 6] = [
            ("guessing.window_secs", self.guessing.window_secs),
            ("distributed.window_secs", self.distributed.window_secs),
            ("enumeration.window_secs", self.enumeration.window_secs),
            ("scanner.window_secs", self.scanner.window_secs),
            ("malformed.window_secs", self.malformed.window_secs),
            ("bans.base_secs", self.bans.base_secs),
        ];
        for (field, value) in windows {
            if value == 0 {
                return Err(PolicyError {
                    field,
                    problem: "must be at least 1 second",
                });
            }
        }
        for (field, rate) in [
            ("flood.register", self.flood.register),
            ("flood.invite", self.flood.invite),
            ("flood.options", self.flood.options),
            ("flood.other", self.flood.other),
        ] {
            if rate.per_second == 0 || rate.per_second > 1000 {
                return Err(PolicyError {
                    field,
                    problem: "per_second must be 1..=1000",
                });
            }
        }
        if self.bans.factor == 0 || self.bans.max_secs < self.bans.base_secs {
            return Err(PolicyError {
                field: "bans",
                problem: "factor must be at least 1 and max_secs at least base_secs",
            });
        }
        if self.limits.max_sources == 0
            || self.limits.max_accounts == 0
            || self.limits.max_offenders == 0
            || self.limits.pending_slots == 0
        {
            return Err(PolicyError {
                field: "limits",
                problem: "every limit must be at least 1",
            });
        }
        Ok(())
    }
}

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
    fn a_zero_threshold_is_refused() {
        let mut p = GuardPolicy::default();
        p.guessing.max_failures = 0;
        assert_eq!(p.validate().unwrap_err().field, "guessing.max_failures");
    }
}
