//! chan_sip (`sip.conf`): a peer with `host=dynamic` is a phone, one with an address is a
//! provider, and `register =>` lines in `[general]` are its registration. chan_sip is gone
//! since Asterisk 21, so everything is rendered as PJSIP from here on.

use std::collections::BTreeSet;

use super::{ImportPlan, Phone, Provider, Reader, acl, codecs, host_port, policy_sections, unread};
use crate::asterisk::{AdoptedSecret, Codec, NewRegistration, Transport};
use crate::audit::tree::{Object, Origin};

fn value<'a>(o: &'a Object, key: &str) -> Option<&'a str> {
    o.get(key).map(|(v, _)| v.trim()).filter(|v| !v.is_empty())
}

/// One `register =>` line.
#[derive(Debug, PartialEq, Eq)]
struct Register {
    peer: Option<String>,
    user: String,
    secret: Option<String>,
    auth_user: Option<String>,
    host: String,
    contact: Option<String>,
    expiry: Option<u32>,
}

/// `[peer?][transport://]user[@domain][:secret[:authuser]]@host[:port][/contact][~expiry]`.
fn register_line(line: &str) -> Option<Register> {
    let mut rest = line.trim();
    let mut peer = None;
    if let Some((p, r)) = rest.split_once('?') {
        peer = Some(p.trim().to_owned());
        rest = r;
    }
    if let Some((_, r)) = rest.split_once("://") {
        rest = r;
    }
    let mut expiry = None;
    if let Some((r, e)) = rest.rsplit_once('~') {
        expiry = e.trim().parse().ok();
        rest = r;
    }
    let (creds, target) = rest.rsplit_once('@')?;
    let (hostport, contact) = match target.split_once('/') {
        Some((h, c)) => (h, Some(c.trim().to_owned()).filter(|c| !c.is_empty())),
        None => (target, None),
    };
    let (host, _) = host_port(hostport)?;
    let mut parts = creds.splitn(3, ':');
    let user = parts.next()?.split('@').next()?.trim().to_owned();
    if user.is_empty() {
        return None;
    }
    Some(Register {
        peer,
        user,
        secret: parts.next().map(str::to_owned),
        auth_user: parts.next().map(str::to_owned),
        host,
        contact,
        expiry,
    })
}

/// The first of a peer's `transport=` list (UDP when it names none or one not rendered).
fn transport(p: &Object, notes: &mut Vec<String>) -> Transport {
    let Some(t) = value(p, "transport") else {
        return Transport::Udp;
    };
    let first = t
        .split(',')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    Transport::parse(&first).unwrap_or_else(|_| {
        notes.push(format!(
            "transport {first} is not one sipwarden renders; it uses UDP"
        ));
        Transport::Udp
    })
}

/// A peer's codecs: `[general]`'s `allow`/`disallow` lines, then its own.
fn peer_codecs(general: &[(String, String)], p: &Object, notes: &mut Vec<String>) -> Vec<Codec> {
    codecs(
        general
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(p.entries.iter().map(|(k, v, _)| (k.as_str(), v.as_str()))),
        notes,
    )
}

/// The options of a peer the import reads; the others are listed as not carried over.
const PEER_READ: &[&str] = &[
    "type",
    "host",
    "port",
    "secret",
    "md5secret",
    "context",
    "callerid",
    "permit",
    "deny",
    "allow",
    "disallow",
    "call-limit",
    "transport",
];

