//! Secrets (step 3): generated ones, strength checks for typed-in ones, and the digests that
//! are all sipwarden keeps of a SIP secret.
//!
//! Asterisk enforces no password strength at all (reference §3), so this module is the only
//! place it happens.

use super::error::{InvalidField, describe_char};
use super::names::{EndpointId, Realm};
use md5::{Digest, Md5};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Characters generated secrets are drawn from: letters and digits only, so a secret never
/// needs escaping in any Asterisk file and can be typed on a phone keypad menu.
pub const SAFE_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Length of generated SIP secrets: 24 × log2(62) ≈ 143 bits.
pub const GENERATED_SIP_SECRET_LEN: usize = 24;
/// Length of generated AMI secrets.
pub const GENERATED_AMI_SECRET_LEN: usize = 32;
/// Shortest secret an administrator may type in.
pub const MIN_TYPED_SECRET_LEN: usize = 16;
/// Longest secret accepted (typed or stored).
pub const MAX_SECRET_LEN: usize = 128;

fn random_string<R: Rng + ?Sized>(rng: &mut R, len: usize) -> String {
    (0..len)
        .map(|_| char::from(SAFE_ALPHABET[rng.gen_range(0..SAFE_ALPHABET.len())]))
        .collect()
}

/// A secret in plain text, on its way to being shown to the administrator once.
///
/// It implements neither `Display` nor a revealing `Debug`, is not `Clone`, and is wiped
/// from memory when dropped; [`PlainSecret::reveal`] consumes it.
pub struct PlainSecret(Vec<u8>);

impl PlainSecret {
    /// A new random SIP secret of [`GENERATED_SIP_SECRET_LEN`] characters from [`SAFE_ALPHABET`].
    pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self(random_string(rng, GENERATED_SIP_SECRET_LEN).into_bytes())
    }

    /// Checks a secret an administrator typed in, refusing it with the reason if it is weak.
    pub fn typed(value: &str, context: &SecretContext<'_>) -> Result<Self, WeakSecret> {
        check_strength(value, context, |c| c.is_ascii_graphic())?;
        Ok(Self(value.as_bytes().to_vec()))
    }

    /// A secret found in a configuration being imported (#16): the phones already use it, so
    /// it is kept (as a digest) even when weak; the second value says why it is weak, for
    /// the posture to report until it is rotated. Only its length is bounded.
    pub fn adopted(
        value: &str,
        context: &SecretContext<'_>,
    ) -> Result<(Self, Option<WeakSecret>), WeakSecret> {
        if value.is_empty() || value.len() > MAX_SECRET_LEN {
            return Err(WeakSecret::Length {
                min: 1,
                max: MAX_SECRET_LEN,
                got: value.chars().count(),
            });
        }
        let weak = check_strength(value, context, |c| c.is_ascii_graphic()).err();
        Ok((Self(value.as_bytes().to_vec()), weak))
    }

    /// Hands the secret out, once, to be shown to whoever asked for it.
    pub fn reveal(mut self) -> String {
        let bytes = std::mem::take(&mut self.0);
        // Only ASCII from `generate` and `typed` is ever revealed (`adopted` ones are hashed).
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// The secret, for hashing inside this module.
    fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for PlainSecret {
    fn drop(&mut self) {
        // Why: the plain secret must not linger in freed memory longer than needed.
        for byte in &mut self.0 {
            *byte = 0;
        }
        std::hint::black_box(&self.0);
    }
}

impl fmt::Debug for PlainSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainSecret(<redacted>)")
    }
}

/// What a typed-in secret must not contain: the account's own names and numbers.
#[derive(Clone, Copy, Debug, Default)]
pub struct SecretContext<'a> {
    /// The extension number.
    pub extension: Option<&'a str>,
    /// The auth username (endpoint id or AMI user name).
    pub username: Option<&'a str>,
    /// The display name.
    pub display_name: Option<&'a str>,
}

