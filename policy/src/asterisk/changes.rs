//! What an apply changes, in the objects an administrator manages rather than in lines:
//! "+1 endpoint, −1 trunk, 2 AMI users changed". Read from the rendered files themselves
//! (old and new), so it says what Asterisk will see, including a rotated secret (its
//! object's lines change although the preview hides their values).

use std::collections::BTreeMap;
use std::fmt;

use super::parse::{ConfigDoc, Section, parse_config};

/// Added, removed and changed objects of one kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
}

impl Delta {
    fn between(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Self {
        Self {
            added: new.keys().filter(|k| !old.contains_key(*k)).count(),
            removed: old.keys().filter(|k| !new.contains_key(*k)).count(),
            changed: new
                .iter()
                .filter(|(k, body)| old.get(*k).is_some_and(|o| o != *body))
                .count(),
        }
    }

    fn is_empty(self) -> bool {
        self.added == 0 && self.removed == 0 && self.changed == 0
    }
}

/// The objects an apply adds, removes or changes, and how many files it touches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChangeSummary {
    pub endpoints: Delta,
    pub trunks: Delta,
    pub ami_users: Delta,
    pub files_changed: usize,
}

/// The objects of one side (old or new) by kind, each with its lines.
#[derive(Default)]
struct Objects {
    endpoints: BTreeMap<String, String>,
    trunks: BTreeMap<String, String>,
    ami_users: BTreeMap<String, String>,
}

fn body(sections: &[&Section]) -> String {
    let mut text = String::new();
    for s in sections {
        for e in &s.entries {
            text.push_str(&e.key);
            text.push('=');
            text.push_str(&e.value);
            text.push('\n');
        }
    }
    text
}

fn doc(contents: Option<&str>) -> ConfigDoc {
    // A file sipwarden did not write (or none) may not parse: it then has no objects of
    // ours, which is what an apply over it would add.
    contents
        .and_then(|c| parse_config(c).ok())
        .unwrap_or_default()
}

/// The dialplan context of a trunk's DIDs (see the dialplan renderer).
const TRUNK_CONTEXT: &str = "sw-trunk-";

impl Objects {
    fn read(pjsip: Option<&str>, manager: Option<&str>, dialplan: Option<&str>) -> Self {
        let mut objects = Objects::default();
        let pjsip = doc(pjsip);
        let mut by_name: BTreeMap<&str, Vec<&Section>> = BTreeMap::new();
        for s in pjsip.sections.iter().filter(|s| !s.template) {
            by_name.entry(s.name.as_str()).or_default().push(s);
        }
        for (name, sections) in by_name {
            let endpoint = sections
                .iter()
                .find(|s| s.value("type") == Some("endpoint"));
            let Some(endpoint) = endpoint else { continue };
            // A phone authenticates by user name; a trunk is identified by its address.
            let map = if endpoint.value("identify_by") == Some("ip") {
                &mut objects.trunks
            } else {
                &mut objects.endpoints
            };
            map.insert(name.to_owned(), body(&sections));
        }
        // A trunk's DIDs are its inbound context: a changed DID changes the trunk.
        for s in doc(dialplan).sections.iter().filter(|s| !s.template) {
            if let Some(trunk) = s.name.strip_prefix(TRUNK_CONTEXT) {
                objects
                    .trunks
                    .entry(trunk.to_owned())
                    .or_default()
                    .push_str(&body(&[s]));
            }
        }
        for s in doc(manager).sections.iter().filter(|s| !s.template) {
            if s.name != "general" {
                objects.ami_users.insert(s.name.clone(), body(&[s]));
            }
        }
        objects
    }
}

