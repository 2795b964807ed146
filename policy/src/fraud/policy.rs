//! The fraud policy (#15): what each rule watches, its threshold, and what happens when it
//! fires (report, block the call, lock the account). `FraudSettings` is what the API takes
//! and the database stores; `FraudPolicy` is the checked form the decision uses.
//!
//! The defaults follow the field's anchors: international calls only to allowed countries
//! and never to high-risk ranges, a few concurrent external calls, a burst of calls locks the
//! account (Yeastar's 5 calls per minute), many calls to one number in 15 minutes is
//! pumping (ClearIP), and when sipwarden cannot answer, international calls fail closed
//! while national and emergency calls go through.

use serde::{Deserialize, Serialize};

use super::destination::{
    CALLING_CODES, DEFAULT_HIGH_RISK, Destination, Dialling, classify, in_ranges,
};
use crate::asterisk::{CallingClass, InvalidField};

/// What a rule does when it fires.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleMode {
    /// Not evaluated.
    Off,
    /// Recorded as what would have happened; the call goes through.
    Report,
    /// The call is refused.
    Block,
    /// The call is refused, the account locked until an administrator unlocks it, and its
    /// running calls hung up.
    Lock,
}

/// What happens to a call when sipwarden does not answer the decision in time.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    Open,
    Closed,
}

/// A threshold and what happens past it.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub max: u32,
    pub mode: RuleMode,
}

/// The fraud policy as the API takes it and the database stores it.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FraudSettings {
    /// The prefix users dial before an international number (`00`, `011`).
    pub international_prefix: String,
    /// The prefix users dial before a national number (`0`; `1` in NANP; empty for none).
    pub national_prefix: String,
    /// The home country's calling code (`49`, `1`).
    pub country_code: String,
    /// Regions (ISO codes of the calling-code table, e.g. `GB`, `FR`) the international
    /// class may call; empty: every region but the high-risk ranges.
    pub allowed_regions: Vec<String>,
    /// What a call to a region outside `allowed_regions` does.
    pub destination_mode: RuleMode,
    /// E.164 prefixes of high-risk and premium ranges, refused unless in `allowed_high_risk`.
    pub high_risk_prefixes: Vec<String>,
    /// High-risk prefixes the administrator allows explicitly.
    pub allowed_high_risk: Vec<String>,
    pub high_risk_mode: RuleMode,
    /// Concurrent external calls, all endpoints together.
    pub concurrent_global: Limit,
    /// Concurrent external calls per trunk.
    pub concurrent_per_trunk: Limit,
    /// Concurrent external calls per endpoint.
    pub concurrent_per_endpoint: Limit,
    /// External calls one endpoint may start per minute.
    pub calls_per_minute: Limit,
    /// Calls to one number in 15 minutes (targeted pumping).
    pub calls_to_one_number: Limit,
    /// Minutes after which a running external call is reported or hung up.
    pub long_call_minutes: Limit,
    /// When sipwarden does not answer: national calls.
    pub fail_national: FailMode,
    /// When sipwarden does not answer: international calls.
    pub fail_international: FailMode,
}

impl Default for FraudSettings {
    fn default() -> Self {
        Self {
            international_prefix: "00".to_owned(),
            national_prefix: "0".to_owned(),
            country_code: "49".to_owned(),
            allowed_regions: Vec::new(),
            destination_mode: RuleMode::Block,
            high_risk_prefixes: DEFAULT_HIGH_RISK.iter().map(|p| (*p).to_owned()).collect(),
            allowed_high_risk: Vec::new(),
            high_risk_mode: RuleMode::Block,
            concurrent_global: Limit {
                max: 10,
                mode: RuleMode::Block,
            },
            concurrent_per_trunk: Limit {
                max: 10,
                mode: RuleMode::Block,
            },
            concurrent_per_endpoint: Limit {
                max: 2,
                mode: RuleMode::Block,
            },
            calls_per_minute: Limit {
                max: 5,
                mode: RuleMode::Lock,
            },
            calls_to_one_number: Limit {
                max: 10,
                mode: RuleMode::Block,
            },
            long_call_minutes: Limit {
                max: 60,
                mode: RuleMode::Report,
            },
            fail_national: FailMode::Open,
            fail_international: FailMode::Closed,
        }
    }
}

/// Most entries of each list.
pub const MAX_LIST: usize = 1000;

/// The checked fraud policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FraudPolicy {
    settings: FraudSettings,
    dialling: Dialling,
}

fn digits(field: &str, value: &str, min: usize, max: usize) -> Result<(), InvalidField> {
    if value.len() < min || value.len() > max || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidField::new(
            field,
            format!("must be {min} to {max} digits"),
        ));
    }
    Ok(())
}

