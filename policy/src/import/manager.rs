//! `manager.conf` users as AMI users. A secret too weak for sipwarden's rule is replaced by a
//! generated one (shown once), and root-equivalent classes are not granted without the
//! administrator's consent on the AMI page: both are what leaves AMI open today (step 4).

use rand::Rng;

use super::{ImportPlan, Imported, ImportedAmiUser, acl, object_name, policy_sections, unread};
use crate::asterisk::{AmiClass, AmiSecret, AmiUser, GlobalPolicy, NewAmiUser, SecretContext};
use crate::audit::tree::Object;

/// The options of a user the import reads; the others are listed as not carried over.
const USER_READ: &[&str] = &["secret", "read", "write", "permit", "deny", "acl"];

pub(super) fn import<R: Rng + ?Sized>(
    objects: &[Object],
    policy: &GlobalPolicy,
    rng: &mut R,
    plan: &mut ImportPlan,
) {
    let own = [
        policy.guard().name().as_str(),
        policy.apply_account().name().as_str(),
    ];
    policy_sections(
        objects
            .iter()
            .filter(|o| o.name.eq_ignore_ascii_case("general")),
        plan,
    );
    for o in objects
        .iter()
        .filter(|o| !o.name.eq_ignore_ascii_case("general"))
    {
        let mut notes = Vec::new();
        unread(o, USER_READ, &mut notes);
        let Some(name) = object_name(&o.name, &mut notes) else {
            plan.skip(
                &o.origin,
                "ami_user",
                &o.name,
                "no valid name can be made from its name",
            );
            continue;
        };
        if plan
            .ami_users
            .iter()
            .any(|u| u.object.user.name().as_str() == name)
        {
            plan.skip(
                &o.origin,
                "ami_user",
                &o.name,
                format!("a user named {name} was imported already (AMI names ignore case)"),
            );
            continue;
        }
        if own.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            plan.skip(
                &o.origin,
                "ami_user",
                &o.name,
                "has the name of one of sipwarden's own AMI accounts, which sipwarden renders itself",
            );
            continue;
        }
        let checked = o.get("secret").map(|(v, _)| {
            let context = SecretContext {
                username: Some(&name),
                ..SecretContext::default()
            };
            AmiSecret::typed(v.trim(), &context).map(|_| v.trim().to_owned())
        });
        let kept = match checked {
            Some(Ok(secret)) => Some(secret),
            Some(Err(why)) => {
                notes.push(format!(
                    "its secret cannot be kept ({}): a generated one replaces it, shown once; \
                     give it to the program that logs in as this user",
                    why.rule()
                ));
                None
            }
            None => {
                notes.push("had no secret: a generated one is shown once".to_owned());
                None
            }
        };
        let read = classes(o, "read", &mut notes);
        let write = classes(o, "write", &mut notes);
        let (mut permit, deny) = acl(o, &mut notes);
        if permit.is_empty() {
            notes.push("had no ACL; it may log in from 127.0.0.1 only".to_owned());
            permit = NewAmiUser::default().permit;
        }
        let new = NewAmiUser {
            name,
            secret: kept.clone(),
            permit,
            deny,
            read,
            write,
            allow_dangerous: false,
        };
        match AmiUser::create(new, rng) {
            Ok((user, plain)) => plan.ami_users.push(Imported {
                object: ImportedAmiUser {
                    user,
                    new_secret: kept.is_none().then_some(plain),
                },
                origin: o.origin.clone(),
                notes,
            }),
            Err(e) => plan.skip(&o.origin, "ami_user", &o.name, e.to_string()),
        }
    }
}

/// The classes of a `read=`/`write=` list sipwarden grants on import: known, and not
/// root-equivalent.
fn classes(o: &Object, key: &str, notes: &mut Vec<String>) -> Vec<AmiClass> {
    let mut granted = Vec::new();
    let mut dropped = Vec::new();
    for value in o.all(key) {
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match AmiClass::parse(&name.to_ascii_lowercase()) {
                Ok(c) if c.is_dangerous() => {
                    if !dropped.contains(&name.to_owned()) {
                        dropped.push(name.to_owned());
                    }
                }
                Ok(c) => {
                    if !granted.contains(&c) {
                        granted.push(c);
                    }
                }
                Err(_) => notes.push(format!("{key} class '{name}' is unknown and was dropped")),
            }
        }
    }
    if !dropped.is_empty() {
        notes.push(format!(
            "{key} classes not granted (root-equivalent; grant them on the AMI page if this \
             user needs them): {}",
            dropped.join(", ")
        ));
    }
    granted
}
