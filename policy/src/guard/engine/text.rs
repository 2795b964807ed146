//! Attacker text made safe for events: every byte that reaches an event passes here.

use std::fmt::Write as _;

use super::super::observation::{Observation, Subject};

/// Attacker text in events is cut to this many characters.
const TEXT_MAX: usize = 96;

/// Lossy UTF-8, control characters replaced (no forged log lines), cut to a bound.
pub(super) fn text(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().min(TEXT_MAX));
    for (i, c) in String::from_utf8_lossy(bytes).chars().enumerate() {
        if i == TEXT_MAX {
            s.push('…');
            break;
        }
        s.push(if c.is_control() { '?' } else { c });
    }
    s
}

/// [`text`] in double quotes.
pub(super) fn quote(bytes: &[u8]) -> String {
    format!("\"{}\"", text(bytes))
}

/// Case-insensitive substring test (ASCII).
pub(super) fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// What was observed, for the event's `method` column: `INVITE`, `401 to REGISTER`,
/// `ChallengeResponseFailed`.
pub(super) fn subject(obs: &Observation<'_>) -> Option<String> {
    match obs.subject {
        Subject::Request(m) => Some(text(m.as_bytes())),
        Subject::Response(status) => Some(match obs.cseq {
            Some(c) => format!("{status} to {}", text(c.method.as_bytes())),
            None => status.to_string(),
        }),
        Subject::Security(k) => Some(format!("{k:?}")),
        Subject::Malformed => None,
    }
}

/// "401 to REGISTER for \"1001\"" and the like, for evidence.
pub(super) fn describe(obs: &Observation<'_>, account: Option<&[u8]>) -> String {
    let mut s = subject(obs).unwrap_or_else(|| "malformed".to_owned());
    match account {
        Some(a) => {
            let _ = write!(s, " for {}", quote(a));
        }
        None => s.push_str(" for an unknown account"),
    }
    s
}
