//! The console's one form framework, shared by the server functions (`api`), their server
//! side (`ssr`) and the pages: what can go wrong in an action ([`ConsoleError`], fixed
//! messages with stable codes, and [`ActionError`], which can name a field), what a form
//! sent ([`TypedForm`]), and the [`Flash`] a plain form post leaves for the page it is
//! redirected to (a refusal with what was typed, a secret shown once, an apply's report).
//!
//! # Errors, with and without JavaScript
//!
//! A refused PBX change has a field and a reason written by the `policy` crate (or, for a
//! conflict, one reason per problem). That text is sipwarden's own, never the refused value,
//! so showing it is safe. It travels in two ways:
//!
//! - JavaScript (the hydrated `ActionForm`): as the typed [`ActionError`] in the server
//!   function's response; the page shows it next to the form, which keeps what was typed.
//! - A plain form post (no JavaScript): the browser must be redirected to a page, and a URL
//!   must never carry text the page would show (anyone could forge such a link). So the server
//!   keeps the outcome in a short-lived *flash* (in memory, bound to the session that made it,
//!   taken once) and redirects to `page?flash=<random token>`; the page fetches the flash
//!   and shows the message with the typed values back in the form. The token is opaque:
//!   a forged or replayed one shows nothing. The same flash carries a secret that was just
//!   generated, so it is shown once without JavaScript too. Without a session (e.g. it
//!   expired) there is nothing to bind a flash to, and the page gets the fixed
//!   `?error=<code>` of [`ConsoleError`] instead.

pub mod alerts;
pub mod labels;
pub mod pbx;

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use pbx::{AmiUserForm, EndpointForm, PolicyForm, TrunkForm};
use wire::pbx::{AmiUserView, ApplyReport, EndpointView, WithSecret};

/// `next` when it is a path of this console to return to after signing in: absolute,
/// not protocol-relative (`//host`), no backslash (browsers read `/\host` as another
/// site), no control characters, not the sign-in page itself, at most 512 bytes.
#[must_use]
pub fn local_path(next: Option<&str>) -> Option<&str> {
    let next = next?;
    let safe = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.chars().all(|c| c.is_ascii_graphic())
        && !next.starts_with("/login")
        && next.len() <= 512;
    safe.then_some(next)
}

