//! Names, numbers and words that end up in Asterisk files, each behind a whitelist.
//!
//! The whitelists follow `asterisk-reference.md` §5.8. They are deliberately narrower than
//! what Asterisk accepts: anything that could end a line, open a comment, close a section
//! header, split a comma list or be evaluated by the dialplan (`${...}`, `$[...]`) is refused
//! here, so the renderers never need to escape or guess.

use super::error::{InvalidField, describe_char};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Declares a string newtype whose only constructor runs `$check`.
macro_rules! checked_string {
    ($(#[$meta:meta])* $name:ident, $field:literal, $check:path) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks `value` against this type's whitelist.
            pub fn parse(value: &str) -> Result<Self, InvalidField> {
                $check(value).map_err(|rule| InvalidField::new($field, rule))?;
                Ok(Self(value.to_owned()))
            }

            /// The checked text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidField;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                $check(&value).map_err(|rule| InvalidField::new($field, rule))?;
                Ok(Self(value))
            }
        }

        impl TryFrom<&str> for $name {
            type Error = InvalidField;
            fn try_from(value: &str) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidField;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// Declares a `Copy` enum of fixed keywords, parsed from (and serialised as) its keyword.
macro_rules! keyword_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal, { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The keyword, exactly as Asterisk spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// Parses the keyword (exact, lowercase).
            pub fn parse(value: &str) -> Result<Self, InvalidField> {
                match value {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(InvalidField::new(
                        $field,
                        format!("must be one of: {}", [$($text),+].join(", ")),
                    )),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidField;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidField;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }

        impl From<$name> for &'static str {
            fn from(value: $name) -> &'static str {
                value.as_str()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // By hand, because serde sees the keyword (a string), not the variant names.
        #[cfg(feature = "utoipa")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        #[cfg(feature = "utoipa")]
        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use keyword_enum;

/// Checks the length in bytes first, so a 9 000-byte value is refused before it is scanned.
pub(crate) fn check_len(value: &str, min: usize, max: usize, unit: &str) -> Result<(), String> {
    let len = value.len();
    if len < min || len > max {
        return Err(format!(
            "must be {min} to {max} {unit} long (this one has {len} bytes)"
        ));
    }
    Ok(())
}

/// Refuses the first character `allowed` rejects, naming it safely.
pub(crate) fn check_chars(
    value: &str,
    allowed: impl Fn(char) -> bool,
    allowed_text: &str,
) -> Result<(), String> {
    match value.chars().find(|&c| !allowed(c)) {
        Some(c) => Err(format!(
            "{} is not allowed; use only {allowed_text}",
            describe_char(c)
        )),
        None => Ok(()),
    }
}

/// Section names Asterisk gives a meaning of its own (reference §5.3), plus `anonymous`,
/// which PJSIP would use for unauthenticated calls (step 7).
const RESERVED_NAMES: &[&str] = &[
    "general",
    "global",
    "globals",
    "system",
    "authentication",
    "default",
    "none",
    "all",
];

fn check_object_name(value: &str) -> Result<(), String> {
    check_len(value, 3, 64, "characters")?;
    check_chars(
        value,
        |c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'),
        "a-z, 0-9, '_' and '-'",
    )?;
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("must start with a letter or a digit".to_owned());
    }
    if RESERVED_NAMES.contains(&value) {
        return Err("is a name Asterisk reserves for its own sections".to_owned());
    }
    // Why: PJSIP's anonymous identifier looks up `anonymous` and `anonymous@<domain>`;
    // refusing the whole prefix keeps any such endpoint from ever existing (step 7).
    if value.starts_with("anonymous") {
        return Err(
            "must not start with 'anonymous' (unauthenticated calls would land there)".to_owned(),
        );
    }
    if value.starts_with("sw-") {
        return Err("the prefix 'sw-' is reserved for sipwarden's own objects".to_owned());
    }
    Ok(())
}

checked_string!(
    /// A section name: trunk names, AMI user names and the base of endpoint ids.
    /// `^[a-z0-9][a-z0-9_-]{2,63}$`, not reserved by Asterisk, not starting with `sw-`.
    ObjectName,
    "name",
    check_object_name
);

fn check_endpoint_id(value: &str) -> Result<(), String> {
    // Why no "must contain a letter" here: an endpoint imported from an existing PBX keeps the
    // name its phones register with, often its extension number. Generated ids always have
    // a letter (step 6), and `PbxModel::new` refuses a numeric id on any endpoint that was not
    // adopted, so the rule still holds for everything sipwarden names itself.
    check_object_name(value)
}

checked_string!(
    /// An endpoint's id, which is also its PJSIP auth username and its chan_sip peer name.
    /// Generated (always with a letter, never an extension number: step 6), or, for an
    /// endpoint adopted from an existing configuration, the name its phones already use.
    EndpointId,
    "id",
    check_endpoint_id
);

fn check_digits(value: &str, min: usize, max: usize) -> Result<(), String> {
    check_len(value, min, max, "digits")?;
    check_chars(value, |c| c.is_ascii_digit(), "the digits 0-9")
}

checked_string!(
    /// An internal extension number, `^[0-9]{2,15}$`.
    Extension,
    "extension",
    extension_rule
);
fn extension_rule(value: &str) -> Result<(), String> {
    check_digits(value, 2, 15)
}

checked_string!(
    /// A number a trunk delivers (DID), `^[0-9]{2,20}$`, matched exactly in the dialplan.
    Did,
    "did",
    did_rule
);
fn did_rule(value: &str) -> Result<(), String> {
    check_digits(value, 2, 20)
}

checked_string!(
    /// An emergency number every endpoint may dial whatever its class, `^[0-9]{2,10}$`.
    EmergencyNumber,
    "emergency_number",
    emergency_rule
);
fn emergency_rule(value: &str) -> Result<(), String> {
    check_digits(value, 2, 10)
}

fn check_display_name(value: &str) -> Result<(), String> {
    check_len(value, 1, 40, "characters")?;
    // Why: the name goes inside `callerid="<name>" <ext>`; quotes, `;`, `,`, brackets,
    // `$`/`{}` (dialplan evaluation), `\`, `&`, `^`, `|` and `<>` are all meaningful to some
    // Asterisk parser (reference §5.8), so only plain characters pass.
    check_chars(
        value,
        |c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    ' ' | '.'
                        | '-'
                        | '_'
                        | '\''
                        | '@'
                        | '+'
                        | '/'
                        | '!'
                        | '?'
                        | '#'
                        | '*'
                        | '%'
                        | ':'
                )
        },
        "letters, digits, spaces and . - _ ' @ + / ! ? # * % :",
    )?;
    if value.starts_with(' ') || value.ends_with(' ') {
        // Asterisk strips whitespace around values, so it would not round-trip.
        return Err("must not start or end with a space".to_owned());
    }
    Ok(())
}

checked_string!(
    /// The name shown on phones, rendered as `callerid="<name>" <extension>`.
    DisplayName,
    "display_name",
    check_display_name
);

fn check_realm(value: &str) -> Result<(), String> {
    check_len(value, 1, 64, "characters")?;
    // Why: the realm is hashed as `user:realm:secret` and sent quoted in WWW-Authenticate,
    // so `:` and `"` must never appear; a host-name alphabet is enough.
    check_chars(
        value,
        |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'),
        "letters, digits, '.' and '-'",
    )?;
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("must start with a letter or a digit".to_owned());
    }
    Ok(())
}

