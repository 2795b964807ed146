//! Outbound registration of a trunk (#16): most providers want the PBX to REGISTER with a
//! username and password before they send it calls.
//!
//! Unlike a phone's secret, the provider's password cannot be kept as a digest: Asterisk
//! answers the provider's challenges with it, so `pjsip.conf` needs it in plain text
//! (`auth_type=userpass`). It is therefore held like the AMI secrets: in the appliance's own
//! database (readable by sipwarden alone) and in the rendered file, never in a log, a `Debug`
//! line or a response after the one request that set it.
//!
//! Every value goes into `pjsip.conf` inside a `name=value` line (and the usernames also
//! into SIP URIs), so the types below admit nothing that could end the line, start a
//! comment, section or directive, or be stripped by Asterisk (reference §5).

use super::error::{InvalidField, describe_char};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest username (and contact user) accepted.
pub const MAX_SIP_USER_LEN: usize = 64;
/// Longest provider password accepted.
pub const MAX_PROVIDER_SECRET_LEN: usize = 128;

/// Default seconds between attempts after a failed registration (Asterisk's default).
pub const DEFAULT_RETRY_INTERVAL: u32 = 60;
/// Default seconds before retrying after a 403 (0: never; Asterisk's default).
pub const DEFAULT_FORBIDDEN_RETRY_INTERVAL: u32 = 0;
/// Default registration lifetime requested, seconds (Asterisk's default).
pub const DEFAULT_EXPIRATION: u32 = 3600;

/// What the API accepts for a trunk's registration. The secret is write-only: absent in
/// everything sipwarden answers with, and absent on an edit that keeps the stored one.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewRegistration {
    /// The account at the provider: the user part of the registration's `client_uri`.
    #[cfg_attr(feature = "utoipa", schema(pattern = "^[A-Za-z0-9._+-]{1,64}$"))]
    pub username: String,
    /// The provider's password. Required when the registration is created; left out on an
    /// edit, the stored one stays. Never returned.
    #[cfg_attr(
        feature = "utoipa",
        schema(write_only, min_length = 1, max_length = 128)
    )]
    pub secret: Option<String>,
    /// The username to answer challenges with, when it differs from `username`.
    #[cfg_attr(feature = "utoipa", schema(pattern = "^[A-Za-z0-9._+@-]{1,64}$"))]
    pub auth_username: Option<String>,
    /// The user part of the Contact registered (where the provider sends calls).
    #[cfg_attr(feature = "utoipa", schema(pattern = "^[A-Za-z0-9._+-]{1,64}$"))]
    pub contact_user: Option<String>,
    /// Seconds between attempts after a failure, 10 to 3600.
    pub retry_interval: u32,
    /// Seconds before trying again after a 403 Forbidden, 0 (never) to 86400.
    pub forbidden_retry_interval: u32,
    /// Registration lifetime asked for, 60 to 86400 seconds.
    pub expiration: u32,
    /// Whether the same credentials answer the provider's challenges on outbound calls.
    pub outbound_auth: bool,
}

impl Default for NewRegistration {
    fn default() -> Self {
        Self {
            username: String::new(),
            secret: None,
            auth_username: None,
            contact_user: None,
            retry_interval: DEFAULT_RETRY_INTERVAL,
            forbidden_retry_interval: DEFAULT_FORBIDDEN_RETRY_INTERVAL,
            expiration: DEFAULT_EXPIRATION,
            outbound_auth: true,
        }
    }
}

impl fmt::Debug for NewRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewRegistration")
            .field("username", &self.username)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("auth_username", &self.auth_username)
            .field("contact_user", &self.contact_user)
            .field("retry_interval", &self.retry_interval)
            .field("forbidden_retry_interval", &self.forbidden_retry_interval)
            .field("expiration", &self.expiration)
            .field("outbound_auth", &self.outbound_auth)
            .finish()
    }
}

/// A username at the provider (or a contact user): `^[A-Za-z0-9._+-]{1,64}$`, or with `@`
/// for an auth username. It goes into SIP URIs, so only characters that need no escaping
/// there (RFC 3261 `unreserved`, minus the marks providers never use) are admitted.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SipUser(String);

