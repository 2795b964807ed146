//! PJSIP (`pjsip.conf`, FreePBX's `pjsip.*.conf` included): an endpoint with inbound `auth`
//! and no `identify` is a phone; one matched by address (`identify`) or without inbound auth
//! is a provider, with the `registration` that points at it.

use std::collections::{BTreeMap, BTreeSet};

use super::{ImportPlan, Phone, Provider, Reader, acl, codecs, policy_sections, sip_uri, unread};
use crate::asterisk::{AdoptedSecret, NewRegistration, Transport};
use crate::audit::tree::Object;

fn kind(o: &Object) -> String {
    o.get("type")
        .map(|(v, _)| v.to_ascii_lowercase())
        .unwrap_or_default()
}

fn value<'a>(o: &'a Object, key: &str) -> Option<&'a str> {
    o.get(key).map(|(v, _)| v.trim()).filter(|v| !v.is_empty())
}

/// The first name of a comma-separated list (`aors=1001,1001-b`).
fn first(list: &str) -> &str {
    list.split(',').next().unwrap_or_default().trim()
}

/// The options of each section type the import reads; the others are listed as not
/// carried over.
const ENDPOINT_READ: &[&str] = &[
    "type",
    "context",
    "callerid",
    "transport",
    "disallow",
    "allow",
    "auth",
    "aors",
    "permit",
    "deny",
    "acl",
    "contact_acl",
    "outbound_auth",
    "identify_by",
];
const AUTH_READ: &[&str] = &[
    "type",
    "auth_type",
    "username",
    "password",
    "md5_cred",
    "realm",
];
const AOR_READ: &[&str] = &["type", "max_contacts", "contact"];
/// Section types whose settings the policy decides.
const POLICY_TYPES: &[&str] = &["global", "system", "transport"];

pub(super) fn import(objects: &[Object], reader: &mut Reader<'_>, plan: &mut ImportPlan) {
    policy_sections(
        objects
            .iter()
            .filter(|o| POLICY_TYPES.contains(&kind(o).as_str())),
        plan,
    );
    let find = |t: &str, name: &str| objects.iter().find(|o| o.name == name && kind(o) == t);
    let endpoints: Vec<&Object> = objects.iter().filter(|o| kind(o) == "endpoint").collect();
    let mut matched: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for identify in objects.iter().filter(|o| kind(o) == "identify") {
        if let Some(endpoint) = value(identify, "endpoint") {
            let sources = matched.entry(endpoint).or_default();
            for m in identify.all("match") {
                sources.extend(
                    m.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty()),
                );
            }
        }
    }
    let trunk_names: BTreeSet<String> = endpoints
        .iter()
        .filter(|e| matched.contains_key(e.name.as_str()) || value(e, "auth").is_none())
        .map(|e| e.name.clone())
        .collect();
    let is_trunk = |n: &str| trunk_names.contains(n);

    for e in endpoints.iter().filter(|e| !is_trunk(&e.name)) {
        let mut notes = Vec::new();
        let auth_name = first(value(e, "auth").unwrap_or_default());
        let Some(auth) = find("auth", auth_name) else {
            plan.skip(
                &e.origin,
                "endpoint",
                &e.name,
                format!("its auth section [{auth_name}] is not in the configuration"),
            );
            continue;
        };
        unread(e, ENDPOINT_READ, &mut notes);
        unread(auth, AUTH_READ, &mut notes);
        let username = value(auth, "username").unwrap_or(&e.name);
        let renamed = username != e.name;
        if renamed {
            notes.push(format!(
                "its phone authenticated as '{username}'; it must now authenticate as '{}' \
                 (sipwarden's auth name is the endpoint's name)",
                e.name
            ));
        }
        let secret = match value(auth, "auth_type")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("md5") if renamed => None,
            Some("md5") => value(auth, "md5_cred").map(|ha1| AdoptedSecret::Digest {
                realm: value(auth, "realm").unwrap_or("asterisk").to_owned(),
                ha1: ha1.to_owned(),
            }),
            None | Some("userpass") => {
                value(auth, "password").map(|p| AdoptedSecret::Plain(p.to_owned()))
            }
            Some(other) => {
                notes.push(format!("auth_type={other} is not read"));
                None
            }
        };
        let mut max_contacts = None;
        if let Some(aor_name) = value(e, "aors").map(first) {
            if aor_name != e.name {
                notes.push(format!(
                    "its phone registered to '{aor_name}'; it must now register as '{}'",
                    e.name
                ));
            }
            let aor = find("aor", aor_name);
            if let Some(aor) = aor {
                unread(aor, AOR_READ, &mut notes);
            }
            max_contacts = aor
                .and_then(|a| value(a, "max_contacts"))
                .and_then(|m| m.parse().ok());
        }
        let transport = transport(objects, e, &mut notes);
        let (permit, deny) = acl(e, &mut notes);
        let codecs = codecs(
            e.entries.iter().map(|(k, v, _)| (k.as_str(), v.as_str())),
            &mut notes,
        );
        let phone = Phone {
            name: e.name.clone(),
            origin: e.origin.clone(),
            secret,
            callerid: value(e, "callerid").map(str::to_owned),
            context: value(e, "context").map(str::to_owned),
            permit,
            deny,
            codecs,
            transport,
            max_calls: None,
            max_contacts,
            tech: &["PJSIP"],
            notes,
        };
        reader.adopt(phone, &is_trunk, plan);
    }

    let outbound = reader.outbound_trunk(&is_trunk);
    let registrations: Vec<&Object> = objects
        .iter()
        .filter(|o| kind(o) == "registration")
        .collect();
    let mut used_registrations = BTreeSet::new();
    for e in endpoints.iter().filter(|e| is_trunk(&e.name)) {
        let mut notes = Vec::new();
        let contact = value(e, "aors")
            .map(first)
            .and_then(|a| find("aor", a))
            .and_then(|a| value(a, "contact"))
            .and_then(sip_uri);
        unread(e, ENDPOINT_READ, &mut notes);
        let sources = matched.get(e.name.as_str()).cloned().unwrap_or_default();
        let registration = registrations.iter().find(|r| {
            value(r, "endpoint") == Some(e.name.as_str())
                || (value(r, "outbound_auth").is_some()
                    && value(r, "outbound_auth") == value(e, "outbound_auth"))
                || contact.as_ref().is_some_and(|(_, host, _)| {
                    value(r, "server_uri")
                        .and_then(sip_uri)
                        .is_some_and(|(_, h, _)| &h == host)
                })
        });
        let server = registration
            .and_then(|r| value(r, "server_uri"))
            .and_then(sip_uri);
        let (host, port) = match (&contact, &server) {
            (Some((_, h, p)), _) | (None, Some((_, h, p))) => (h.clone(), *p),
            (None, None) => match sources.first() {
                Some(s) => (s.split('/').next().unwrap_or_default().to_owned(), None),
                None => {
                    plan.skip(
                        &e.origin,
                        "trunk",
                        &e.name,
                        "neither an inbound auth nor a provider address (aor contact, identify \
                         match or registration): not a phone and not a trunk",
                    );
                    continue;
                }
            },
        };
        let registration = registration.and_then(|r| {
            used_registrations.insert(r.name.clone());
            registration_of(objects, r, value(e, "outbound_auth").is_some(), plan)
        });
        let transport = transport(objects, e, &mut notes);
        let codecs = codecs(
            e.entries.iter().map(|(k, v, _)| (k.as_str(), v.as_str())),
            &mut notes,
        );
        let provider = Provider {
            name: e.name.clone(),
            origin: e.origin.clone(),
            host,
            port,
            sources,
            transport,
            codecs,
            context: value(e, "context").map(str::to_owned),
            registration,
            notes,
        };
        let is_outbound = outbound.as_deref() == Some(e.name.as_str());
        reader.add_trunk(provider, is_outbound, plan);
    }
    for r in registrations {
        if !used_registrations.contains(&r.name) {
            plan.skip(
                &r.origin,
                "registration",
                &r.name,
                "belongs to no provider endpoint found here",
            );
        }
    }
}