checked_string!(
    /// The one digest realm every auth uses (step 2). Changing it invalidates every HA1.
    Realm,
    "realm",
    check_realm
);

fn check_user_agent(value: &str) -> Result<(), String> {
    check_len(value, 1, 40, "characters")?;
    // Why: the default `Asterisk PBX 22.x` tells an attacker which CVEs apply. No digits
    // means no version number can slip in.
    check_chars(
        value,
        |c| c.is_ascii_alphabetic() || matches!(c, ' ' | '.' | '-' | '_'),
        "letters, spaces, '.', '-' and '_' (no digits, so no version number)",
    )?;
    if value.starts_with(' ') || value.ends_with(' ') {
        return Err("must not start or end with a space".to_owned());
    }
    if value.to_ascii_lowercase().contains("asterisk") {
        return Err("must not name the PBX software".to_owned());
    }
    Ok(())
}

checked_string!(
    /// The `User-Agent`/`Server` header text; never reveals the product or its version.
    UserAgent,
    "user_agent",
    check_user_agent
);

fn check_dial_pattern(value: &str) -> Result<(), String> {
    check_len(value, 1, 32, "characters")?;
    let Some(body) = value.strip_prefix('_') else {
        return check_chars(
            value,
            |c| c.is_ascii_digit() || c == '*' || c == '#',
            "digits, '*' and '#' (or a pattern starting with '_')",
        );
    };
    let mut tokens = 0usize;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '0'..='9' | 'X' | 'Z' | 'N' | '*' | '#' => tokens += 1,
            '[' => {
                let mut members = 0usize;
                loop {
                    match chars.next() {
                        Some(']') if members > 0 => break,
                        Some('0'..='9' | '-') => members += 1,
                        _ => {
                            return Err(
                                "a '[...]' class must hold only digits and '-' and be closed"
                                    .to_owned(),
                            );
                        }
                    }
                }
                tokens += 1;
            }
            '.' | '!' => {
                if chars.peek().is_some() {
                    return Err("'.' and '!' may only end a pattern".to_owned());
                }
                // Why: `_.` or `_!` alone would match everything, including the special
                // extensions h, i and t; every class pattern must begin with real digits.
                if tokens == 0 {
                    return Err(
                        "must have at least one digit or X/Z/N before '.' or '!'".to_owned()
                    );
                }
            }
            other => {
                return Err(format!(
                    "{} is not allowed; use digits, X, Z, N, [0-9-], and a final '.' or '!'",
                    describe_char(other)
                ));
            }
        }
    }
    if tokens == 0 {
        return Err("must match at least one digit".to_owned());
    }
    Ok(())
}