/// Why a typed-in secret was refused. The secret itself is never part of the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakSecret {
    /// Shorter than [`MIN_TYPED_SECRET_LEN`] or longer than [`MAX_SECRET_LEN`].
    #[error("must be {min} to {max} characters long (this one has {got})")]
    Length {
        /// Minimum length.
        min: usize,
        /// Maximum length.
        max: usize,
        /// Length given.
        got: usize,
    },
    /// A character outside the allowed set.
    #[error("{0} is not allowed")]
    Character(String),
    /// Too few of lowercase, uppercase, digits and symbols.
    #[error(
        "must mix at least {needed} of: lowercase letters, uppercase letters, digits, symbols (found {found})"
    )]
    TooFewClasses {
        /// Classes required.
        needed: usize,
        /// Classes found.
        found: usize,
    },
    /// Contains a common password or word.
    #[error("contains a common password or word")]
    CommonPassword,
    /// Contains a keyboard walk, a run like `1234`/`abcd`, or a repeated character.
    #[error("contains a keyboard walk, a run such as 1234 or abcd, or a repeated character")]
    Pattern,
    /// Contains the account's extension number.
    #[error("must not contain the extension number")]
    ContainsExtension,
    /// Contains the account's username.
    #[error("must not contain the username")]
    ContainsUsername,
    /// Contains the display name or a word of it.
    #[error("must not contain the display name or a word of it")]
    ContainsDisplayName,
}

impl WeakSecret {
    pub(crate) fn into_field(self, field: &str) -> InvalidField {
        InvalidField::new(field, self.to_string())
    }
}

/// Common passwords and words that appear in cracking lists first. A substring match on
/// any of them refuses the secret; the list is small on purpose, length does the rest.
const COMMON_WORDS: &[&str] = &[
    "password",
    "passwort",
    "passw0rd",
    "pass",
    "secret",
    "letmein",
    "welcome",
    "admin",
    "root",
    "login",
    "master",
    "dragon",
    "monkey",
    "shadow",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "iloveyou",
    "trustno",
    "superman",
    "batman",
    "changeme",
    "default",
    "guest",
    "test",
    "demo",
    "asterisk",
    "voip",
    "phone",
    "pbx",
    "sip",
    "qwerty",
    "azerty",
    "qwertz",
    "abc123",
    "111111",
    "123123",
    "654321",
    "666666",
    "121212",
    "000000",
    "hello",
    "freedom",
    "whatever",
    "starwars",
    "summer",
    "winter",
    "spring",
    "autumn",
    "access",
    "mustang",
    "michael",
    "jordan",
    "charlie",
    "hunter",
    "ranger",
    "killer",
    "cisco",
    "polycom",
    "yealink",
    "snom",
    "grandstream",
    "linksys",
    "digium",
    "sangoma",
    "freepbx",
    "elastix",
    "company",
];

/// Keyboard rows and sequences whose runs of four give a secret away.
const SEQUENCES: &[&str] = &[
    "1234567890",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "qwertzuiop",
    "yxcvbnm",
    "azertyuiop",
    "qsdfghjklm",
    "wxcvbn",
    "abcdefghijklmnopqrstuvwxyz",
    "1qaz2wsx3edc4rfv",
    "zaq1xsw2cde3",
    "qazwsxedc",
];

const RUN: usize = 4;

fn has_pattern(lower: &str) -> bool {
    let bytes = lower.as_bytes();
    // Four equal characters in a row.
    if bytes.windows(RUN).any(|w| w.iter().all(|&b| b == w[0])) {
        return true;
    }
    bytes.windows(RUN).any(|w| {
        let Ok(window) = std::str::from_utf8(w) else {
            return false;
        };
        let reversed: String = window.chars().rev().collect();
        SEQUENCES
            .iter()
            .any(|seq| seq.contains(window) || seq.contains(reversed.as_str()))
    })
}

/// Undoes the usual letter-for-digit swaps so `p4ssw0rd` is caught like `password`.
fn unleet(lower: &str) -> String {
    lower
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | '!' => 'i',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            other => other,
        })
        .collect()
}

