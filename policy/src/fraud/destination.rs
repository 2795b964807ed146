//! Where a dialled number goes: internal, an emergency number, national or international,
//! with the country (from the E.164 calling code, longest prefix first) and whether the
//! range is a high-risk one.
//!
//! Why NANP needs care: `+1` is one calling code for 25 countries. Calls from a North
//! American PBX to the Caribbean (`+1 876` Jamaica, `+1 809` Dominican Republic, …) look
//! national but are billed as international and are a favourite of toll fraud, and `+1 900`
//! and `+1 976` are premium-rate. They are classified by their area code, as their own
//! region or as premium.

/// How the PBX's users dial: the prefixes that start national and international numbers
/// and the home country's calling code (`00`, `0`, `49` in Germany; `011`, `1`, `1` in the
/// US).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialling {
    pub international_prefix: String,
    pub national_prefix: String,
    pub country_code: String,
}

/// A region of the numbering plan: a country (ISO 3166-1 alpha-2) or a non-geographic
/// service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// The calling code and, for NANP, the area code: `49`, `1876`.
    pub prefix: &'static str,
    /// `DE`, `JM`; for non-geographic codes a name in capitals (`SATELLITE`).
    pub code: &'static str,
}

/// Where a dialled number goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Not a number a trunk is needed for (an extension, a feature code).
    Internal,
    /// One of the policy's emergency numbers: never blocked.
    Emergency,
    /// An outside number: its E.164 form (digits, no `+`), its region, and whether it is in
    /// the home country (and not a NANP region of its own). Whether its range is high-risk is
    /// the fraud policy's question ([`in_ranges`] over its lists).
    External {
        e164: String,
        region: Region,
        national: bool,
    },
    /// An outside number whose calling code no table knows: treated as international and
    /// high cost.
    Unknown { e164: String },
}

/// Classifies `dialled` (what the phone sent: digits, possibly a leading `+`).
#[must_use]
pub fn classify(dialled: &str, dialling: &Dialling, emergency: &[&str]) -> Destination {
    if emergency.contains(&dialled) {
        return Destination::Emergency;
    }
    let e164 = if let Some(rest) = dialled.strip_prefix('+') {
        rest.to_owned()
    } else if let Some(rest) = dialled
        .strip_prefix(dialling.international_prefix.as_str())
        .filter(|_| !dialling.international_prefix.is_empty())
    {
        rest.to_owned()
    } else if let Some(rest) = dialled
        .strip_prefix(dialling.national_prefix.as_str())
        .filter(|_| !dialling.national_prefix.is_empty())
    {
        format!("{}{rest}", dialling.country_code)
    } else if dialled.len() >= 7 {
        // Without a prefix, a long number is a local or national one (NANP's ten digits, a
        // number in the same area code); extensions are shorter.
        format!("{}{dialled}", dialling.country_code)
    } else {
        return Destination::Internal;
    };
    if e164.is_empty() || !e164.bytes().all(|b| b.is_ascii_digit()) {
        return Destination::Internal;
    }
    match region_of(&e164) {
        Some(region) => {
            // A NANP region of its own (the Caribbean) is abroad even from the US: only the
            // home code itself is national.
            let national = region.prefix == dialling.country_code;
            Destination::External {
                e164,
                region,
                national,
            }
        }
        None => Destination::Unknown { e164 },
    }
}

/// Whether an E.164 number is in one of the ranges `prefixes` names.
#[must_use]
pub fn in_ranges<S: AsRef<str>>(e164: &str, prefixes: &[S]) -> bool {
    prefixes.iter().any(|p| e164.starts_with(p.as_ref()))
}

/// The region of an E.164 number: the longest calling code (or NANP area code) it starts
/// with.
#[must_use]
pub fn region_of(e164: &str) -> Option<Region> {
    CALLING_CODES
        .iter()
        .filter(|r| e164.starts_with(r.prefix))
        .max_by_key(|r| r.prefix.len())
        .copied()
}