/// Compares what is live (`old`, by file name; a missing file is `None`) with what an apply
/// would write (`new`). `changed_files` counts files whose bodies differ.
#[must_use]
pub fn summarise<'a>(
    old: impl Fn(&str) -> Option<&'a str>,
    new: &[(&str, &str)],
    changed_files: usize,
) -> ChangeSummary {
    let find = |name: &str| new.iter().find(|(n, _)| *n == name).map(|(_, c)| *c);
    let before = Objects::read(
        old("pjsip.conf"),
        old("manager.conf"),
        old("extensions.conf"),
    );
    let after = Objects::read(
        find("pjsip.conf"),
        find("manager.conf"),
        find("extensions.conf"),
    );
    ChangeSummary {
        endpoints: Delta::between(&before.endpoints, &after.endpoints),
        trunks: Delta::between(&before.trunks, &after.trunks),
        ami_users: Delta::between(&before.ami_users, &after.ami_users),
        files_changed: changed_files,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

impl fmt::Display for ChangeSummary {
    /// "+1 endpoint, −1 trunk, 2 AMI users changed; 3 files", or "nothing changes".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (delta, one, many) in [
            (self.endpoints, "endpoint", "endpoints"),
            (self.trunks, "trunk", "trunks"),
            (self.ami_users, "AMI user", "AMI users"),
        ] {
            if delta.is_empty() {
                continue;
            }
            if delta.added > 0 {
                parts.push(format!("+{}", plural(delta.added, one, many)));
            }
            if delta.removed > 0 {
                parts.push(format!("\u{2212}{}", plural(delta.removed, one, many)));
            }
            if delta.changed > 0 {
                parts.push(format!("{} changed", plural(delta.changed, one, many)));
            }
        }
        if self.files_changed == 0 {
            return f.write_str("nothing changes");
        }
        let files = plural(self.files_changed, "file", "files");
        if parts.is_empty() {
            write!(f, "{files} (settings only)")
        } else {
            write!(f, "{}; {files}", parts.join(", "))
        }
    }
}