/// Everything that can go wrong in a console action, as the browser may see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ConsoleError {
    #[error("Sign in to continue.")]
    NotSignedIn,
    #[error("Your role does not allow this.")]
    Forbidden,
    #[error("Wrong username or password.")]
    BadCredentials,
    #[error("Too many failed attempts. Wait a while, then try again.")]
    Throttled,
    #[error("The form expired. Reload the page and try again.")]
    BadCsrf,
    #[error("The current password is wrong.")]
    WrongCurrentPassword,
    #[error("The new passwords do not match.")]
    PasswordMismatch,
    #[error("The password must be at least 12 characters long.")]
    PasswordTooShort,
    #[error("The password must not contain the username.")]
    PasswordContainsUsername,
    #[error("The password is too long (at most 1024 characters).")]
    PasswordTooLong,
    #[error("A username is 1 to 64 letters, digits, '.', '-' or '_'.")]
    BadUsername,
    #[error("That setup token is not valid. Use the one printed in the server log.")]
    BadSetupToken,
    #[error("Setup is already complete. Sign in instead.")]
    SetupDone,
    #[error(
        "The firewall policy was refused. Networks must be in CIDR notation without host bits, must not overlap or cover the whole internet; ports must be 1 to 65535 and distinct; the confirm window 10 to 3600 s; restricting the console needs an admin network. The REST API names the exact field."
    )]
    FirewallPolicyInvalid,
    #[error("That is not a single IPv4 or IPv6 address.")]
    BadAddress,
    #[error(
        "A ban needs a reason (one line, at most 200 characters) and lasts from 1 second to a year."
    )]
    BadBan,
    #[error("Trust lasts 1 to 168 hours; the note is one line of at most 200 characters.")]
    BadAllow,
    #[error(
        "That address cannot be banned: it is loopback, trusted by the firewall policy or on the temporary allowlist."
    )]
    NotBannable,
    #[error("That address is already trusted by the firewall policy.")]
    AlreadyTrusted,
    #[error(
        "Applying would block the peers listed in the lockout preview. Tick \"apply anyway\" to apply regardless."
    )]
    WouldLockOut,
    #[error("No firewall change is waiting for confirmation.")]
    NothingPending,
    #[error("That address is not in the list (it may have expired).")]
    NotListed,
    #[error(
        "The kernel firewall could not be changed, and nothing was lost. The server log says why (sipwarden needs nft and the capability NET_ADMIN: in a container add it with `--cap-add NET_ADMIN`, in compose with `cap_add: [NET_ADMIN, NET_RAW, SYS_NICE]`)."
    )]
    FirewallUnavailable,
    #[error(
        "That filter is not valid: the kind must be one of the listed kinds and the source an IP address."
    )]
    BadFilter,
    #[error("That request was malformed.")]
    BadRequest,
    #[error("There is no such user.")]
    NoSuchUser,
    #[error(
        "That would leave no active administrator: enable or create another administrator first."
    )]
    LastAdmin,
    #[error("Enter the code from your authenticator app, or one of your recovery codes.")]
    SecondFactorRequired,
    #[error(
        "That code is not valid: use the current code from your authenticator app (each works once) or an unused recovery code."
    )]
    BadSecondFactor,
    #[error(
        "Administrators must set up a second factor before anything else: do it on the Account page."
    )]
    EnrolSecondFactor,
    #[error("No second factor is being set up: start again.")]
    NoEnrolment,
    #[error("Something went wrong on the server. It has been logged.")]
    Internal,
}

impl ConsoleError {
    /// A stable code for URLs (`?error=code`) and logs.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            ConsoleError::NotSignedIn => "not_signed_in",
            ConsoleError::Forbidden => "forbidden",
            ConsoleError::BadCredentials => "bad_credentials",
            ConsoleError::Throttled => "throttled",
            ConsoleError::BadCsrf => "bad_csrf",
            ConsoleError::WrongCurrentPassword => "wrong_current_password",
            ConsoleError::PasswordMismatch => "password_mismatch",
            ConsoleError::PasswordTooShort => "password_too_short",
            ConsoleError::PasswordContainsUsername => "password_contains_username",
            ConsoleError::PasswordTooLong => "password_too_long",
            ConsoleError::BadUsername => "bad_username",
            ConsoleError::BadSetupToken => "bad_setup_token",
            ConsoleError::SetupDone => "setup_done",
            ConsoleError::FirewallPolicyInvalid => "firewall_policy_invalid",
            ConsoleError::BadAddress => "bad_address",
            ConsoleError::BadBan => "bad_ban",
            ConsoleError::BadAllow => "bad_allow",
            ConsoleError::NotBannable => "not_bannable",
            ConsoleError::AlreadyTrusted => "already_trusted",
            ConsoleError::WouldLockOut => "would_lock_out",
            ConsoleError::NothingPending => "nothing_pending",
            ConsoleError::NotListed => "not_listed",
            ConsoleError::FirewallUnavailable => "firewall_unavailable",
            ConsoleError::BadFilter => "bad_filter",
            ConsoleError::BadRequest => "bad_request",
            ConsoleError::NoSuchUser => "no_such_user",
            ConsoleError::LastAdmin => "last_admin",
            ConsoleError::SecondFactorRequired => "second_factor_required",
            ConsoleError::BadSecondFactor => "bad_second_factor",
            ConsoleError::EnrolSecondFactor => "enrol_second_factor",
            ConsoleError::NoEnrolment => "no_enrolment",
            ConsoleError::Internal => "internal",
        }
    }

    /// The error for a code; unknown codes give `None` (never echo arbitrary text).
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.code() == code)
    }

    const ALL: [ConsoleError; 32] = [
        ConsoleError::NotSignedIn,
        ConsoleError::Forbidden,
        ConsoleError::BadCredentials,
        ConsoleError::Throttled,
        ConsoleError::BadCsrf,
        ConsoleError::WrongCurrentPassword,
        ConsoleError::PasswordMismatch,
        ConsoleError::PasswordTooShort,
        ConsoleError::PasswordContainsUsername,
        ConsoleError::PasswordTooLong,
        ConsoleError::BadUsername,
        ConsoleError::BadSetupToken,
        ConsoleError::SetupDone,
        ConsoleError::FirewallPolicyInvalid,
        ConsoleError::BadAddress,
        ConsoleError::BadBan,
        ConsoleError::BadAllow,
        ConsoleError::NotBannable,
        ConsoleError::AlreadyTrusted,
        ConsoleError::WouldLockOut,
        ConsoleError::NothingPending,
        ConsoleError::NotListed,
        ConsoleError::FirewallUnavailable,
        ConsoleError::BadFilter,
        ConsoleError::BadRequest,
        ConsoleError::NoSuchUser,
        ConsoleError::LastAdmin,
        ConsoleError::SecondFactorRequired,
        ConsoleError::BadSecondFactor,
        ConsoleError::EnrolSecondFactor,
        ConsoleError::NoEnrolment,
        ConsoleError::Internal,
    ];
}