impl SipUser {
    fn parse_with(value: &str, field: &str, at: bool) -> Result<Self, InvalidField> {
        if value.is_empty() {
            return Err(InvalidField::new(field, "is required"));
        }
        if value.len() > MAX_SIP_USER_LEN {
            return Err(InvalidField::new(
                field,
                format!("must be at most {MAX_SIP_USER_LEN} characters long"),
            ));
        }
        let allowed = |c: char| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-') || (at && c == '@')
        };
        if let Some(c) = value.chars().find(|&c| !allowed(c)) {
            let set = if at {
                "letters, digits, '.', '_', '+', '-' and '@'"
            } else {
                "letters, digits, '.', '_', '+' and '-'"
            };
            return Err(InvalidField::new(
                field,
                format!("{} is not allowed; use only {set}", describe_char(c)),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// Checks the user part of a SIP URI (`username`, `contact_user`).
    pub fn parse(value: &str, field: &str) -> Result<Self, InvalidField> {
        Self::parse_with(value, field, false)
    }

    /// Checks an auth username, which may also hold `@` (`user@provider.example`): it only
    /// goes into `username=` of the auth section, never into a URI.
    pub fn parse_auth(value: &str, field: &str) -> Result<Self, InvalidField> {
        Self::parse_with(value, field, true)
    }

    /// The name, for rendering.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SipUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The provider's password, in plain text because Asterisk answers challenges with it.
///
/// Printable ASCII without spaces and without `;` (a comment), `#` and `[` (a directive or
/// section where a line starts), `]` and `\` (the escape character), not starting with `>`
/// (Asterisk drops it: `password=>x` reads as `password => x`), at most
/// [`MAX_PROVIDER_SECRET_LEN`] characters. Its strength is the provider's business: it is
/// not checked like the secrets sipwarden makes. `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderSecret(String);

/// Characters refused inside a provider password, beyond spaces and control characters.
const SECRET_REFUSED: &[char] = &[';', '#', '[', ']', '\\'];

impl ProviderSecret {
    /// Checks a password, for the input field `field`. The refused value is never echoed.
    pub fn parse(value: &str, field: &str) -> Result<Self, InvalidField> {
        if value.is_empty() {
            return Err(InvalidField::new(field, "is required"));
        }
        if value.len() > MAX_PROVIDER_SECRET_LEN {
            return Err(InvalidField::new(
                field,
                format!("must be at most {MAX_PROVIDER_SECRET_LEN} characters long"),
            ));
        }
        if let Some(c) = value
            .chars()
            .find(|&c| !c.is_ascii_graphic() || SECRET_REFUSED.contains(&c))
        {
            return Err(InvalidField::new(
                field,
                format!(
                    "{} is not allowed; use letters, digits and symbols other than ; # [ ] \\ \
                     (no spaces)",
                    describe_char(c)
                ),
            ));
        }
        if value.starts_with('>') {
            // `password=>x` is read as the object form `password => x` (reference §5.5).
            return Err(InvalidField::new(
                field,
                "must not start with '>' (Asterisk would drop it)",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The password, for rendering `password=` and for storing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProviderSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProviderSecret(<redacted>)")
    }
}

/// A checked outbound registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    username: SipUser,
    secret: ProviderSecret,
    auth_username: Option<SipUser>,
    contact_user: Option<SipUser>,
    retry_interval: u32,
    forbidden_retry_interval: u32,
    expiration: u32,
    outbound_auth: bool,
}

fn within(field: &str, value: u32, min: u32, max: u32, note: &str) -> Result<u32, InvalidField> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(InvalidField::new(
            field,
            format!("must be {min} to {max} seconds{note}"),
        ))
    }
}

impl Registration {
    /// Checks `new`; field names in errors are `registration.<field>`. The secret is
    /// required here: the backend fills in the stored one for an edit that leaves it out.
    pub fn new(new: &NewRegistration) -> Result<Self, InvalidField> {
        let username = SipUser::parse(&new.username, "registration.username")?;
        let secret = match &new.secret {
            Some(secret) => ProviderSecret::parse(secret, "registration.secret")?,
            None => return Err(InvalidField::new("registration.secret", "is required")),
        };
        let auth_username = new
            .auth_username
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| SipUser::parse_auth(v, "registration.auth_username"))
            .transpose()?;
        let contact_user = new
            .contact_user
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| SipUser::parse(v, "registration.contact_user"))
            .transpose()?;
        Ok(Self {
            username,
            secret,
            auth_username,
            contact_user,
            retry_interval: within(
                "registration.retry_interval",
                new.retry_interval,
                10,
                3600,
                "",
            )?,
            forbidden_retry_interval: within(
                "registration.forbidden_retry_interval",
                new.forbidden_retry_interval,
                0,
                86_400,
                " (0: never retry after a 403)",
            )?,
            expiration: within("registration.expiration", new.expiration, 60, 86_400, "")?,
            outbound_auth: new.outbound_auth,
        })
    }

    /// The account at the provider.
    pub fn username(&self) -> &SipUser {
        &self.username
    }
    /// The provider's password.
    pub fn secret(&self) -> &ProviderSecret {
        &self.secret
    }
    /// The username challenges are answered with, if it differs from [`Self::username`].
    pub fn auth_username(&self) -> Option<&SipUser> {
        self.auth_username.as_ref()
    }
    /// The username challenges are answered with.
    pub fn effective_auth_username(&self) -> &SipUser {
        self.auth_username.as_ref().unwrap_or(&self.username)
    }
    /// The user part of the registered Contact, if set.
    pub fn contact_user(&self) -> Option<&SipUser> {
        self.contact_user.as_ref()
    }
    /// Seconds between attempts after a failure.
    pub fn retry_interval(&self) -> u32 {
        self.retry_interval
    }
    /// Seconds before retrying after a 403 (0: never).
    pub fn forbidden_retry_interval(&self) -> u32 {
        self.forbidden_retry_interval
    }
    /// Lifetime asked for.
    pub fn expiration(&self) -> u32 {
        self.expiration
    }
    /// Whether outbound calls answer challenges with these credentials.
    pub fn outbound_auth(&self) -> bool {
        self.outbound_auth
    }

    /// The input form back, without the secret (it is stored apart and never shown).
    pub fn to_new_without_secret(&self) -> NewRegistration {
        NewRegistration {
            username: self.username.to_string(),
            secret: None,
            auth_username: self.auth_username.as_ref().map(ToString::to_string),
            contact_user: self.contact_user.as_ref().map(ToString::to_string),
            retry_interval: self.retry_interval,
            forbidden_retry_interval: self.forbidden_retry_interval,
            expiration: self.expiration,
            outbound_auth: self.outbound_auth,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> NewRegistration {
        NewRegistration {
            username: "4930555000".into(),
            secret: Some("pr0v1der-Pass!".into()),
            ..NewRegistration::default()
        }
    }

    #[test]
    fn a_valid_registration_is_accepted_with_asterisks_defaults() {
        let r = Registration::new(&valid()).unwrap();
        assert_eq!(r.username().as_str(), "4930555000");
        assert_eq!(r.effective_auth_username().as_str(), "4930555000");
        assert_eq!(
            (
                r.retry_interval(),
                r.forbidden_retry_interval(),
                r.expiration()
            ),
            (60, 0, 3600)
        );
        assert!(r.outbound_auth());
    }

    #[test]
    fn each_bad_value_is_refused_naming_its_field_and_never_echoing_a_secret() {
        type Change = fn(&mut NewRegistration);
        let cases: &[(Change, &str)] = &[
            (|n| n.username = String::new(), "registration.username"),
            (|n| n.username = "a;b".into(), "registration.username"),
            (|n| n.username = "a@b".into(), "registration.username"),
            (|n| n.username = " lead".into(), "registration.username"),
            (|n| n.username = "x".repeat(65), "registration.username"),
            (|n| n.secret = None, "registration.secret"),
            (|n| n.secret = Some("abc;--".into()), "registration.secret"),
            (
                |n| n.secret = Some("abc\ndef".into()),
                "registration.secret",
            ),
            (|n| n.secret = Some("[abc]".into()), "registration.secret"),
            (
                |n| n.secret = Some("#include".into()),
                "registration.secret",
            ),
            (
                |n| n.secret = Some(" trailing ".into()),
                "registration.secret",
            ),
            (|n| n.secret = Some("a\\b".into()), "registration.secret"),
            (|n| n.secret = Some(">arrow".into()), "registration.secret"),
            (|n| n.secret = Some("é".repeat(3)), "registration.secret"),
            (|n| n.secret = Some("x".repeat(129)), "registration.secret"),
            (
                |n| n.auth_username = Some("a b".into()),
                "registration.auth_username",
            ),
            (
                |n| n.contact_user = Some("a@b".into()),
                "registration.contact_user",
            ),
            (|n| n.retry_interval = 5, "registration.retry_interval"),
            (
                |n| n.forbidden_retry_interval = 90_000,
                "registration.forbidden_retry_interval",
            ),
            (|n| n.expiration = 30, "registration.expiration"),
        ];
        for (change, field) in cases {
            let mut new = valid();
            change(&mut new);
            let err = Registration::new(&new).unwrap_err();
            assert_eq!(err.field(), *field, "{new:?}: {err}");
            if let Some(secret) = &new.secret {
                assert!(!err.to_string().contains(secret.as_str()) || secret.len() < 4);
            }
        }
    }

    #[test]
    fn an_auth_username_may_carry_an_at_sign_and_empty_optionals_are_absent() {
        let new = NewRegistration {
            auth_username: Some("user@sip.provider.example".into()),
            contact_user: Some(String::new()),
            ..valid()
        };
        let r = Registration::new(&new).unwrap();
        assert_eq!(
            r.effective_auth_username().as_str(),
            "user@sip.provider.example"
        );
        assert!(r.contact_user().is_none());
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let new = valid();
        assert!(!format!("{new:?}").contains("pr0v1der"));
        let r = Registration::new(&new).unwrap();
        assert!(!format!("{r:?}").contains("pr0v1der"));
        assert!(r.to_new_without_secret().secret.is_none());
    }

    /// Found by the hostile-input property test: `password=>x` reads as `password => x`,
    /// so Asterisk would answer challenges with `x`, not `>x`.
    #[test]
    fn regression_a_password_starting_with_an_arrow_would_lose_the_arrow() {
        let err = ProviderSecret::parse(">Itsp-Pr0vider+Pass", "registration.secret").unwrap_err();
        assert!(err.rule().contains("'>'"), "{err}");
        assert!(ProviderSecret::parse("Itsp->Pass", "registration.secret").is_ok());
    }
}
