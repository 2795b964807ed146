//! After a reload: does Asterisk hold exactly the objects the rendered files describe?
//!
//! `Reload` answering `Module Reloaded` proves nothing (res_pjsip reports success even when
//! it rejected objects, reference §6.2), so the expected names are read back from the
//! rendered files with the config parser and compared with what Asterisk lists over AMI.

use std::collections::BTreeSet;

use policy::asterisk::parse_config;

use super::ami::{AmiClient, AmiError};

/// The names one kind of object should have, from the rendered files.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Expected {
    pub endpoints: BTreeSet<String>,
    pub auths: BTreeSet<String>,
    pub aors: BTreeSet<String>,
    pub contexts: BTreeSet<String>,
    pub manager_users: BTreeSet<String>,
}

impl Expected {
    /// Reads the expectations out of a pjsip bundle (`pjsip.conf`, `extensions.conf`,
    /// `manager.conf`).
    pub fn from_files(files: &[(&str, &str)]) -> Result<Self, String> {
        let mut out = Expected::default();
        let find = |name: &str| {
            files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, c)| *c)
                .ok_or_else(|| format!("the bundle has no {name}"))
        };
        let pjsip = parse_config(find("pjsip.conf")?).map_err(|e| format!("pjsip.conf: {e}"))?;
        for section in pjsip.sections.iter().filter(|s| !s.template) {
            let set = match section.value("type") {
                Some("endpoint") => &mut out.endpoints,
                Some("auth") => &mut out.auths,
                Some("aor") => &mut out.aors,
                _ => continue,
            };
            set.insert(section.name.clone());
        }
        let dialplan =
            parse_config(find("extensions.conf")?).map_err(|e| format!("extensions.conf: {e}"))?;
        // A context without a single line (e.g. `sw-dial-national` while there is no
        // outbound trunk) exists in Asterisk but `ShowDialPlan` never lists it: expecting it
        // would fail every apply of a PBX without a trunk.
        out.contexts = dialplan
            .sections
            .iter()
            .filter(|s| !s.template && s.name != "general" && s.name != "globals")
            .filter(|s| !s.entries.is_empty())
            .map(|s| s.name.clone())
            .collect();
        let manager =
            parse_config(find("manager.conf")?).map_err(|e| format!("manager.conf: {e}"))?;
        out.manager_users = manager
            .sections
            .iter()
            .filter(|s| !s.template && s.name != "general")
            .map(|s| s.name.to_ascii_lowercase())
            .collect();
        Ok(out)
    }
}

/// The result of one comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub what: &'static str,
    pub ok: bool,
    pub detail: String,
}

fn compare(what: &'static str, want: &BTreeSet<String>, have: &BTreeSet<String>) -> Check {
    let missing: Vec<&str> = want.difference(have).map(String::as_str).collect();
    let extra: Vec<&str> = have.difference(want).map(String::as_str).collect();
    let ok = missing.is_empty() && extra.is_empty();
    let mut detail = format!("{what}: {} loaded, {} rendered", have.len(), want.len());
    if !missing.is_empty() {
        detail.push_str(&format!("; missing in Asterisk: {}", list(&missing)));
    }
    if !extra.is_empty() {
        detail.push_str(&format!("; in Asterisk but not rendered: {}", list(&extra)));
    }
    Check { what, ok, detail }
}

/// At most ten names, then a count.
fn list(names: &[&str]) -> String {
    let mut shown = names
        .iter()
        .take(10)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > 10 {
        shown.push_str(&format!(" and {} more", names.len() - 10));
    }
    shown
}

fn object_names(events: &[super::ami::Message]) -> BTreeSet<String> {
    events
        .iter()
        .filter_map(|e| e.get("ObjectName"))
        .map(str::to_owned)
        .collect()
}

/// Compares what Asterisk has loaded with `expected`, one check per kind of object.
pub async fn verify(ami: &mut AmiClient, expected: &Expected) -> Result<Vec<Check>, AmiError> {
    let endpoints = object_names(&ami.list("PJSIPShowEndpoints", &[]).await?);
    let auths = object_names(&ami.list("PJSIPShowAuths", &[]).await?);
    let aors = object_names(&ami.list("PJSIPShowAors", &[]).await?);
    // Only the contexts this bundle defines: modules add their own (e.g. `parkedcalls`).
    let contexts: BTreeSet<String> = ami
        .list("ShowDialPlan", &[])
        .await?
        .iter()
        .filter_map(|e| e.get("Context"))
        .filter(|c| expected.contexts.contains(*c))
        .map(str::to_owned)
        .collect();
    let users = manager_users(&ami.command("manager show users").await?);
    Ok(vec![
        compare("endpoints", &expected.endpoints, &endpoints),
        compare("auths", &expected.auths, &auths),
        compare("AORs", &expected.aors, &aors),
        compare("dialplan contexts", &expected.contexts, &contexts),
        compare("manager users", &expected.manager_users, &users),
    ])
}

/// User names from `manager show users`: the lines between the `--------` rule under the
/// `username` heading and the closing rule.
fn manager_users(output: &[String]) -> BTreeSet<String> {
    output
        .iter()
        .map(|l| l.trim())
        .skip_while(|l| !l.starts_with("---"))
        .skip(1)
        .take_while(|l| !l.starts_with("---"))
        .filter(|l| !l.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manager_users_are_read_between_the_rules() {
        let out: Vec<String> = [
            "",
            "    username",
            "    --------",
            "    sipwarden-apply",
            "    Ops",
            "-------------------",
            "2 manager users configured.",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let users = manager_users(&out);
        assert_eq!(
            users.into_iter().collect::<Vec<_>>(),
            vec!["ops".to_owned(), "sipwarden-apply".to_owned()]
        );
    }

    #[test]
    fn an_empty_context_is_not_expected_in_asterisk() {
        let files = [
            ("pjsip.conf", ""),
            (
                "extensions.conf",
                "[general]\nstatic=yes\n\n[sw-dial-national]\n; No outbound trunk: nothing to reach.\n\n[sw-class-internal]\ninclude => sw-dial-local\n",
            ),
            ("manager.conf", ""),
        ];
        let expected = Expected::from_files(&files).unwrap();
        assert_eq!(
            expected.contexts.into_iter().collect::<Vec<_>>(),
            vec!["sw-class-internal".to_owned()]
        );
    }

    #[test]
    fn a_missing_object_is_named() {
        let want: BTreeSet<String> = ["a".to_owned(), "b".to_owned()].into();
        let have: BTreeSet<String> = ["a".to_owned(), "c".to_owned()].into();
        let check = compare("endpoints", &want, &have);
        assert!(!check.ok);
        assert!(
            check.detail.contains("missing in Asterisk: b"),
            "{}",
            check.detail
        );
        assert!(check.detail.contains("not rendered: c"), "{}", check.detail);
    }
}