impl FromServerFnError for ConsoleError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Bad form fields or JSON from the client: the client's fault.
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::Deserialization(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::UnsupportedRequestMethod(_) => ConsoleError::BadRequest,
            _ => ConsoleError::Internal,
        }
    }
}

/// Why a console action failed, as the browser may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ActionError {
    /// Not signed in, not allowed, expired form, malformed request, or our fault.
    #[error("{0}")]
    Console(ConsoleError),
    /// A field broke its rule. All strings are sipwarden's own words (the refused value is
    /// never in them): `field` is the input's name, `label` what the form calls it when the
    /// console's table of labels does not know it (the guard's settings carry their own).
    #[error("{field}: {reason}")]
    Invalid {
        field: String,
        reason: String,
        #[serde(default)]
        label: Option<String>,
    },
    /// The change would make the model inconsistent; one reason per problem.
    #[error("{}", .0.join(" "))]
    Conflict(Vec<String>),
    /// The object is gone (deleted meanwhile, or a stale link).
    #[error("That {kind} does not exist (any more).")]
    NotFound { kind: String },
}

impl ActionError {
    /// `field` (an input's name) broke its rule `reason`.
    #[must_use]
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ActionError::Invalid {
            field: field.into(),
            reason: reason.into(),
            label: None,
        }
    }
}

impl From<ConsoleError> for ActionError {
    fn from(e: ConsoleError) -> Self {
        ActionError::Console(e)
    }
}

impl FromServerFnError for ActionError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ActionError::Console(ConsoleError::from_server_fn_error(value))
    }
}

/// A form that was refused, to put back what was typed (never a secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TypedForm {
    Endpoint(EndpointForm),
    Trunk(TrunkForm),
    AmiUser(AmiUserForm),
    Policy(Box<PolicyForm>),
    /// The Guard settings page's form (it shares the PBX pages' flash).
    GuardSettings(Box<wire::guard::GuardSettingsForm>),
    /// The Fraud page's policy form.
    FraudSettings(Box<wire::guard::GuardSettingsForm>),
    /// The firewall settings form (its rate tiers are not on it).
    Firewall(Box<wire::firewall::FirewallPolicy>),
}

/// A secret generated (or typed) just now, shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownSecret {
    /// `endpoint` or `AMI user`.
    pub kind: String,
    /// Its id or name.
    pub key: String,
    /// Its extension, for endpoints.
    pub label: String,
    pub secret: String,
    /// What a phone (or an AMI client) needs besides the secret, in the order a
    /// provisioning screen asks: server, port, transport, user names, realm.
    #[serde(default)]
    pub provisioning: Vec<(String, String)>,
}

