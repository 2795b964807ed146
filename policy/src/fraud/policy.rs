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

pub use crate::asterisk::decision::FailMode;

/// A threshold and what happens past it.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub max: u32,
    pub mode: RuleMode,
}

/// Office hours, for the rule on calls outside them.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfficeHours {
    /// What a call outside them does (off by default: hours differ).
    pub mode: RuleMode,
    /// The office's offset from UTC in minutes (`60` for CET, `-300` for EST).
    pub utc_offset_minutes: i32,
    /// The days it is open: `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`.
    pub days: Vec<String>,
    /// Opening time, `HH:MM`.
    pub start: String,
    /// Closing time, `HH:MM` (later than `start`).
    pub end: String,
}

impl Default for OfficeHours {
    fn default() -> Self {
        Self {
            mode: RuleMode::Off,
            utc_offset_minutes: 0,
            days: ["mon", "tue", "wed", "thu", "fri"]
                .map(str::to_owned)
                .to_vec(),
            start: "08:00".to_owned(),
            end: "18:00".to_owned(),
        }
    }
}

/// The days of [`OfficeHours::days`], Sunday first (the order of `weekday`).
pub const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// `HH:MM` as minutes of the day.
fn minute_of_day(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl OfficeHours {
    /// Whether `unix_secs` falls inside them (the settings checked).
    #[must_use]
    pub fn contains(&self, unix_secs: i64) -> bool {
        let local = unix_secs + i64::from(self.utc_offset_minutes) * 60;
        let days = local.div_euclid(86_400);
        // 1970-01-01 was a Thursday.
        let weekday = usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0);
        let minute = u32::try_from(local.rem_euclid(86_400) / 60).unwrap_or(0);
        let (Some(start), Some(end)) = (minute_of_day(&self.start), minute_of_day(&self.end))
        else {
            return true;
        };
        self.days.iter().any(|d| d == DAYS[weekday]) && start <= minute && minute < end
    }
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
    /// What a minute to a destination the rate table does not price costs, in hundredths
    /// of the currency unit: unknown destinations count as high cost.
    pub unknown_rate_cents: u32,
    /// Spend of one endpoint in the last hour (whole currency units, as the rate table's),
    /// running calls counted as they run.
    pub spend_endpoint_per_hour: Limit,
    /// Spend of one endpoint in the last 24 hours.
    pub spend_endpoint_per_day: Limit,
    /// Spend of all endpoints in the last hour.
    pub spend_global_per_hour: Limit,
    /// Spend of all endpoints in the last 24 hours.
    pub spend_global_per_day: Limit,
    /// The first call of an endpoint to a country it never called (international only).
    pub new_country_mode: RuleMode,
    /// A call from a network (/24, /48) the endpoint never called from: a sign that its
    /// credentials are used elsewhere.
    pub new_network_mode: RuleMode,
    /// External calls outside office hours.
    pub office_hours: OfficeHours,
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
            unknown_rate_cents: 50,
            spend_endpoint_per_hour: Limit {
                max: 30,
                mode: RuleMode::Report,
            },
            spend_endpoint_per_day: Limit {
                max: 150,
                mode: RuleMode::Report,
            },
            spend_global_per_hour: Limit {
                max: 300,
                mode: RuleMode::Report,
            },
            spend_global_per_day: Limit {
                max: 1500,
                mode: RuleMode::Report,
            },
            new_country_mode: RuleMode::Report,
            new_network_mode: RuleMode::Report,
            office_hours: OfficeHours::default(),
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
        if settings.unknown_rate_cents > 100_000 {
            return Err(InvalidField::new(
                "unknown_rate_cents",
                "must be at most 100000 (1000 a minute)",
            ));
        }
        for (field, l) in [
            ("spend_endpoint_per_hour", settings.spend_endpoint_per_hour),
            ("spend_endpoint_per_day", settings.spend_endpoint_per_day),
            ("spend_global_per_hour", settings.spend_global_per_hour),
            ("spend_global_per_day", settings.spend_global_per_day),
        ] {
            limit(field, l, 10_000_000)?;
        }
        let hours = &settings.office_hours;
        if !(-14 * 60..=14 * 60).contains(&hours.utc_offset_minutes) {
            return Err(InvalidField::new(
                "office_hours.utc_offset_minutes",
                "must be between -840 and 840",
            ));
        }
        distinct("office_hours.days", &hours.days, |at, d| {
            if DAYS.contains(&d) {
                Ok(())
            } else {
                Err(InvalidField::new(
                    at,
                    "must be one of mon, tue, wed, thu, fri, sat, sun",
                ))
            }
        })?;
        let start = minute_of_day(&hours.start)
            .ok_or_else(|| InvalidField::new("office_hours.start", "must be a time HH:MM"))?;
        let end = minute_of_day(&hours.end)
            .ok_or_else(|| InvalidField::new("office_hours.end", "must be a time HH:MM"))?;
        if end <= start {
            return Err(InvalidField::new(
                "office_hours.end",
                "must be later than office_hours.start",
            ));
        }
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

/// The words of a rule's mode, for forms.
pub const MODES: &[&str] = &["off", "report", "block", "lock"];
/// The words of a fail mode, for forms.
pub const FAIL_MODES: &[&str] = &["open", "closed"];

use crate::settings::FieldKind::{Choice, Integer, Lines, Number, Text};
use crate::settings::{SettingField, field};

/// Every setting of [`FraudSettings`], in the order the console's form shows them; the
/// section is the path's first word before `_` or `.` as listed in [`SECTIONS`]. A test
/// checks that it names every leaf of the serde form and nothing else.
pub const FIELDS: &[SettingField] = &[
    field(
        "international_prefix",
        "International prefix",
        "What users dial before an international number (00, 011).",
        Text,
    ),
    field(
        "national_prefix",
        "National prefix",
        "What users dial before a national number (0; 1 in NANP; empty for none).",
        Text,
    ),
    field(
        "country_code",
        "Home calling code",
        "The home country's calling code (49, 44, 1).",
        Text,
    ),
    field(
        "allowed_regions",
        "Allowed regions",
        "ISO codes the international class may call (GB, FR), one per line; empty: every region but the high-risk ranges.",
        Lines,
    ),
    field(
        "destination_mode",
        "Other regions",
        "What a call to a region outside the allowed ones does.",
        Choice(MODES),
    ),
    field(
        "high_risk_prefixes",
        "High-risk prefixes",
        "E.164 prefixes of premium and IRSF ranges, one per line.",
        Lines,
    ),
    field(
        "allowed_high_risk",
        "Allowed high-risk prefixes",
        "High-risk prefixes allowed explicitly (a longer prefix allows part of a range).",
        Lines,
    ),
    field(
        "high_risk_mode",
        "High-risk calls",
        "What a call to a high-risk range (or an unknown calling code) does.",
        Choice(MODES),
    ),
    field(
        "concurrent_global.max",
        "Concurrent calls, all",
        "External calls at once, all endpoints together.",
        Number,
    ),
    field(
        "concurrent_global.mode",
        "Over it",
        "What a call over it does.",
        Choice(MODES),
    ),
    field(
        "concurrent_per_trunk.max",
        "Concurrent calls per trunk",
        "External calls at once through one trunk.",
        Number,
    ),
    field(
        "concurrent_per_trunk.mode",
        "Over it",
        "What a call over it does.",
        Choice(MODES),
    ),
    field(
        "concurrent_per_endpoint.max",
        "Concurrent calls per endpoint",
        "External calls at once from one endpoint.",
        Number,
    ),
    field(
        "concurrent_per_endpoint.mode",
        "Over it",
        "What a call over it does.",
        Choice(MODES),
    ),
    field(
        "calls_per_minute.max",
        "Calls per minute",
        "External calls one endpoint may start within a minute (refused ones count).",
        Number,
    ),
    field(
        "calls_per_minute.mode",
        "Over it",
        "Lock: the account stays locked until an administrator unlocks it.",
        Choice(MODES),
    ),
    field(
        "calls_to_one_number.max",
        "Calls to one number",
        "Calls to one number within 15 minutes, all endpoints (targeted pumping).",
        Number,
    ),
    field(
        "calls_to_one_number.mode",
        "Over it",
        "What a call over it does.",
        Choice(MODES),
    ),
    field(
        "long_call_minutes.max",
        "Long call (minutes)",
        "Minutes after which a running external call fires.",
        Number,
    ),
    field(
        "long_call_minutes.mode",
        "Past it",
        "Block hangs the call up; lock also locks the account.",
        Choice(MODES),
    ),
    field(
        "unknown_rate_cents",
        "Unknown rate (cents a minute)",
        "What a minute costs to a destination the rate table does not price.",
        Number,
    ),
    field(
        "spend_endpoint_per_hour.max",
        "Spend per endpoint per hour",
        "Whole currency units, running calls counted as they run.",
        Number,
    ),
    field(
        "spend_endpoint_per_hour.mode",
        "Over it",
        "Block and lock also hang up the endpoint's running calls.",
        Choice(MODES),
    ),
    field(
        "spend_endpoint_per_day.max",
        "Spend per endpoint per day",
        "Whole currency units over the last 24 hours.",
        Number,
    ),
    field(
        "spend_endpoint_per_day.mode",
        "Over it",
        "Block and lock also hang up the endpoint's running calls.",
        Choice(MODES),
    ),
    field(
        "spend_global_per_hour.max",
        "Spend in all per hour",
        "Whole currency units, all endpoints.",
        Number,
    ),
    field(
        "spend_global_per_hour.mode",
        "Over it",
        "New calls are refused (block, lock); running ones keep their own limits.",
        Choice(MODES),
    ),
    field(
        "spend_global_per_day.max",
        "Spend in all per day",
        "Whole currency units over the last 24 hours, all endpoints.",
        Number,
    ),
    field(
        "spend_global_per_day.mode",
        "Over it",
        "New calls are refused (block, lock).",
        Choice(MODES),
    ),
    field(
        "new_country_mode",
        "First call to a country",
        "An endpoint calls a country it never called.",
        Choice(MODES),
    ),
    field(
        "new_network_mode",
        "Call from a new network",
        "An endpoint calls from a /24 (/48) it never called from: its secret may be elsewhere.",
        Choice(MODES),
    ),
    field(
        "office_hours.mode",
        "Outside office hours",
        "What an external call outside office hours does.",
        Choice(MODES),
    ),
    field(
        "office_hours.utc_offset_minutes",
        "Office's UTC offset (minutes)",
        "60 for CET, -300 for EST.",
        Integer,
    ),
    field(
        "office_hours.days",
        "Open days",
        "mon, tue, wed, thu, fri, sat, sun; one per line.",
        Lines,
    ),
    field("office_hours.start", "Opens", "HH:MM, office time.", Text),
    field("office_hours.end", "Closes", "HH:MM, office time.", Text),
    field(
        "fail_national",
        "sipwarden not answering: national",
        "What a national call does when sipwarden cannot be asked (rendered into the dialplan; applies at the next apply).",
        Choice(FAIL_MODES),
    ),
    field(
        "fail_international",
        "sipwarden not answering: international",
        "What an international call does when sipwarden cannot be asked.",
        Choice(FAIL_MODES),
    ),
];

/// The form's sections: a title, and the paths (their start) it holds, in order.
pub const SECTIONS: &[(&str, &[&str])] = &[
    (
        "Dialling",
        &["international_prefix", "national_prefix", "country_code"],
    ),
    (
        "Destinations",
        &[
            "allowed_regions",
            "destination_mode",
            "high_risk_prefixes",
            "allowed_high_risk",
            "high_risk_mode",
        ],
    ),
    ("Concurrent calls", &["concurrent_"]),
    (
        "Call rates and pumping",
        &[
            "calls_per_minute",
            "calls_to_one_number",
            "long_call_minutes",
        ],
    ),
    ("Spend", &["unknown_rate_cents", "spend_"]),
    (
        "Signals of compromise",
        &["new_country_mode", "new_network_mode"],
    ),
    ("Office hours", &["office_hours"]),
    ("When sipwarden does not answer", &["fail_"]),
];

/// The title of the section `path` is in.
#[must_use]
pub fn section_of(path: &str) -> &'static str {
    SECTIONS
        .iter()
        .find(|(_, starts)| starts.iter().any(|s| path.starts_with(s)))
        .map_or("Other", |(title, _)| title)
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

    #[test]
    fn spend_and_office_hours_are_checked_by_field() {
        let refused = |change: fn(&mut FraudSettings)| {
            let mut s = FraudSettings::default();
            change(&mut s);
            FraudPolicy::new(s).unwrap_err().field().to_owned()
        };
        assert_eq!(
            refused(|s| s.unknown_rate_cents = 100_001),
            "unknown_rate_cents"
        );
        assert_eq!(
            refused(|s| s.spend_endpoint_per_day.max = 0),
            "spend_endpoint_per_day.max"
        );
        assert_eq!(
            refused(|s| s.office_hours.days = vec!["mon".into(), "moon".into()]),
            "office_hours.days[1]"
        );
        assert_eq!(
            refused(|s| s.office_hours.start = "8:00".into()),
            "office_hours.start"
        );
        assert_eq!(
            refused(|s| s.office_hours.end = "07:59".into()),
            "office_hours.end"
        );
        assert_eq!(
            refused(|s| s.office_hours.utc_offset_minutes = 900),
            "office_hours.utc_offset_minutes"
        );
        // A policy stored before these settings existed reads with their defaults.
        let old: FraudSettings = serde_json::from_str(r#"{"country_code": "44"}"#).unwrap();
        assert_eq!(
            old.spend_global_per_day,
            FraudSettings::default().spend_global_per_day
        );
    }

    #[test]
    fn office_hours_follow_the_local_clock() {
        let hours = OfficeHours {
            utc_offset_minutes: 60,
            ..OfficeHours::default()
        };
        // Monday 2026-12-07 06:59 and 07:00 UTC are 07:59 and 08:00 in the office.
        let monday_7_utc = 1_796_626_800;
        assert!(!hours.contains(monday_7_utc - 60));
        assert!(hours.contains(monday_7_utc));
        // Friday 16:59 UTC is 17:59: open; Saturday is not.
        let friday_17_utc = monday_7_utc + 4 * 86_400 + 10 * 3600;
        assert!(hours.contains(friday_17_utc - 60));
        assert!(!hours.contains(friday_17_utc));
        assert!(!hours.contains(monday_7_utc + 5 * 86_400 + 3 * 3600));
    }

    #[test]
    fn the_field_list_names_every_setting_once_in_a_section() {
        let json = serde_json::to_value(FraudSettings::default()).unwrap();
        let want = crate::settings::leaf_paths(&json);
        let mut have: Vec<String> = FIELDS.iter().map(|f| f.path.to_owned()).collect();
        have.sort();
        assert_eq!(have, want);
        for f in FIELDS {
            assert_ne!(section_of(f.path), "Other", "{}", f.path);
            let value = f.path.split('.').fold(&json, |v, k| &v[k]);
            if let crate::settings::FieldKind::Choice(options) = f.kind {
                let word = value.as_str().unwrap();
                assert!(options.contains(&word), "{}: {word}", f.path);
            }
        }
    }
}