fn distinct(
    field: &str,
    list: &[String],
    check: impl Fn(&str, &str) -> Result<(), InvalidField>,
) -> Result<(), InvalidField> {
    if list.len() > MAX_LIST {
        return Err(InvalidField::new(
            field,
            format!("must list at most {MAX_LIST} entries"),
        ));
    }
    for (i, item) in list.iter().enumerate() {
        let at = format!("{field}[{i}]");
        check(&at, item)?;
        if list[..i].contains(item) {
            return Err(InvalidField::new(at, "is listed twice"));
        }
    }
    Ok(())
}

fn limit(field: &str, l: Limit, max: u32) -> Result<(), InvalidField> {
    if l.mode != RuleMode::Off && (l.max == 0 || l.max > max) {
        return Err(InvalidField::new(
            format!("{field}.max"),
            format!("must be between 1 and {max}"),
        ));
    }
    Ok(())
}

impl FraudPolicy {
    /// Checks `settings`, naming the first field that breaks its rule.
    pub fn new(settings: FraudSettings) -> Result<Self, InvalidField> {
        digits("international_prefix", &settings.international_prefix, 1, 4)?;
        if !settings.national_prefix.is_empty() {
            digits("national_prefix", &settings.national_prefix, 1, 2)?;
        }
        if settings.national_prefix == settings.international_prefix {
            return Err(InvalidField::new(
                "national_prefix",
                "must differ from the international prefix",
            ));
        }
        digits("country_code", &settings.country_code, 1, 3)?;
        distinct("allowed_regions", &settings.allowed_regions, |at, code| {
            if CALLING_CODES.iter().any(|r| r.code == code) {
                Ok(())
            } else {
                Err(InvalidField::new(
                    at,
                    "is not a region of the calling-code table (ISO codes such as GB, FR)",
                ))
            }
        })?;
        distinct(
            "high_risk_prefixes",
            &settings.high_risk_prefixes,
            |at, p| digits(at, p, 1, 8),
        )?;
        distinct("allowed_high_risk", &settings.allowed_high_risk, |at, p| {
            digits(at, p, 1, 15)
        })?;
        limit("concurrent_global", settings.concurrent_global, 10_000)?;
        limit(
            "concurrent_per_trunk",
            settings.concurrent_per_trunk,
            10_000,
        )?;
        limit(
            "concurrent_per_endpoint",
            settings.concurrent_per_endpoint,
            100,
        )?;
        limit("calls_per_minute", settings.calls_per_minute, 1_000)?;
        limit("calls_to_one_number", settings.calls_to_one_number, 1_000)?;
        limit("long_call_minutes", settings.long_call_minutes, 24 * 60)?;
        let dialling = Dialling {
            international_prefix: settings.international_prefix.clone(),
            national_prefix: settings.national_prefix.clone(),
            country_code: settings.country_code.clone(),
        };
        Ok(Self { settings, dialling })
    }

    /// The settings it was made from.
    #[must_use]
    pub fn settings(&self) -> &FraudSettings {
        &self.settings
    }

    /// The verdict of the destination rules for a call an endpoint of `class` dials: the
    /// class's reach, the allowed regions, the high-risk ranges. Emergency numbers always
    /// pass; an unknown calling code counts as international and high-risk.
    #[must_use]
    pub fn judge_destination(
        &self,
        class: CallingClass,
        dialled: &str,
        emergency: &[&str],
    ) -> (Destination, Verdict) {
        let s = &self.settings;
        let destination = classify(dialled, &self.dialling, emergency);
        let verdict = match &destination {
            Destination::Internal | Destination::Emergency => Verdict::Allow,
            Destination::Unknown { e164 } => Verdict::of(
                s.high_risk_mode,
                "unknown_destination",
                format!("+{e164} has a calling code no table knows"),
            ),
            Destination::External {
                e164,
                region,
                national,
                ..
            } => {
                let high_risk = in_ranges(e164, &s.high_risk_prefixes)
                    && !in_ranges(e164, &s.allowed_high_risk);
                if high_risk {
                    Verdict::of(
                        s.high_risk_mode,
                        "high_risk_destination",
                        format!("+{e164} ({}) is in a high-risk range", region.code),
                    )
                } else if *national {
                    if class == CallingClass::Internal {
                        Verdict::of(
                            RuleMode::Block,
                            "class",
                            format!("the internal class may not call +{e164}"),
                        )
                    } else {
                        Verdict::Allow
                    }
                } else if class != CallingClass::International {
                    Verdict::of(
                        RuleMode::Block,
                        "class",
                        format!(
                            "the {} class may not call abroad (+{e164}, {})",
                            class.as_str(),
                            region.code
                        ),
                    )
                } else if !s.allowed_regions.is_empty()
                    && !s.allowed_regions.iter().any(|r| r == region.code)
                {
                    Verdict::of(
                        s.destination_mode,
                        "destination_not_allowed",
                        format!("{} is not among the allowed regions (+{e164})", region.code),
                    )
                } else {
                    Verdict::Allow
                }
            }
        };
        (destination, verdict)
    }
}