fn check_strength(
    value: &str,
    context: &SecretContext<'_>,
    allowed: impl Fn(char) -> bool,
) -> Result<(), WeakSecret> {
    let len = value.chars().count();
    if !(MIN_TYPED_SECRET_LEN..=MAX_SECRET_LEN).contains(&len) || value.len() > MAX_SECRET_LEN {
        return Err(WeakSecret::Length {
            min: MIN_TYPED_SECRET_LEN,
            max: MAX_SECRET_LEN,
            got: len,
        });
    }
    if let Some(c) = value.chars().find(|&c| !allowed(c)) {
        return Err(WeakSecret::Character(describe_char(c)));
    }
    let classes = [
        value.chars().any(|c| c.is_ascii_lowercase()),
        value.chars().any(|c| c.is_ascii_uppercase()),
        value.chars().any(|c| c.is_ascii_digit()),
        value.chars().any(|c| c.is_ascii_punctuation()),
    ]
    .iter()
    .filter(|&&present| present)
    .count();
    if classes < 3 {
        return Err(WeakSecret::TooFewClasses {
            needed: 3,
            found: classes,
        });
    }
    let lower = value.to_ascii_lowercase();
    if let Some(extension) = context.extension
        && !extension.is_empty()
        && lower.contains(extension)
    {
        return Err(WeakSecret::ContainsExtension);
    }
    if let Some(username) = context.username
        && username.len() >= 3
        && lower.contains(&username.to_ascii_lowercase())
    {
        return Err(WeakSecret::ContainsUsername);
    }
    if let Some(name) = context.display_name {
        let name = name.to_ascii_lowercase();
        let whole = name.len() >= 3 && lower.contains(&name);
        let word = name
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w.len() >= 3 && lower.contains(w));
        if whole || word {
            return Err(WeakSecret::ContainsDisplayName);
        }
    }
    let plain = unleet(&lower);
    if COMMON_WORDS
        .iter()
        .any(|w| lower.contains(w) || plain.contains(w))
    {
        return Err(WeakSecret::CommonPassword);
    }
    if has_pattern(&lower) {
        return Err(WeakSecret::Pattern);
    }
    Ok(())
}

/// An MD5 digest, 32 lowercase hex digits.
///
/// HA1 is password-equivalent for digest auth (it is all a client needs to answer a
/// challenge), so `Debug` redacts it too.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ha1(String);

impl Ha1 {
    /// HA1 = md5(`username:realm:secret`), as PJSIP's `md5_cred` and chan_sip's `md5secret`
    /// expect (the chan_sip username is the peer name, which is the endpoint id here).
    pub fn compute(username: &EndpointId, realm: &Realm, secret: &PlainSecret) -> Self {
        let mut hasher = Md5::new();
        hasher.update(username.as_str().as_bytes());
        hasher.update(b":");
        hasher.update(realm.as_str().as_bytes());
        hasher.update(b":");
        hasher.update(secret.expose());
        Self(hex::encode(hasher.finalize()))
    }