checked_string!(
    /// A dialplan pattern a calling class may reach, e.g. `_0ZXXXXX.` or `118`.
    DialPattern,
    "pattern",
    check_dial_pattern
);

fn check_file_path(value: &str) -> Result<(), String> {
    check_len(value, 2, 200, "characters")?;
    check_chars(
        value,
        |c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'),
        "letters, digits, '/', '.', '_' and '-'",
    )?;
    if !value.starts_with('/') {
        return Err("must be an absolute path".to_owned());
    }
    if value.split('/').any(|part| part == "..") {
        return Err("must not contain '..'".to_owned());
    }
    Ok(())
}

checked_string!(
    /// An absolute file path Asterisk reads (TLS certificate and key).
    FilePath,
    "path",
    check_file_path
);

/// A device's MAC address, stored as 12 lowercase hex digits.
///
/// Only used to derive an endpoint id; the bare digits are never used as a name, because a
/// MAC address of only decimal digits would look like an extension number (step 6).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MacAddress(String);

impl MacAddress {
    /// Accepts `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff`, `aabb.ccdd.eeff` or `aabbccddeeff`.
    pub fn parse(value: &str) -> Result<Self, InvalidField> {
        let err = |rule: String| InvalidField::new("mac", rule);
        check_len(value, 12, 17, "characters").map_err(err)?;
        check_chars(
            value,
            |c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '.'),
            "hex digits and ':', '-' or '.'",
        )
        .map_err(err)?;
        let digits: String = value
            .chars()
            .filter(char::is_ascii_hexdigit)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if digits.len() != 12 {
            return Err(err("must hold exactly 12 hex digits".to_owned()));
        }
        Ok(Self(digits))
    }

    /// The 12 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MacAddress {
    type Error = InvalidField;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MacAddress> for String {
    fn from(value: MacAddress) -> String {
        value.0
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_id_has_the_section_name_alphabet() {
        // Digits alone pass here (an adopted phone keeps its name); the model refuses them
        // on endpoints sipwarden named itself (`PbxModel::new`).
        assert!(EndpointId::parse("1001").is_ok());
        for bad in ["10", "Alice", "a b", "sw-phone", "anonymous1"] {
            let err = EndpointId::parse(bad).unwrap_err();
            assert_eq!(err.field(), "id", "{bad}");
        }
    }

    #[test]
    fn names_reserved_by_asterisk_or_sipwarden_are_refused() {
        for name in ["general", "anonymous", "anonymous-x", "sw-udp", "default"] {
            assert!(ObjectName::parse(name).is_err(), "{name}");
        }
        assert!(ObjectName::parse("itsp-main").is_ok());
    }

    #[test]
    fn a_display_name_with_a_quote_or_semicolon_is_refused() {
        for bad in ["A\"B", "a;b", "${SHELL(id)}", "x\ny", " lead", "Müller"] {
            let err = DisplayName::parse(bad).unwrap_err();
            assert_eq!(err.field(), "display_name", "{bad}");
        }
        assert!(DisplayName::parse("Alice O'Neil").is_ok());
    }

    #[test]
    fn a_user_agent_cannot_carry_a_version() {
        assert!(UserAgent::parse("Asterisk PBX").is_err());
        assert!(UserAgent::parse("PBX 22").is_err());
        assert!(UserAgent::parse("Office PBX").is_ok());
    }

    #[test]
    fn dial_patterns_follow_the_asterisk_grammar_and_never_match_everything() {
        for good in ["_0ZXXXXX.", "_00Z.", "118", "_9[1-8]XX", "_NXX!"] {
            assert!(DialPattern::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "_.",
            "_!",
            "_X.X",
            "_[a]",
            "_X,1,System(x)",
            "_",
            "_[]",
            "_X${A}",
        ] {
            assert!(DialPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mac_addresses_are_normalised_to_lowercase_hex() {
        let mac = MacAddress::parse("00:0B:82:1A:2B:3C").unwrap();
        assert_eq!(mac.as_str(), "000b821a2b3c");
        assert!(MacAddress::parse("00:0b:82:1a:2b").is_err());
    }
}