/// What a rule decided for one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// A rule fired: what it does (report, block, lock), which rule, and why in words.
    Fired {
        mode: RuleMode,
        rule: &'static str,
        reason: String,
    },
}

impl Verdict {
    fn of(mode: RuleMode, rule: &'static str, reason: String) -> Self {
        if mode == RuleMode::Off {
            Self::Allow
        } else {
            Self::Fired { mode, rule, reason }
        }
    }

    /// Whether the call may go on (allowed, or only reported).
    #[must_use]
    pub fn lets_through(&self) -> bool {
        matches!(
            self,
            Self::Allow
                | Self::Fired {
                    mode: RuleMode::Report,
                    ..
                }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(change: impl FnOnce(&mut FraudSettings)) -> FraudPolicy {
        let mut s = FraudSettings::default();
        change(&mut s);
        FraudPolicy::new(s).unwrap()
    }

    fn rule(v: &Verdict) -> Option<(&'static str, RuleMode)> {
        match v {
            Verdict::Allow => None,
            Verdict::Fired { rule, mode, .. } => Some((rule, *mode)),
        }
    }

    const EMERGENCY: &[&str] = &["110", "112"];

    #[test]
    fn classes_reach_only_as_far_as_they_may() {
        let p = policy(|_| {});
        let judge = |class, n: &str| rule(&p.judge_destination(class, n, EMERGENCY).1);
        assert_eq!(
            judge(CallingClass::Internal, "112"),
            None,
            "emergency always"
        );
        assert_eq!(judge(CallingClass::Internal, "2001"), None);
        assert_eq!(
            judge(CallingClass::Internal, "03012345678"),
            Some(("class", RuleMode::Block))
        );
        assert_eq!(judge(CallingClass::National, "03012345678"), None);
        assert_eq!(
            judge(CallingClass::National, "0044207946000"),
            Some(("class", RuleMode::Block))
        );
        assert_eq!(judge(CallingClass::International, "0044207946000"), None);
        assert_eq!(
            judge(CallingClass::International, "00882123456"),
            Some(("high_risk_destination", RuleMode::Block)),
            "premium ranges even for the international class"
        );
        assert_eq!(
            judge(CallingClass::International, "00999123"),
            Some(("unknown_destination", RuleMode::Block)),
            "an unknown code is treated as high cost"
        );
    }

    #[test]
    fn allowed_regions_and_explicit_exceptions() {
        let p = policy(|s| {
            s.allowed_regions = vec!["GB".to_owned(), "FR".to_owned()];
            s.allowed_high_risk = vec!["8821234".to_owned()];
            s.destination_mode = RuleMode::Report;
        });
        let judge = |n: &str| {
            p.judge_destination(CallingClass::International, n, EMERGENCY)
                .1
        };
        assert_eq!(judge("0033142685300"), Verdict::Allow);
        let spain = judge("0034912345678");
        assert_eq!(
            rule(&spain),
            Some(("destination_not_allowed", RuleMode::Report))
        );
        assert!(
            spain.lets_through(),
            "report-only records and lets the call go"
        );
        assert_eq!(
            rule(&judge("008821234567")),
            Some(("destination_not_allowed", RuleMode::Report)),
            "an allowed high-risk prefix still needs its region allowed"
        );
        assert!(!judge("0053712345").lets_through(), "Cuba stays high-risk");
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        let refused = |change: fn(&mut FraudSettings)| {
            let mut s = FraudSettings::default();
            change(&mut s);
            FraudPolicy::new(s).unwrap_err().field().to_owned()
        };
        assert_eq!(
            refused(|s| s.country_code = "4x".to_owned()),
            "country_code"
        );
        assert_eq!(
            refused(|s| s.national_prefix = "00".to_owned()),
            "national_prefix"
        );
        assert_eq!(
            refused(|s| s.allowed_regions = vec!["XX".to_owned()]),
            "allowed_regions[0]"
        );
        assert_eq!(
            refused(|s| s.high_risk_prefixes.push("882".to_owned())),
            format!("high_risk_prefixes[{}]", DEFAULT_HIGH_RISK.len())
        );
        assert_eq!(
            refused(|s| s.calls_per_minute.max = 0),
            "calls_per_minute.max"
        );
        let off = FraudSettings {
            calls_per_minute: Limit {
                max: 0,
                mode: RuleMode::Off,
            },
            ..FraudSettings::default()
        };
        assert!(
            FraudPolicy::new(off).is_ok(),
            "a rule that is off needs no threshold"
        );
        let json = serde_json::to_string(&FraudSettings::default()).unwrap();
        let back: FraudSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back, FraudSettings::default());
    }
}