    /// Checks a stored digest: exactly 32 lowercase hex digits.
    pub fn parse(value: &str) -> Result<Self, InvalidField> {
        if value.len() != 32
            || !value
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        {
            return Err(InvalidField::new(
                "ha1",
                "must be 32 lowercase hex digits (an MD5 digest)",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The hex digest, for rendering.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Ha1 {
    type Error = InvalidField;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Ha1> for String {
    fn from(value: Ha1) -> String {
        value.0
    }
}

impl fmt::Debug for Ha1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ha1(<redacted>)")
    }
}

/// An AMI secret. `manager.conf` compares it in plain text, so unlike SIP secrets it has to
/// be stored and rendered as is; it is therefore held to the strictest alphabet,
/// `^[A-Za-z0-9]{20,128}$`, and `Debug` redacts it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AmiSecret(String);

impl AmiSecret {
    /// A new random secret of [`GENERATED_AMI_SECRET_LEN`] characters.
    pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self(random_string(rng, GENERATED_AMI_SECRET_LEN))
    }

    /// Checks a stored secret: `^[A-Za-z0-9]{20,128}$`.
    pub fn parse(value: &str) -> Result<Self, InvalidField> {
        if !(20..=MAX_SECRET_LEN).contains(&value.len()) {
            return Err(InvalidField::new(
                "secret",
                format!(
                    "must be 20 to {MAX_SECRET_LEN} characters long (this one has {} bytes)",
                    value.len()
                ),
            ));
        }
        if let Some(c) = value.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return Err(InvalidField::new(
                "secret",
                format!(
                    "{} is not allowed; use only A-Z, a-z and 0-9",
                    describe_char(c)
                ),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// Checks a secret an administrator typed in: the alphabet above plus the strength rules.
    pub fn typed(value: &str, context: &SecretContext<'_>) -> Result<Self, InvalidField> {
        let secret = Self::parse(value)?;
        check_strength(value, context, |c| c.is_ascii_alphanumeric())
            .map_err(|e| e.into_field("secret"))?;
        Ok(secret)
    }

    /// The secret, for rendering `secret=` in manager.conf.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A copy to show the administrator once.
    pub fn to_plain(&self) -> PlainSecret {
        PlainSecret(self.0.as_bytes().to_vec())
    }
}

impl TryFrom<String> for AmiSecret {
    type Error = InvalidField;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AmiSecret> for String {
    fn from(value: AmiSecret) -> String {
        value.0
    }
}

impl fmt::Debug for AmiSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AmiSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn the_ha1_matches_the_example_in_the_pjsip_sample() {
        let secret = PlainSecret(b"mypass".to_vec());
        let user = EndpointId::parse("fred").unwrap();
        let ha1 = Ha1::compute(&user, &Realm::parse("asterisk").unwrap(), &secret);
        assert_eq!(ha1.as_str(), "43a8d9be3da524f9a59ca0593d7b1b5d");
    }

    #[test]
    fn the_ha1_matches_the_reference_example() {
        let secret = PlainSecret(b"Xq3vT9mLp2Rw8Kz4Nd6Yh1Jc".to_vec());
        let user = EndpointId::parse("k7f9q2xw").unwrap();
        let ha1 = Ha1::compute(&user, &Realm::parse("pbx.example.net").unwrap(), &secret);
        assert_eq!(ha1.as_str(), "ac865ed3b1cb168e178cde2fb7c89f05");
    }

    #[test]
    fn generated_secrets_are_long_and_use_only_the_safe_alphabet() {
        let mut rng = StdRng::seed_from_u64(7);
        let secret = PlainSecret::generate(&mut rng).reveal();
        assert!(secret.len() >= 20);
        assert!(secret.bytes().all(|b| SAFE_ALPHABET.contains(&b)));
        let ami = AmiSecret::generate(&mut rng);
        assert!(AmiSecret::parse(ami.as_str()).is_ok());
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let mut rng = StdRng::seed_from_u64(1);
        let secret = PlainSecret::generate(&mut rng);
        assert_eq!(format!("{secret:?}"), "PlainSecret(<redacted>)");
        let ami = AmiSecret::generate(&mut rng);
        assert!(!format!("{ami:?}").contains(ami.as_str()));
    }

    #[test]
    fn weak_typed_secrets_are_refused_with_the_reason() {
        let ctx = SecretContext {
            extension: Some("1001"),
            username: Some("k7f9q2xw"),
            display_name: Some("Alice Smith"),
        };
        let cases = [
            ("Short1!", "characters long"),
            ("alllowercaseletters", "mix"),
            ("Tr0ub4dor&Password9", "common"),
            ("Xk9#Qwerty-Vb2!Lm7z", "common"),
            ("Xk9#asdf-Vb2!Lm7zQ", "keyboard"),
            ("Xk9#1001-Vb2!Lm7zQ", "extension"),
            ("Xk9#K7F9Q2XW-Vb2!Lm", "username"),
            ("Xk9#smith-Vb2!Lm7zQ", "display name"),
            ("Xk9#Vb2!Lm7z Q8r%Tw", "space"),
        ];
        for (secret, reason) in cases {
            let err = PlainSecret::typed(secret, &ctx).unwrap_err().to_string();
            assert!(err.contains(reason), "{secret}: {err}");
        }
        assert!(PlainSecret::typed("Xk9#Vb2!Lm7zQ8r%Tw", &ctx).is_ok());
    }
}
