//! Secrets out of configuration text that is shown to people: the preview's diffs and the
//! revisions the API answers with. `secret=` (AMI users), `md5_cred=` (an HA1 digest, which
//! is password-equivalent for SIP digest authentication) and `password=` keep their key and
//! lose their value, whatever the spacing, case or `=>` form of the line.

/// What a hidden value reads as.
pub const HIDDEN: &str = "(hidden)";

/// Keys whose values are never shown.
const SECRET_KEYS: [&str; 3] = ["secret", "md5_cred", "password"];

/// `text` with the value of every secret-bearing line replaced by [`HIDDEN`]; everything else
/// (comments, other lines, line endings) as it was.
#[must_use]
pub fn redact_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        out.push_str(&redact_line(line));
    }
    out
}

/// One credential line of a configuration file: its section, key and value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Credential {
    /// The section it is in (`[name]`, without templates).
    pub section: String,
    /// `secret`, `md5_cred` or `password`, lower-case.
    pub key: String,
    value: String,
}

/// Every credential line of `text`, so that a rollback can tell which of an old revision's
/// secrets the current model no longer has.
#[must_use]
pub fn credentials(text: &str) -> std::collections::BTreeSet<Credential> {
    let mut section = String::new();
    let mut found = std::collections::BTreeSet::new();
    for line in text.lines() {
        let code = line.split(';').next().unwrap_or("").trim();
        if let Some(rest) = code.strip_prefix('[') {
            section = rest.split(']').next().unwrap_or("").trim().to_owned();
            continue;
        }
        let Some((key, value)) = code.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        if SECRET_KEYS.contains(&key.as_str()) {
            found.insert(Credential {
                section: section.clone(),
                key,
                value: value.trim_start_matches('>').trim().to_owned(),
            });
        }
    }
    found
}

fn redact_line(line: &str) -> std::borrow::Cow<'_, str> {
    // A comment starts at `;` (Asterisk has no escape for it in these keys' values).
    let code = line.split(';').next().unwrap_or("");
    let Some(eq) = code.find('=') else {
        return line.into();
    };
    let key = code[..eq].trim();
    if !SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
        return line.into();
    }
    let after = &line[eq + 1..];
    let arrow = usize::from(after.starts_with('>'));
    let ending = if line.ends_with("\r\n") {
        "\r\n"
    } else if line.ends_with('\n') {
        "\n"
    } else {
        ""
    };
    format!("{}={}{HIDDEN}{ending}", &line[..eq], &after[..arrow]).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_found_by_section_whatever_the_spelling() {
        let text = "[admin]\nsecret = one\n[1001-auth](!)\nMD5_CRED=>abcd ; note\n; secret=two\n";
        let found: Vec<(String, String)> = credentials(text)
            .into_iter()
            .map(|c| (c.section, c.key))
            .collect();
        assert_eq!(
            found,
            vec![
                ("1001-auth".to_owned(), "md5_cred".to_owned()),
                ("admin".to_owned(), "secret".to_owned())
            ]
        );
        let changed = credentials("[admin]\nsecret=three\n");
        assert!(credentials(text).is_disjoint(&changed));
    }

    #[test]
    fn secret_lines_keep_their_key_and_lose_their_value() {
        let text = "[admin]\nsecret=Vd8kQ2mZr5Tn7Lw3\n; secret=in a comment stays\n\
                    read=system\nmd5_cred = 0123abcd\r\nPassword=>x;y\nsecret";
        let shown = redact_secrets(text);
        assert_eq!(
            shown,
            "[admin]\nsecret=(hidden)\n; secret=in a comment stays\nread=system\n\
             md5_cred =(hidden)\r\nPassword=>(hidden)\nsecret"
        );
        assert!(!shown.contains("Vd8k") && !shown.contains("0123abcd"));
    }

    #[test]
    fn other_text_is_untouched() {
        let text = "[1001]\ntype=endpoint\nauth=1001-auth\nsecretary=not a key we hide\n";
        assert_eq!(redact_secrets(text), text);
    }
}
