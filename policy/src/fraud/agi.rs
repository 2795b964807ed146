//! The FastAGI exchange the pre-call decision speaks (#15): Asterisk's `AGI(agi://…)`
//! connects, sends its environment (`agi_key: value` lines up to an empty line), and then
//! reads commands and answers `200 result=…` to each. sipwarden answers one
//! `SET VARIABLE` with the verdict and hangs up the connection.
//!
//! The environment carries values a caller chooses (caller id name and number, the dialled
//! extension), so it is read with bounds and never trusted: only the fields the decision
//! needs are kept, each checked, and nothing from it reaches a command unescaped.

pub use crate::asterisk::decision::{DecisionPoint, VERDICT_VARIABLE};

/// The environment may not be longer than this (Asterisk sends well under 2 KiB).
pub const MAX_ENV_BYTES: usize = 16 * 1024;
/// Nor have more lines than this.
pub const MAX_ENV_LINES: usize = 256;
/// Longest value kept.
pub const MAX_VALUE_LEN: usize = 256;

/// Why an environment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgiError {
    #[error("the AGI environment is longer than {MAX_ENV_BYTES} bytes or {MAX_ENV_LINES} lines")]
    TooLong,
    #[error("line {0} of the AGI environment is not `agi_key: value`")]
    Malformed(usize),
    #[error("the AGI environment ended before its empty line")]
    Unterminated,
    #[error("the AGI environment has no {0}")]
    Missing(&'static str),
}

/// What the decision needs from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgiEnv {
    /// `agi_network_script`: which question is asked (`decide`).
    pub script: String,
    /// `agi_channel`: `PJSIP/k7f3q9zx2m-00000001`.
    pub channel: String,
    /// `agi_uniqueid`: the channel's unique id, for hanging it up later.
    pub uniqueid: String,
    /// `agi_extension`: the number dialled.
    pub extension: String,
    /// `agi_context`.
    pub context: String,
    /// `agi_arg_1`, `agi_arg_2`, …: the arguments the dialplan passed.
    pub args: Vec<String>,
}

/// Reads the environment from the start of what Asterisk sent (`text` up to and including
/// the empty line); the number of bytes it took.
pub fn parse_env(text: &str) -> Result<(AgiEnv, usize), AgiError> {
    let mut env = AgiEnv::default();
    let mut consumed = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i >= MAX_ENV_LINES || consumed + line.len() > MAX_ENV_BYTES {
            return Err(AgiError::TooLong);
        }
        consumed += line.len();
        if !line.ends_with('\n') {
            return Err(AgiError::Unterminated);
        }
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            if env.channel.is_empty() {
                return Err(AgiError::Missing("agi_channel"));
            }
            return Ok((env, consumed));
        }
        let Some((key, value)) = line.split_once(": ").or_else(|| line.split_once(':')) else {
            return Err(AgiError::Malformed(i + 1));
        };
        if !key.starts_with("agi_") || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(AgiError::Malformed(i + 1));
        }
        let value: String = value.trim().chars().take(MAX_VALUE_LEN).collect();
        match key {
            "agi_network_script" => env.script = value,
            "agi_channel" => env.channel = value,
            "agi_uniqueid" => env.uniqueid = value,
            "agi_extension" => env.extension = value,
            "agi_context" => env.context = value,
            _ => {
                if let Some(n) = key
                    .strip_prefix("agi_arg_")
                    .and_then(|n| n.parse::<usize>().ok())
                    && n == env.args.len() + 1
                {
                    env.args.push(value);
                }
            }
        }
    }
    if consumed > MAX_ENV_BYTES {
        return Err(AgiError::TooLong);
    }
    Err(AgiError::Unterminated)
}

/// `SET VARIABLE name "value"`, for a variable name and value sipwarden chose; `None` when
/// either has a character that could end the command or be evaluated by the dialplan.
#[must_use]
pub fn set_variable(name: &str, value: &str) -> Option<String> {
    let name_ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    let value_ok = value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b' '));
    (name_ok && value_ok).then(|| format!("SET VARIABLE {name} \"{value}\"\n"))
}

/// The code of Asterisk's answer to a command (`200 result=1` → 200).
#[must_use]
pub fn answer_code(line: &str) -> Option<u16> {
    line.get(..3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &str = "agi_network: yes\n\
        agi_network_script: decide\n\
        agi_request: agi://127.0.0.1:4573/decide\n\
        agi_channel: PJSIP/k7f3q9zx2m-00000001\n\
        agi_language: en\n\
        agi_uniqueid: 1765112345.7\n\
        agi_callerid: 2001\n\
        agi_calleridname: \"Front: desk\" \n\
        agi_context: sw-class-national\n\
        agi_extension: 03012345678\n\
        agi_priority: 2\n\
        agi_arg_1: k7f3q9zx2m\n\
        agi_arg_2: national\n\
        \n\
        200 result=1\n";

    #[test]
    fn an_environment_as_asterisk_sends_it() {
        let (env, used) = parse_env(ENV).unwrap();
        assert_eq!(env.script, "decide");
        assert_eq!(env.channel, "PJSIP/k7f3q9zx2m-00000001");
        assert_eq!(env.uniqueid, "1765112345.7");
        assert_eq!(env.extension, "03012345678");
        assert_eq!(env.context, "sw-class-national");
        assert_eq!(env.args, ["k7f3q9zx2m", "national"]);
        assert_eq!(&ENV[used..], "200 result=1\n", "it stops at the empty line");
    }

    #[test]
    fn broken_and_hostile_environments_are_refused() {
        assert_eq!(parse_env("agi_channel: x\n"), Err(AgiError::Unterminated));
        assert_eq!(parse_env("agi_channel: x"), Err(AgiError::Unterminated));
        assert_eq!(parse_env("nonsense\n\n"), Err(AgiError::Malformed(1)));
        assert_eq!(parse_env("x_channel: y\n\n"), Err(AgiError::Malformed(1)));
        assert_eq!(
            parse_env("agi_extension: 1\n\n"),
            Err(AgiError::Missing("agi_channel"))
        );
        let long = "agi_x: y\n".repeat(MAX_ENV_LINES + 1);
        assert_eq!(parse_env(&long), Err(AgiError::TooLong));
    }

    #[test]
    fn commands_carry_only_safe_values() {
        assert_eq!(
            set_variable("SW_DECISION", "block"),
            Some("SET VARIABLE SW_DECISION \"block\"\n".to_owned())
        );
        assert_eq!(set_variable("SW_DECISION", "a\"b"), None);
        assert_eq!(set_variable("SW_DECISION", "${SHELL(id)}"), None);
        assert_eq!(set_variable("sw decision", "x"), None);
        assert_eq!(answer_code("200 result=1\n"), Some(200));
        assert_eq!(answer_code("5"), None);
    }

    proptest::proptest! {
        /// Any bytes: an environment or an error, never a panic, never more taken than given.
        #[test]
        fn any_text_is_read_or_refused(text in "(agi_[a-z_0-9]{1,12}: [^\n]{0,40}\n){0,12}\n?.{0,20}|.{0,200}") {
            if let Ok((_, used)) = parse_env(&text) {
                proptest::prop_assert!(used <= text.len());
            }
        }
    }
}