/// High-risk ranges sipwarden blocks unless the administrator allows them: the
/// non-geographic satellite and network codes, the international premium-rate code, NANP's
/// premium 900 and 976, and countries whose ranges appear in every IRSF report. E.164
/// prefixes, editable in the fraud policy.
pub const DEFAULT_HIGH_RISK: &[&str] = &[
    "870", "881", "882", "883", "979", "1900", "1976", "53", "224", "232", "252",
];

const fn r(prefix: &'static str, code: &'static str) -> Region {
    Region { prefix, code }
}

/// E.164 calling codes (ITU-T's list of assigned codes) and NANP's regions with area codes
/// of their own.
pub const CALLING_CODES: &[Region] = &[
    r("1", "NANP"),
    r("1242", "BS"),
    r("1246", "BB"),
    r("1264", "AI"),
    r("1268", "AG"),
    r("1284", "VG"),
    r("1340", "VI"),
    r("1345", "KY"),
    r("1441", "BM"),
    r("1473", "GD"),
    r("1649", "TC"),
    r("1658", "JM"),
    r("1876", "JM"),
    r("1664", "MS"),
    r("1670", "MP"),
    r("1671", "GU"),
    r("1684", "AS"),
    r("1721", "SX"),
    r("1758", "LC"),
    r("1767", "DM"),
    r("1784", "VC"),
    r("1787", "PR"),
    r("1939", "PR"),
    r("1809", "DO"),
    r("1829", "DO"),
    r("1849", "DO"),
    r("1868", "TT"),
    r("1869", "KN"),
    r("1900", "PREMIUM"),
    r("1976", "PREMIUM"),
    r("7", "RU"),
    r("76", "KZ"),
    r("77", "KZ"),
    r("20", "EG"),
    r("211", "SS"),
    r("212", "MA"),
    r("213", "DZ"),
    r("216", "TN"),
    r("218", "LY"),
    r("220", "GM"),
    r("221", "SN"),
    r("222", "MR"),
    r("223", "ML"),
    r("224", "GN"),
    r("225", "CI"),
    r("226", "BF"),
    r("227", "NE"),
    r("228", "TG"),
    r("229", "BJ"),
    r("230", "MU"),
    r("231", "LR"),
    r("232", "SL"),
    r("233", "GH"),
    r("234", "NG"),
    r("235", "TD"),
    r("236", "CF"),
    r("237", "CM"),
    r("238", "CV"),
    r("239", "ST"),
    r("240", "GQ"),
    r("241", "GA"),
    r("242", "CG"),
    r("243", "CD"),
    r("244", "AO"),
    r("245", "GW"),
    r("246", "IO"),
    r("247", "AC"),
    r("248", "SC"),
    r("249", "SD"),
    r("250", "RW"),
    r("251", "ET"),
    r("252", "SO"),
    r("253", "DJ"),
    r("254", "KE"),
    r("255", "TZ"),
    r("256", "UG"),
    r("257", "BI"),
    r("258", "MZ"),
    r("260", "ZM"),
    r("261", "MG"),
    r("262", "RE"),
    r("263", "ZW"),
    r("264", "NA"),
    r("265", "MW"),
    r("266", "LS"),
    r("267", "BW"),
    r("268", "SZ"),
    r("269", "KM"),
    r("27", "ZA"),
    r("290", "SH"),
    r("291", "ER"),
    r("297", "AW"),
    r("298", "FO"),
    r("299", "GL"),
    r("30", "GR"),
    r("31", "NL"),
    r("32", "BE"),
    r("33", "FR"),
    r("34", "ES"),
    r("350", "GI"),
    r("351", "PT"),
    r("352", "LU"),
    r("353", "IE"),
    r("354", "IS"),
    r("355", "AL"),
    r("356", "MT"),
    r("357", "CY"),
    r("358", "FI"),
    r("359", "BG"),
    r("36", "HU"),
    r("370", "LT"),
    r("371", "LV"),
    r("372", "EE"),
    r("373", "MD"),
    r("374", "AM"),
    r("375", "BY"),
    r("376", "AD"),
    r("377", "MC"),
    r("378", "SM"),
    r("379", "VA"),
    r("380", "UA"),
    r("381", "RS"),
    r("382", "ME"),
    r("383", "XK"),
    r("385", "HR"),
    r("386", "SI"),
    r("387", "BA"),
    r("389", "MK"),
    r("39", "IT"),
    r("40", "RO"),
    r("41", "CH"),
    r("420", "CZ"),
    r("421", "SK"),
    r("423", "LI"),
    r("43", "AT"),
    r("44", "GB"),
    r("45", "DK"),
    r("46", "SE"),
    r("47", "NO"),
    r("48", "PL"),
    r("49", "DE"),
    r("500", "FK"),
    r("501", "BZ"),
    r("502", "GT"),
    r("503", "SV"),
    r("504", "HN"),
    r("505", "NI"),
    r("506", "CR"),
    r("507", "PA"),
    r("508", "PM"),
    r("509", "HT"),
    r("51", "PE"),
    r("52", "MX"),
    r("53", "CU"),
    r("54", "AR"),
    r("55", "BR"),
    r("56", "CL"),
    r("57", "CO"),
    r("58", "VE"),
    r("590", "GP"),
    r("591", "BO"),
    r("592", "GY"),
    r("593", "EC"),
    r("594", "GF"),
    r("595", "PY"),
    r("596", "MQ"),
    r("597", "SR"),
    r("598", "UY"),
    r("599", "CW"),
    r("60", "MY"),
    r("61", "AU"),
    r("62", "ID"),
    r("63", "PH"),
    r("64", "NZ"),
    r("65", "SG"),
    r("66", "TH"),
    r("670", "TL"),
    r("672", "NF"),
    r("673", "BN"),
    r("674", "NR"),
    r("675", "PG"),
    r("676", "TO"),
    r("677", "SB"),
    r("678", "VU"),
    r("679", "FJ"),
    r("680", "PW"),
    r("681", "WF"),
    r("682", "CK"),
    r("683", "NU"),
    r("685", "WS"),
    r("686", "KI"),
    r("687", "NC"),
    r("688", "TV"),
    r("689", "PF"),
    r("690", "TK"),
    r("691", "FM"),
    r("692", "MH"),
    r("800", "FREEPHONE"),
    r("808", "SHARED-COST"),
    r("81", "JP"),
    r("82", "KR"),
    r("84", "VN"),
    r("850", "KP"),
    r("852", "HK"),
    r("853", "MO"),
    r("855", "KH"),
    r("856", "LA"),
    r("86", "CN"),
    r("870", "SATELLITE"),
    r("878", "UPT"),
    r("880", "BD"),
    r("881", "SATELLITE"),
    r("882", "NETWORKS"),
    r("883", "NETWORKS"),
    r("886", "TW"),
    r("888", "OCHA"),
    r("90", "TR"),
    r("91", "IN"),
    r("92", "PK"),
    r("93", "AF"),
    r("94", "LK"),
    r("95", "MM"),
    r("960", "MV"),
    r("961", "LB"),
    r("962", "JO"),
    r("963", "SY"),
    r("964", "IQ"),
    r("965", "KW"),
    r("966", "SA"),
    r("967", "YE"),
    r("968", "OM"),
    r("970", "PS"),
    r("971", "AE"),
    r("972", "IL"),
    r("973", "BH"),
    r("974", "QA"),
    r("975", "BT"),
    r("976", "MN"),
    r("977", "NP"),
    r("979", "PREMIUM"),
    r("98", "IR"),
    r("991", "ITPCS"),
    r("992", "TJ"),
    r("993", "TM"),
    r("994", "AZ"),
    r("995", "GE"),
    r("996", "KG"),
    r("998", "UZ"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn germany() -> Dialling {
        Dialling {
            international_prefix: "00".to_owned(),
            national_prefix: "0".to_owned(),
            country_code: "49".to_owned(),
        }
    }

    fn us() -> Dialling {
        Dialling {
            international_prefix: "011".to_owned(),
            national_prefix: "1".to_owned(),
            country_code: "1".to_owned(),
        }
    }

    fn external(d: &Destination) -> (&str, &str, bool, bool) {
        match d {
            Destination::External {
                e164,
                region,
                national,
            } => (
                e164.as_str(),
                region.code,
                *national,
                in_ranges(e164, DEFAULT_HIGH_RISK),
            ),
            other => panic!("not external: {other:?}"),
        }
    }

    #[test]
    fn numbers_from_germany() {
        let c = |n: &str| classify(n, &germany(), &["110", "112"]);
        assert_eq!(c("112"), Destination::Emergency);
        assert_eq!(c("2001"), Destination::Internal);
        assert_eq!(
            external(&c("03012345678")),
            ("493012345678", "DE", true, false)
        );
        assert_eq!(
            external(&c("0044207946000")),
            ("44207946000", "GB", false, false)
        );
        assert_eq!(
            external(&c("+33142685300")),
            ("33142685300", "FR", false, false)
        );
        assert_eq!(external(&c("0053712345")).1, "CU");
        assert!(
            external(&c("0053712345")).3,
            "Cuba is in the default high-risk list"
        );
        assert_eq!(
            external(&c("00882123456")),
            ("882123456", "NETWORKS", false, true)
        );
        assert_eq!(
            external(&c("0018765551234")),
            ("18765551234", "JM", false, false),
            "the Caribbean is NANP, but its own country"
        );
        assert_eq!(
            c("00999123"),
            Destination::Unknown {
                e164: "999123".to_owned()
            }
        );
        assert_eq!(
            external(&c("007712345678")).1,
            "KZ",
            "longest prefix wins over RU"
        );
    }

    #[test]
    fn numbers_from_the_us_where_the_caribbean_and_900_are_abroad() {
        let c = |n: &str| classify(n, &us(), &["911"]);
        assert_eq!(c("911"), Destination::Emergency);
        assert_eq!(
            external(&c("12125551234")),
            ("12125551234", "NANP", true, false)
        );
        assert_eq!(
            external(&c("2125551234")),
            ("12125551234", "NANP", true, false)
        );
        let jamaica = c("18765551234");
        assert_eq!(external(&jamaica), ("18765551234", "JM", false, false));
        assert_eq!(
            external(&c("19005551234")),
            ("19005551234", "PREMIUM", false, true)
        );
        assert_eq!(external(&c("01144207946000")).1, "GB");
        assert_eq!(c("201"), Destination::Internal);
    }

    #[test]
    fn every_calling_code_is_digits_and_listed_once() {
        for (i, region) in CALLING_CODES.iter().enumerate() {
            assert!(
                region.prefix.bytes().all(|b| b.is_ascii_digit()),
                "{region:?}"
            );
            assert!(
                !CALLING_CODES[..i].iter().any(|o| o.prefix == region.prefix),
                "{region:?} twice"
            );
        }
        for prefix in DEFAULT_HIGH_RISK {
            assert!(region_of(prefix).is_some(), "{prefix}");
        }
    }

    proptest::proptest! {
        /// Any text a phone may send: a destination, never a panic; an outside number is
        /// always made of digits and its region is a prefix of it.
        #[test]
        fn any_dialled_text_is_classified(dialled in "\\+?[0-9*#]{0,20}|.{0,24}") {
            for dialling in [germany(), us()] {
                match classify(&dialled, &dialling, &["112"]) {
                    Destination::External { e164, region, .. } => {
                        proptest::prop_assert!(e164.bytes().all(|b| b.is_ascii_digit()));
                        proptest::prop_assert!(e164.starts_with(region.prefix));
                    }
                    Destination::Unknown { e164 } => {
                        proptest::prop_assert!(e164.bytes().all(|b| b.is_ascii_digit()));
                    }
                    Destination::Internal | Destination::Emergency => {}
                }
            }
        }
    }
}