/// Where phones and AMI clients reach this PBX, for a secret's provisioning block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAddress {
    /// The address SIP listens on, or the host name the console was reached by when SIP
    /// listens on every address (`host_from_console`).
    pub host: String,
    pub host_from_console: bool,
    pub sip_port: u16,
    pub tls_port: u16,
    pub ami_host: String,
    pub ami_port: u16,
}

impl ShownSecret {
    /// An endpoint's new secret with what its phone needs.
    #[must_use]
    pub fn endpoint(w: &WithSecret<EndpointView>, at: &ServiceAddress) -> Self {
        let e = &w.object;
        let port = if e.transport == "tls" {
            at.tls_port
        } else {
            at.sip_port
        };
        let field = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        Self {
            kind: "endpoint".to_owned(),
            key: e.id.clone(),
            label: format!("extension {}", e.extension),
            secret: w.secret.clone(),
            provisioning: vec![
                if at.host_from_console {
                    // Behind a proxy or a tunnel that name may not be the phones'.
                    field("SIP server (as you reached this console)", &at.host)
                } else {
                    field("SIP server", &at.host)
                },
                field("Port", &port.to_string()),
                field("Transport", &e.transport.to_uppercase()),
                field("User name", &e.id),
                field("Authentication user", &e.id),
                field("Realm (domain)", &e.realm),
                field("Extension", &e.extension),
                field("Display name", &e.display_name),
            ],
        }
    }

    /// An AMI user's new secret with what its client needs.
    #[must_use]
    pub fn ami_user(w: &WithSecret<AmiUserView>, at: &ServiceAddress) -> Self {
        Self {
            kind: "AMI user".to_owned(),
            key: w.object.name.clone(),
            label: String::new(),
            secret: w.secret.clone(),
            provisioning: vec![
                ("Host".to_owned(), at.ami_host.clone()),
                ("Port".to_owned(), at.ami_port.to_string()),
                ("Username".to_owned(), w.object.name.clone()),
            ],
        }
    }
}

/// The outcome of a plain form post, kept on the server for the page it redirects to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flash {
    /// Refused: why, and what was typed.
    Refused {
        error: ActionError,
        form: Option<Box<TypedForm>>,
    },
    /// A new secret.
    Secret(ShownSecret),
    /// An apply or rollback finished (or failed and fell back).
    Report(ApplyReport),
    /// The recovery codes of a second factor just set up.
    RecoveryCodes(Vec<String>),
}

impl Flash {
    /// The refusal, if this flash is one.
    #[must_use]
    pub fn error(&self) -> Option<ActionError> {
        match self {
            Flash::Refused { error, .. } => Some(error.clone()),
            _ => None,
        }
    }

    /// The recovery codes, if this flash carries them.
    #[must_use]
    pub fn recovery_codes(&self) -> Option<Vec<String>> {
        match self {
            Flash::RecoveryCodes(codes) => Some(codes.clone()),
            _ => None,
        }
    }

    /// The secret, if this flash carries one.
    #[must_use]
    pub fn secret(&self) -> Option<ShownSecret> {
        match self {
            Flash::Secret(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// The report, if this flash carries one.
    #[must_use]
    pub fn report(&self) -> Option<ApplyReport> {
        match self {
            Flash::Report(r) => Some(r.clone()),
            _ => None,
        }
    }

    /// What was typed into a refused form, if it was this kind of form.
    #[must_use]
    pub fn form(&self) -> Option<TypedForm> {
        match self {
            Flash::Refused { form, .. } => form.as_deref().cloned(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_returned_to_after_sign_in() {
        for good in ["/", "/endpoints?q=10", "/trunks/carrier"] {
            assert_eq!(local_path(Some(good)), Some(good));
        }
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "/\tevil",
            "/caf\u{e9}",
            "/with space",
            "/login?next=/",
            "endpoints",
            "",
        ] {
            assert_eq!(local_path(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(local_path(Some(&format!("/{}", "a".repeat(600)))), None);
        assert_eq!(local_path(None), None);
    }
}