pub(super) fn import(objects: &[Object], reader: &mut Reader<'_>, plan: &mut ImportPlan) {
    policy_sections(
        objects
            .iter()
            .filter(|o| o.name.eq_ignore_ascii_case("general")),
        plan,
    );
    let general = objects
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case("general"));
    let general_value = |key: &str| general.and_then(|g| value(g, key));
    let default_context = general_value("context").unwrap_or("default").to_owned();
    let realm = general_value("realm").unwrap_or("asterisk").to_owned();
    let general_codecs: Vec<(String, String)> = general
        .map(|g| {
            g.entries
                .iter()
                .filter(|(k, _, _)| k == "allow" || k == "disallow")
                .map(|(k, v, _)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let mut registers: Vec<(Register, Origin, bool)> = Vec::new();
    for (key, line, origin) in general.map(|g| g.entries.as_slice()).unwrap_or_default() {
        if key != "register" {
            continue;
        }
        match register_line(line) {
            Some(r) => registers.push((r, origin.clone(), false)),
            None => plan.skip(
                origin,
                "registration",
                "register",
                "this register line cannot be read",
            ),
        }
    }
    let peers: Vec<&Object> = objects
        .iter()
        .filter(|o| !o.name.eq_ignore_ascii_case("general"))
        .collect();
    let is_provider =
        |o: &Object| value(o, "host").is_some_and(|h| !h.eq_ignore_ascii_case("dynamic"));
    let trunk_names: BTreeSet<String> = peers
        .iter()
        .filter(|o| is_provider(o))
        .map(|o| o.name.clone())
        .collect();
    let is_trunk = |n: &str| trunk_names.contains(n);

    for p in peers.iter().filter(|o| !is_provider(o)) {
        let mut notes = Vec::new();
        unread(p, PEER_READ, &mut notes);
        let secret = match (value(p, "secret"), value(p, "md5secret")) {
            (Some(plain), _) => Some(AdoptedSecret::Plain(plain.to_owned())),
            (None, Some(ha1)) => Some(AdoptedSecret::Digest {
                realm: realm.clone(),
                ha1: ha1.to_owned(),
            }),
            (None, None) => None,
        };
        let (permit, deny) = acl(p, &mut notes);
        let codecs = peer_codecs(&general_codecs, p, &mut notes);
        let transport = transport(p, &mut notes);
        let context = value(p, "context").unwrap_or(&default_context).to_owned();
        let phone = Phone {
            name: p.name.clone(),
            origin: p.origin.clone(),
            secret,
            callerid: value(p, "callerid").map(str::to_owned),
            context: Some(context),
            permit,
            deny,
            codecs,
            transport,
            max_calls: value(p, "call-limit").and_then(|c| c.parse().ok()),
            max_contacts: None,
            tech: &["SIP", "PJSIP"],
            notes,
        };
        reader.adopt(phone, &is_trunk, plan);
    }

    let outbound = reader.outbound_trunk(&is_trunk);
    for p in peers.iter().filter(|o| is_provider(o)) {
        let mut notes = Vec::new();
        unread(p, PEER_READ, &mut notes);
        let host = value(p, "host").unwrap_or_default().to_owned();
        let port = value(p, "port").and_then(|v| v.parse().ok());
        let register = registers.iter_mut().find(|(r, _, used)| {
            !used
                && (r.peer.as_deref() == Some(p.name.as_str())
                    || r.host == host
                    || r.host == p.name)
        });
        let registration = match register {
            Some((r, origin, used)) => {
                *used = true;
                match &r.secret {
                    Some(secret) => Some(NewRegistration {
                        username: r.user.clone(),
                        secret: Some(secret.clone()),
                        auth_username: r.auth_user.clone().filter(|a| *a != r.user),
                        contact_user: r.contact.clone(),
                        expiration: r.expiry.unwrap_or(NewRegistration::default().expiration),
                        outbound_auth: true,
                        ..NewRegistration::default()
                    }),
                    None => {
                        plan.skip(
                            origin,
                            "registration",
                            &p.name,
                            "the register line holds no password",
                        );
                        None
                    }
                }
            }
            None => {
                if value(p, "secret").is_some() {
                    notes.push(
                        "its secret (outbound authentication without a registration) was not \
                         carried over: add a registration to the trunk if the provider wants one"
                            .to_owned(),
                    );
                }
                None
            }
        };
        let codecs = peer_codecs(&general_codecs, p, &mut notes);
        let transport = transport(p, &mut notes);
        let provider = Provider {
            name: p.name.clone(),
            origin: p.origin.clone(),
            sources: vec![host.clone()],
            host,
            port,
            transport,
            codecs,
            context: Some(value(p, "context").unwrap_or(&default_context).to_owned()),
            registration,
            notes,
        };
        let is_outbound = outbound.as_deref() == Some(p.name.as_str());
        reader.add_trunk(provider, is_outbound, plan);
    }
    for (r, origin, used) in &registers {
        if !used {
            plan.skip(
                origin,
                "registration",
                &r.host,
                "names no provider peer found in sip.conf",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_lines_in_every_form() {
        let r = register_line("tcp://4412345:s3cret:authme@sip.example.net:5070/9000~600").unwrap();
        assert_eq!(r.user, "4412345");
        assert_eq!(r.secret.as_deref(), Some("s3cret"));
        assert_eq!(r.auth_user.as_deref(), Some("authme"));
        assert_eq!(r.host, "sip.example.net");
        assert_eq!(r.contact.as_deref(), Some("9000"));
        assert_eq!(r.expiry, Some(600));
        let r = register_line("provider?user@example.com:pw@192.0.2.10").unwrap();
        assert_eq!(r.peer.as_deref(), Some("provider"));
        assert_eq!((r.user.as_str(), r.host.as_str()), ("user", "192.0.2.10"));
        assert_eq!(r.secret.as_deref(), Some("pw"));
        assert!(register_line("nohost").is_none());
    }
}