/// The outbound registrations an apply must restart itself: those that exist before and
/// after, unchanged, while the auth they name changed (a replaced password or auth username).
///
/// Why: Asterisk keeps a registration whose own section did not change across a reload and
/// looks its auth up only at the next refresh (`can_reuse_registration` in
/// `res_pjsip_outbound_registration.c`), so a replaced password would go unnoticed for up to
/// `expiration` seconds. A registration whose section changed is restarted by Asterisk.
#[must_use]
pub fn registrations_to_restart(old_pjsip: Option<&str>, new_pjsip: &str) -> Vec<String> {
    let (old, new) = (doc(old_pjsip), doc(Some(new_pjsip)));
    let find = |d: &'_ ConfigDoc, name: &str, kind: &str| -> Option<String> {
        let found: Vec<&Section> = d
            .sections
            .iter()
            .filter(|s| !s.template && s.name == name && s.value("type") == Some(kind))
            .collect();
        (!found.is_empty()).then(|| body(&found))
    };
    let mut out = Vec::new();
    for reg in new
        .sections
        .iter()
        .filter(|s| !s.template && s.value("type") == Some("registration"))
    {
        let name = reg.name.as_str();
        if find(&old, name, "registration") != find(&new, name, "registration") {
            continue;
        }
        let auth_changed = reg
            .values("outbound_auth")
            .any(|auth| find(&old, auth, "auth") != find(&new, auth, "auth"));
        if auth_changed && !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD_PJSIP: &str = "[global]\ntype=global\n\
        [e1]\ntype=endpoint\nauth=e1\n[e1]\ntype=auth\nmd5_cred=aaa\n\
        [e2]\ntype=endpoint\nauth=e2\n[e2]\ntype=auth\nmd5_cred=bbb\n\
        [carrier]\ntype=endpoint\nidentify_by=ip\n[carrier]\ntype=identify\nmatch=192.0.2.1\n";
    const NEW_PJSIP: &str = "[global]\ntype=global\n\
        [e1]\ntype=endpoint\nauth=e1\n[e1]\ntype=auth\nmd5_cred=ccc\n\
        [e3]\ntype=endpoint\nauth=e3\n[e3]\ntype=auth\nmd5_cred=ddd\n\
        [e4]\ntype=endpoint\nauth=e4\n";
    const OLD_MANAGER: &str = "[general]\nenabled=yes\n[ops]\nsecret=x\n";
    const NEW_MANAGER: &str = "[general]\nenabled=yes\n[ops]\nsecret=x\n[report]\nsecret=y\n";

    #[test]
    fn counts_objects_added_removed_and_changed_by_kind() {
        let old = |name: &str| match name {
            "pjsip.conf" => Some(OLD_PJSIP),
            "manager.conf" => Some(OLD_MANAGER),
            _ => None,
        };
        let summary = summarise(
            old,
            &[("pjsip.conf", NEW_PJSIP), ("manager.conf", NEW_MANAGER)],
            2,
        );
        assert_eq!(
            summary.endpoints,
            Delta {
                added: 2,
                removed: 1,
                changed: 1
            }
        );
        assert_eq!(
            summary.trunks,
            Delta {
                added: 0,
                removed: 1,
                changed: 0
            }
        );
        assert_eq!(summary.ami_users.added, 1);
        assert_eq!(
            summary.to_string(),
            "+2 endpoints, \u{2212}1 endpoint, 1 endpoint changed, \u{2212}1 trunk, +1 AMI user; 2 files"
        );
    }

    #[test]
    fn a_trunk_whose_dids_change_is_a_changed_trunk() {
        let pjsip = "[carrier]\ntype=endpoint\nidentify_by=ip\n";
        let old_dialplan = "[sw-trunk-carrier]\nexten => 4930123456,1,Goto(internal,1001,1)\n";
        let new_dialplan = "[sw-trunk-carrier]\nexten => 4930999999,1,Goto(internal,1001,1)\n";
        let old = |name: &str| match name {
            "pjsip.conf" => Some(pjsip),
            "extensions.conf" => Some(old_dialplan),
            _ => None,
        };
        let summary = summarise(
            old,
            &[("pjsip.conf", pjsip), ("extensions.conf", new_dialplan)],
            1,
        );
        assert_eq!(summary.trunks.changed, 1, "{summary:?}");
        assert_eq!(summary.to_string(), "1 trunk changed; 1 file");
    }

    #[test]
    fn a_first_apply_adds_everything_and_unparseable_files_count_as_empty() {
        let summary = summarise(|_| Some("[broken"), &[("pjsip.conf", NEW_PJSIP)], 1);
        assert_eq!(summary.endpoints.added, 3);
        assert_eq!(summary.to_string(), "+3 endpoints; 1 file");
        let live = |name: &str| (name == "pjsip.conf").then_some(NEW_PJSIP);
        let same = summarise(live, &[("pjsip.conf", NEW_PJSIP)], 0);
        assert_eq!(same.to_string(), "nothing changes");
        let settings = summarise(live, &[("pjsip.conf", NEW_PJSIP)], 1);
        assert_eq!(settings.to_string(), "1 file (settings only)");
    }

    #[test]
    fn only_registrations_whose_auth_alone_changed_are_restarted() {
        let reg = "[carrier]\ntype=registration\noutbound_auth=carrier\nserver_uri=sip:192.0.2.1\n";
        let auth = |p: &str| format!("[carrier]\ntype=auth\nusername=u\npassword={p}\n");
        let old = format!("{reg}{}", auth("one"));
        assert_eq!(
            registrations_to_restart(Some(&old), &format!("{reg}{}", auth("two"))),
            vec!["carrier".to_owned()]
        );
        assert!(registrations_to_restart(Some(&old), &old).is_empty());
        // A new registration, or one whose own lines changed: Asterisk starts it itself.
        assert!(registrations_to_restart(None, &format!("{reg}{}", auth("two"))).is_empty());
        let moved = reg.replace("192.0.2.1", "192.0.2.2");
        assert!(
            registrations_to_restart(Some(&old), &format!("{moved}{}", auth("two"))).is_empty()
        );
    }
}
