//! What the guard knows about the PBX: accounts, where each may log in from, which numbers
//! each may dial, and which numbers are "external" (cost money). The backend fills it from the
//! PBX model; the engine only reads it.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::asterisk::{CallingClass, Endpoint, GlobalPolicy, Trunk};

/// A dial pattern in Asterisk's extension syntax.
///
/// Either a literal (`100`, `*97`) or, after a leading `_`, a pattern of `X` (0-9), `Z` (1-9),
/// `N` (2-9), `[...]` classes with ranges, literal characters, and a final `.` (one or more of
/// anything) or `!` (zero or more). Matching is linear in the number's length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DialPattern(String);

/// Why a dial pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialPatternError {
    /// Nothing to match.
    #[error("a dial pattern cannot be empty")]
    Empty,
    /// `[` without `]`, or a character outside the pattern alphabet.
    #[error("dial pattern {0:?} is malformed")]
    Malformed(String),
}

impl DialPattern {
    /// Checks and stores a pattern.
    pub fn parse(text: &str) -> Result<Self, DialPatternError> {
        let body = text.strip_prefix('_').unwrap_or(text);
        if body.is_empty() {
            return Err(DialPatternError::Empty);
        }
        let bad = || DialPatternError::Malformed(text.to_owned());
        let bytes = body.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'[' => {
                    let close = bytes[i..].iter().position(|&b| b == b']').ok_or_else(bad)?;
                    i += close + 1;
                }
                b'.' | b'!' if text.starts_with('_') && i + 1 != bytes.len() => return Err(bad()),
                b if b.is_ascii_alphanumeric() || b"*#+-.!".contains(&b) => i += 1,
                _ => return Err(bad()),
            }
        }
        Ok(Self(text.to_owned()))
    }

    /// True when `number` matches the whole pattern.
    pub fn matches(&self, number: &[u8]) -> bool {
        let Some(pattern) = self.0.strip_prefix('_') else {
            return self.0.as_bytes() == number;
        };
        let p = pattern.as_bytes();
        let (mut i, mut n) = (0, 0);
        while i < p.len() {
            match p[i] {
                b'.' => return n < number.len(),
                b'!' => return true,
                _ => {}
            }
            let Some(&c) = number.get(n) else {
                return false;
            };
            let (ok, width) = match p[i].to_ascii_uppercase() {
                b'X' => (c.is_ascii_digit(), 1),
                b'Z' => ((b'1'..=b'9').contains(&c), 1),
                b'N' => ((b'2'..=b'9').contains(&c), 1),
                b'[' => {
                    let close = p[i..]
                        .iter()
                        .position(|&b| b == b']')
                        .unwrap_or(p.len() - i);
                    (class_contains(&p[i + 1..i + close], c), close + 1)
                }
                lit => (lit == c.to_ascii_uppercase(), 1),
            };
            if !ok {
                return false;
            }
            i += width;
            n += 1;
        }
        n == number.len()
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn class_contains(class: &[u8], c: u8) -> bool {
    let mut i = 0;
    while i < class.len() {
        if i + 2 < class.len() && class[i + 1] == b'-' {
            if (class[i]..=class[i + 2]).contains(&c) {
                return true;
            }
            i += 3;
        } else {
            if class[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

impl TryFrom<String> for DialPattern {
    type Error = DialPatternError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DialPattern> for String {
    fn from(p: DialPattern) -> Self {
        p.0
    }
}

/// One SIP account (endpoint) as the guard sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRules {
    /// The endpoint id / auth username Asterisk reports as `AccountID`.
    pub name: String,
    /// The extension the phone puts in `From` (differs from `name` when hardened, step 6).
    #[serde(default)]
    pub extension: Option<String>,
    /// Networks it may log in from; empty means anywhere.
    #[serde(default)]
    pub permitted: Vec<IpNet>,
    /// Exceptions inside `permitted`.
    #[serde(default)]
    pub denied: Vec<IpNet>,
    /// Numbers it may dial (its toll class); empty means it may dial nothing external.
    #[serde(default)]
    pub may_dial: Vec<DialPattern>,
}

impl AccountRules {
    /// True when `ip` is inside the account's permitted networks (or it has none) and not
    /// in one of its exceptions: what Asterisk's permit/deny lines let in.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        (self.permitted.is_empty() || self.permitted.iter().any(|n| n.contains(&ip)))
            && !self.denied.iter().any(|n| n.contains(&ip))
    }

    /// True when the account's class reaches `number`.
    pub fn may_dial(&self, number: &[u8]) -> bool {
        self.may_dial.iter().any(|p| p.matches(number))
    }
}

/// A trunk as the guard sees it: the addresses the provider sends from and the numbers it
/// delivers. A trunk is identified by address (providers authenticate that way), so whatever
/// arrives from those addresses is the provider's traffic, caller IDs and all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrunkRules {
    /// The trunk's name.
    pub name: String,
    /// The peer address and the source networks.
    pub networks: Vec<IpNet>,
    /// The DIDs it delivers (sorted on construction of the model).
    #[serde(default)]
    pub dids: Vec<String>,
}

impl TrunkRules {
    /// True when `ip` is one of the trunk's addresses.
    pub fn covers(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(&ip))
    }

    /// True when `number` is one of its DIDs (the DIDs are sorted).
    pub fn delivers(&self, number: &[u8]) -> bool {
        self.dids
            .binary_search_by(|d| d.as_bytes().cmp(number))
            .is_ok()
    }
}

/// The PBX model the engine checks logins and calls against, and who may never be cut off:
/// everything the administrator stored (accounts, trunks, calling classes, trusted networks)
/// plus what the host depends on (its gateway and DNS resolvers). The backend builds it again
/// whenever any of that changes.
#[derive(Debug, Clone, Default)]
pub struct GuardModel {
    accounts: Vec<AccountRules>,
    external: Vec<DialPattern>,
    emergency: Vec<Vec<u8>>,
    by_name: HashMap<Vec<u8>, usize>,
    trunks: Vec<TrunkRules>,
    trusted: Vec<IpNet>,
    infrastructure: Vec<IpNet>,
}

/// How many of each the model holds, for status pages and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ModelSummary {
    /// Accounts (endpoints).
    pub accounts: usize,
    /// Trunks.
    pub trunks: usize,
    /// Dial patterns that reach outside the PBX.
    pub external_patterns: usize,
    /// Trusted networks and addresses (never banned).
    pub trusted: usize,
    /// The host's gateways and resolvers (protected).
    pub infrastructure: usize,
}

impl GuardModel {
    /// The model of a stored PBX: each endpoint with its ACL and what its calling class
    /// reaches, each trunk with its addresses and DIDs, the national and international
    /// patterns as what costs money, the emergency numbers as what is always allowed.
    pub fn from_pbx(policy: &GlobalPolicy, endpoints: &[Endpoint], trunks: &[Trunk]) -> Self {
        let patterns = |list: &[crate::asterisk::DialPattern]| -> Vec<DialPattern> {
            list.iter()
                .filter_map(|p| DialPattern::parse(p.as_str()).ok())
                .collect()
        };
        let national = patterns(policy.national_patterns());
        let international = patterns(policy.international_patterns());
        let nets = |list: &[crate::asterisk::Network]| -> Vec<IpNet> {
            list.iter().map(crate::asterisk::Network::ip_net).collect()
        };
        let accounts = endpoints
            .iter()
            .filter(|e| e.enabled())
            .map(|e| AccountRules {
                name: e.id().as_str().to_owned(),
                extension: Some(e.extension().as_str().to_owned()),
                permitted: nets(e.acl().permit()),
                denied: nets(e.acl().deny()),
                may_dial: match e.calling_class() {
                    CallingClass::Internal => Vec::new(),
                    CallingClass::National => national.clone(),
                    CallingClass::International => {
                        national.iter().chain(&international).cloned().collect()
                    }
                },
            })
            .collect();
        let trunk_rules = trunks
            .iter()
            .map(|t| {
                let mut networks = vec![IpNet::from(t.peer().to_canonical())];
                networks.extend(nets(t.sources().permit()));
                TrunkRules {
                    name: t.name().as_str().to_owned(),
                    networks,
                    dids: t
                        .dids()
                        .iter()
                        .map(|d| d.did().as_str().to_owned())
                        .collect(),
                }
            })
            .collect();
        let external = national.into_iter().chain(international).collect();
        Self::new(accounts, external)
            .with_emergency(
                policy
                    .emergency_numbers()
                    .iter()
                    .map(|n| n.as_str().to_owned()),
            )
            .with_trunks(trunk_rules)
    }

    /// Builds the lookup by account name and by extension. `external` are the dial patterns
    /// that cost money (the calling classes' national and international patterns).
    pub fn new(accounts: Vec<AccountRules>, external: Vec<DialPattern>) -> Self {
        let mut by_name = HashMap::with_capacity(accounts.len() * 2);
        for (i, a) in accounts.iter().enumerate() {
            by_name.insert(a.name.as_bytes().to_vec(), i);
            if let Some(ext) = &a.extension {
                by_name.entry(ext.as_bytes().to_vec()).or_insert(i);
            }
        }
        Self {
            accounts,
            external,
            by_name,
            ..Self::default()
        }
    }

    /// Numbers that are never toll fraud, whatever pattern they match: emergency calls must
    /// always go through.
    #[must_use]
    pub fn with_emergency(mut self, numbers: impl IntoIterator<Item = String>) -> Self {
        self.emergency = numbers.into_iter().map(String::into_bytes).collect();
        self
    }

    /// The trunks.
    #[must_use]
    pub fn with_trunks(mut self, mut trunks: Vec<TrunkRules>) -> Self {
        for t in &mut trunks {
            t.dids.sort_unstable();
            t.dids.dedup();
        }
        self.trunks = trunks;
        self
    }

    /// Networks the firewall trusts (trusted and admin networks, temporary allow entries):
    /// never banned, their events still reported.
    #[must_use]
    pub fn with_trusted(mut self, networks: Vec<IpNet>) -> Self {
        self.trusted = networks;
        self
    }

    /// The host's own gateways and DNS resolvers: banning one would cut the PBX off its
    /// provider, so they are banned on proven evidence only, and then only by port.
    #[must_use]
    pub fn with_infrastructure(mut self, networks: Vec<IpNet>) -> Self {
        self.infrastructure = networks;
        self
    }

    /// The account whose name or extension is `user`.
    pub fn account(&self, user: &[u8]) -> Option<&AccountRules> {
        self.by_name.get(user).map(|&i| &self.accounts[i])
    }

    /// True when `number` is external (matches one of the external patterns) and is not an
    /// emergency number.
    pub fn is_external(&self, number: &[u8]) -> bool {
        !self.emergency.iter().any(|e| e.as_slice() == number)
            && self.external.iter().any(|p| p.matches(number))
    }

    /// The trunk `ip` belongs to, if any.
    pub fn trunk_at(&self, ip: IpAddr) -> Option<&TrunkRules> {
        self.trunks.iter().find(|t| t.covers(ip))
    }

    /// True when the firewall trusts `ip` (or it is this host's loopback).
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        ip.is_loopback() || self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// True when `ip` is one of the host's gateways or resolvers.
    pub fn is_infrastructure(&self, ip: IpAddr) -> bool {
        self.infrastructure.iter().any(|n| n.contains(&ip))
    }

    /// True when the model holds no accounts.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// What the model holds.
    pub fn summary(&self) -> ModelSummary {
        ModelSummary {
            accounts: self.accounts.len(),
            trunks: self.trunks.len(),
            external_patterns: self.external.len(),
            trusted: self.trusted.len(),
            infrastructure: self.infrastructure.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> DialPattern {
        DialPattern::parse(s).unwrap()
    }

    #[test]
    fn dial_patterns_match_like_asterisk() {
        assert!(p("_00X.").matches(b"0097259123"));
        assert!(!p("_00X.").matches(b"00"));
        assert!(!p("_00X.").matches(b"01972"));
        assert!(p("_NXXNXXXXXX").matches(b"2125551234"));
        assert!(!p("_NXXNXXXXXX").matches(b"1125551234"));
        assert!(p("_1[2-9]X!").matches(b"123"));
        assert!(p("_12!").matches(b"12"));
        assert!(p("_[+]X.").matches(b"+4420"));
        assert!(p("100").matches(b"100"));
        assert!(!p("100").matches(b"1000"));
    }

    #[test]
    fn emergency_numbers_are_never_external() {
        let model =
            GuardModel::new(vec![], vec![p("_1XX"), p("_0X.")]).with_emergency(["112".to_owned()]);
        assert!(!model.is_external(b"112"));
        assert!(model.is_external(b"113"));
        assert!(model.is_external(b"0301234"));
    }

    #[test]
    fn trunks_are_found_by_address_and_know_their_dids() {
        let trunk = TrunkRules {
            name: "itsp".into(),
            networks: vec![
                "198.51.100.20/32".parse().unwrap(),
                "203.0.113.0/28".parse().unwrap(),
            ],
            dids: vec!["4930555".into(), "4930111".into()],
        };
        let model = GuardModel::default().with_trunks(vec![trunk]);
        let t = model.trunk_at("203.0.113.9".parse().unwrap()).unwrap();
        assert_eq!(t.name, "itsp");
        assert!(t.delivers(b"4930111") && t.delivers(b"4930555"));
        assert!(!t.delivers(b"4930"));
        assert!(model.trunk_at("203.0.113.99".parse().unwrap()).is_none());
    }

    #[test]
    fn loopback_and_trusted_networks_are_trusted() {
        let model = GuardModel::default().with_trusted(vec!["192.0.2.0/24".parse().unwrap()]);
        assert!(model.is_trusted("127.0.0.1".parse().unwrap()));
        assert!(model.is_trusted("::1".parse().unwrap()));
        assert!(model.is_trusted("192.0.2.77".parse().unwrap()));
        assert!(!model.is_trusted("198.51.100.1".parse().unwrap()));
    }

    #[test]
    fn malformed_dial_patterns_are_refused() {
        assert_eq!(DialPattern::parse("_"), Err(DialPatternError::Empty));
        assert!(DialPattern::parse("_1[23").is_err());
        assert!(DialPattern::parse("_1.2").is_err());
        assert!(DialPattern::parse("1 2").is_err());
    }
}