/// A `type=registration` section as sipwarden's registration, the provider's password read
/// from its `outbound_auth` section.
fn registration_of(
    objects: &[Object],
    r: &Object,
    outbound_auth: bool,
    plan: &mut ImportPlan,
) -> Option<NewRegistration> {
    let skip = |plan: &mut ImportPlan, reason: &str| {
        plan.skip(&r.origin, "registration", &r.name, reason.to_owned());
        None
    };
    let Some((Some(username), _, _)) = value(r, "client_uri").and_then(sip_uri) else {
        return skip(plan, "its client_uri names no user");
    };
    let Some(auth) = value(r, "outbound_auth")
        .map(first)
        .and_then(|a| objects.iter().find(|o| o.name == a && kind(o) == "auth"))
    else {
        return skip(
            plan,
            "has no outbound_auth section with the provider's password",
        );
    };
    let Some(secret) = value(auth, "password") else {
        return skip(
            plan,
            "its outbound_auth holds no plain password (sipwarden answers the provider's \
             challenge with it)",
        );
    };
    let auth_username = value(auth, "username").filter(|u| *u != username);
    let number = |key: &str, default: u32| {
        value(r, key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let defaults = NewRegistration::default();
    Some(NewRegistration {
        username: username.clone(),
        secret: Some(secret.to_owned()),
        auth_username: auth_username.map(str::to_owned),
        contact_user: value(r, "contact_user").map(str::to_owned),
        retry_interval: number("retry_interval", defaults.retry_interval),
        forbidden_retry_interval: number(
            "forbidden_retry_interval",
            defaults.forbidden_retry_interval,
        ),
        expiration: number("expiration", defaults.expiration),
        outbound_auth,
    })
}

/// The protocol of an endpoint's `transport=` section (UDP when it names none).
fn transport(objects: &[Object], e: &Object, notes: &mut Vec<String>) -> Transport {
    let Some(name) = value(e, "transport") else {
        return Transport::Udp;
    };
    let protocol = objects
        .iter()
        .find(|o| o.name == name && kind(o) == "transport")
        .and_then(|t| value(t, "protocol"))
        .unwrap_or("udp")
        .to_ascii_lowercase();
    Transport::parse(&protocol).unwrap_or_else(|_| {
        notes.push(format!(
            "transport {name} ({protocol}) is not one sipwarden renders; it uses UDP"
        ));
        Transport::Udp
    })
}
