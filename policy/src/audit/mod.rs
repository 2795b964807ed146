//! The audit of an Asterisk configuration sipwarden did not write (`sipwarden audit DIR`): it
//! reads `pjsip.conf`, `sip.conf`, `manager.conf`, `extensions.conf` and `logger.conf` as
//! Asterisk would ([`tree`]: includes, templates, additions) and reports each weakness the
//! seven hardening steps name, with the file and line to fix, and a score on the posture's
//! scale. A file that cannot be read is an error naming file and line, never a guess.

pub mod tree;

use serde::Serialize;

use crate::posture::Severity;
use tree::{ConfigFiles, Object, Origin, TreeError, load};

/// Secrets this short are guessable by a SIP cracker in hours.
pub const MIN_SECRET_LEN: usize = 12;

/// Secrets seen first in every cracker's dictionary (SIPVicious ships most of them).
const COMMON_SECRETS: &[&str] = &[
    "1234",
    "12345",
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "1234567890",
    "0000",
    "00000",
    "000000",
    "1111",
    "111111",
    "2222",
    "9999",
    "password",
    "password1",
    "pass",
    "secret",
    "secret1",
    "sip",
    "sippass",
    "voip",
    "voip123",
    "asterisk",
    "asterisk1",
    "admin",
    "admin123",
    "test",
    "test123",
    "guest",
    "user",
    "changeme",
    "default",
    "phone",
    "welcome",
    "qwerty",
    "abc123",
    "letmein",
    "1q2w3e",
    "amp111",
    "amp109",
    "freepbx",
];

/// One weakness, where to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule name (`sip.guest_calls`).
    pub rule: &'static str,
    pub severity: Severity,
    /// The hardening step (1 to 7; 0 for the design's extras).
    pub step: u8,
    pub file: String,
    pub line: usize,
    /// The section it concerns (`general` for settings).
    pub object: String,
    pub message: String,
}

/// What the audit found, worst first, and the score (100 minus the findings' weights).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub score: u32,
    /// The files read (those that exist), in the order audited.
    pub files: Vec<String>,
    pub findings: Vec<Finding>,
}

struct Found(Vec<Finding>);

impl Found {
    fn add(
        &mut self,
        rule: &'static str,
        severity: Severity,
        step: u8,
        at: &Origin,
        object: &str,
        message: String,
    ) {
        self.0.push(Finding {
            rule,
            severity,
            step,
            file: at.file.clone(),
            line: at.line,
            object: object.to_owned(),
            message,
        });
    }
}

/// Why a secret is weak, if it is: short, common, the user's own name or number, or digits.
fn weak_secret(secret: &str, names: &[&str]) -> Option<String> {
    let lower = secret.to_ascii_lowercase();
    if COMMON_SECRETS.contains(&lower.as_str()) {
        return Some("is in every cracker's list of common passwords".to_owned());
    }
    if names
        .iter()
        .any(|n| !n.is_empty() && lower.contains(&n.to_ascii_lowercase()))
    {
        return Some("contains the account's own name or number".to_owned());
    }
    if secret.len() < MIN_SECRET_LEN {
        return Some(format!(
            "has {} characters; at least {MIN_SECRET_LEN} random ones resist a cracker",
            secret.chars().count()
        ));
    }
    if secret.chars().all(|c| c.is_ascii_digit()) {
        return Some("is only digits".to_owned());
    }
    None
}

fn is_yes(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "yes" | "true" | "y" | "t" | "1" | "on"
    )
}

/// Audits the configuration in `files`.
pub fn audit(files: &dyn ConfigFiles) -> Result<AuditReport, TreeError> {
    let mut found = Found(Vec::new());
    let mut read = Vec::new();
    let mut seen = |name: &str, objects: &Option<Vec<Object>>| {
        if objects.is_some() {
            read.push(name.to_owned());
        }
    };
    let pjsip = load(files, "pjsip.conf")?;
    seen("pjsip.conf", &pjsip);
    let sip = load(files, "sip.conf")?;
    seen("sip.conf", &sip);
    let manager = load(files, "manager.conf")?;
    seen("manager.conf", &manager);
    let extensions = load(files, "extensions.conf")?;
    seen("extensions.conf", &extensions);
    let logger = load(files, "logger.conf")?;
    seen("logger.conf", &logger);

    if let Some(objects) = &pjsip {
        pjsip_checks(objects, &mut found);
    }
    if let Some(objects) = &sip {
        sip_checks(objects, &mut found);
    }
    if let Some(objects) = &manager {
        manager_checks(objects, &mut found);
    }
    if let Some(objects) = &extensions {
        dialplan_checks(objects, &mut found);
    }
    logger_checks(logger.as_deref(), &mut found);

    let mut findings = found.0;
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.file.cmp(&b.file))
            .then(a.line.cmp(&b.line))
            .then(a.rule.cmp(b.rule))
    });
    let lost: u32 = findings.iter().map(|f| f.severity.weight()).sum();
    Ok(AuditReport {
        score: 100u32.saturating_sub(lost),
        files: read,
        findings,
    })
}

fn names_asterisk(agent: Option<(&str, &Origin)>) -> bool {
    agent.is_none_or(|(v, _)| v.to_ascii_lowercase().contains("asterisk"))
}

fn pjsip_checks(objects: &[Object], found: &mut Found) {
    fn of_type<'a>(objects: &'a [Object], t: &'static str) -> impl Iterator<Item = &'a Object> {
        objects.iter().filter(move |o| {
            o.get("type")
                .is_some_and(|(v, _)| v.eq_ignore_ascii_case(t))
        })
    }
    // Without a global section the default Server header applies ("Asterisk PBX <version>").
    let global = of_type(objects, "global").next();
    if names_asterisk(global.and_then(|g| g.get("user_agent"))) {
        let at = global.map_or_else(
            || Origin {
                file: "pjsip.conf".to_owned(),
                line: 1,
            },
            |g| g.get("user_agent").map_or(&g.origin, |(_, o)| o).clone(),
        );
        found.add(
            "pjsip.user_agent",
            Severity::Low,
            0,
            &at,
            global.map_or("global", |g| g.name.as_str()),
            "the User-Agent names Asterisk (the default does, with its version): scanners pick their exploits by it; set user_agent".to_owned(),
        );
    }
    for endpoint in of_type(objects, "endpoint") {
        let name = endpoint.name.as_str();
        if name.eq_ignore_ascii_case("anonymous") {
            found.add(
                "pjsip.anonymous_endpoint",
                Severity::High,
                7,
                &endpoint.origin,
                name,
                "an `anonymous` endpoint takes calls from anyone who does not authenticate"
                    .to_owned(),
            );
        }
        let identified_by_ip = endpoint
            .get("identify_by")
            .is_some_and(|(v, _)| v.contains("ip"));
        let auths: Vec<&str> = endpoint.all("auth").collect();
        if auths.is_empty() && !identified_by_ip && !name.eq_ignore_ascii_case("anonymous") {
            found.add(
                "pjsip.no_auth",
                Severity::High,
                2,
                &endpoint.origin,
                name,
                "the endpoint has no auth: anyone who names it may use it".to_owned(),
            );
        }
        for auth_name in auths {
            let Some(auth) = objects.iter().find(|o| {
                o.name == auth_name
                    && o.get("type")
                        .is_some_and(|(v, _)| v.eq_ignore_ascii_case("auth"))
            }) else {
                continue;
            };
            let username = auth.get("username").map_or(auth_name, |(v, _)| v);
            if !username.is_empty() && username.chars().all(|c| c.is_ascii_digit()) {
                let at = auth.get("username").map_or(&auth.origin, |(_, o)| o);
                found.add("pjsip.numeric_auth_name", Severity::Medium, 6, at, &auth.name,
                    format!("the auth name {username} is a number (an extension): a cracker enumerates those first; use a random name"));
            }
            if let Some((password, at)) = auth.get("password")
                && let Some(why) = weak_secret(password, &[username, name, auth_name])
            {
                found.add(
                    "pjsip.weak_secret",
                    Severity::High,
                    3,
                    at,
                    &auth.name,
                    format!("the password {why}"),
                );
            }
        }
        let has_acl = endpoint.get("permit").is_some()
            || endpoint.get("deny").is_some()
            || endpoint.get("acl").is_some()
            || endpoint.get("contact_acl").is_some()
            || endpoint.get("contact_permit").is_some();
        if !has_acl && !identified_by_ip {
            found.add(
                "pjsip.no_acl",
                Severity::Medium,
                1,
                &endpoint.origin,
                name,
                "no permit/deny: the account works from any address on the Internet".to_owned(),
            );
        }
        match endpoint.get("context") {
            None => found.add(
                "pjsip.default_context",
                Severity::Medium,
                7,
                &endpoint.origin,
                name,
                "no context: its calls land in [default]".to_owned(),
            ),
            Some((c, at)) if c.eq_ignore_ascii_case("default") => found.add(
                "pjsip.default_context",
                Severity::Medium,
                7,
                at,
                name,
                "context=default: its calls land in [default]".to_owned(),
            ),
            Some(_) => {}
        }
        if endpoint
            .get("allow_unauthenticated_options")
            .is_some_and(|(v, _)| is_yes(v))
        {
            let at = endpoint
                .get("allow_unauthenticated_options")
                .map_or(&endpoint.origin, |(_, o)| o);
            found.add(
                "pjsip.unauthenticated_options",
                Severity::Low,
                2,
                at,
                name,
                "OPTIONS are answered without authentication: scanners learn the account exists"
                    .to_owned(),
            );
        }
    }
}

fn sip_checks(objects: &[Object], found: &mut Found) {
    let general = objects
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case("general"));
    let setting = |key: &str| general.and_then(|g| g.get(key));
    let general_origin = general.map_or_else(
        || Origin {
            file: "sip.conf".to_owned(),
            line: 1,
        },
        |g| g.origin.clone(),
    );
    let at = |key: &str| setting(key).map_or(general_origin.clone(), |(_, o)| o.clone());
    // chan_sip's defaults: allowguest=yes, alwaysauthreject=yes, useragent "Asterisk PBX".
    if setting("allowguest").is_none_or(|(v, _)| is_yes(v)) {
        found.add("sip.guest_calls", Severity::High, 7, &at("allowguest"), "general",
            "allowguest is on (chan_sip's default): unauthenticated callers reach the default context; set allowguest=no".to_owned());
    }
    if setting("alwaysauthreject").is_some_and(|(v, _)| !is_yes(v)) {
        found.add("sip.auth_reject", Severity::High, 2, &at("alwaysauthreject"), "general",
            "alwaysauthreject=no: unknown and known accounts answer differently, so they can be enumerated".to_owned());
    }
    if setting("autocreatepeer").is_some_and(|(v, _)| is_yes(v)) {
        found.add(
            "sip.autocreatepeer",
            Severity::High,
            2,
            &at("autocreatepeer"),
            "general",
            "autocreatepeer: anyone who registers becomes a peer".to_owned(),
        );
    }
    if names_asterisk(setting("useragent")) {
        found.add(
            "sip.user_agent",
            Severity::Low,
            0,
            &at("useragent"),
            "general",
            "the User-Agent names Asterisk: set useragent to something neutral".to_owned(),
        );
    }
    let default_context = setting("context").map_or("default", |(v, _)| v);
    for peer in objects
        .iter()
        .filter(|o| !o.name.eq_ignore_ascii_case("general"))
    {
        let is_account = peer.get("type").is_some_and(|(v, _)| {
            matches!(v.to_ascii_lowercase().as_str(), "friend" | "peer" | "user")
        });
        if !is_account {
            continue;
        }
        let name = peer.name.as_str();
        // A `type=peer` with an address is matched by that address alone (a provider): it
        // needs no secret and is its own ACL.
        let provider = peer
            .get("type")
            .is_some_and(|(v, _)| v.eq_ignore_ascii_case("peer"))
            && peer
                .get("host")
                .is_some_and(|(v, _)| !v.trim().eq_ignore_ascii_case("dynamic"));
        let username = peer
            .get("defaultuser")
            .or_else(|| peer.get("username"))
            .map_or(name, |(v, _)| v);
        if name.chars().all(|c| c.is_ascii_digit()) {
            found.add("sip.numeric_auth_name", Severity::Medium, 6, &peer.origin, name,
                format!("the peer's name {name} is its extension: a cracker enumerates those first; use a random name and map the extension in the dialplan"));
        }
        match peer.get("secret") {
            Some((secret, at)) => {
                if let Some(why) = weak_secret(secret, &[name, username]) {
                    found.add(
                        "sip.weak_secret",
                        Severity::High,
                        3,
                        at,
                        name,
                        format!("the secret {why}"),
                    );
                }
            }
            None if !provider
                && peer.get("md5secret").is_none()
                && peer.get("remotesecret").is_none() =>
            {
                found.add(
                    "sip.no_secret",
                    Severity::High,
                    3,
                    &peer.origin,
                    name,
                    "no secret: the peer authenticates by nothing".to_owned(),
                );
            }
            None => {}
        }
        if !provider && peer.get("permit").is_none() && peer.get("deny").is_none() {
            found.add(
                "sip.no_acl",
                Severity::Medium,
                1,
                &peer.origin,
                name,
                "no permit/deny: the account works from any address on the Internet".to_owned(),
            );
        }
        if peer.get("call-limit").is_none() && peer.get("busylevel").is_none() {
            found.add(
                "sip.no_call_limit",
                Severity::Low,
                5,
                &peer.origin,
                name,
                "no call-limit: a stolen account can run as many calls at once as the trunk allows"
                    .to_owned(),
            );
        }
        let context = peer.get("context").map_or(default_context, |(v, _)| v);
        if context.eq_ignore_ascii_case("default") {
            let at = peer.get("context").map_or(&peer.origin, |(_, o)| o);
            found.add(
                "sip.default_context",
                Severity::Medium,
                7,
                at,
                name,
                "its calls land in [default]".to_owned(),
            );
        }
    }
}

/// AMI classes that amount to running programs or rewriting files on the PBX.
const DANGEROUS_CLASSES: [&str; 4] = ["all", "system", "command", "config"];

fn manager_checks(objects: &[Object], found: &mut Found) {
    let general = objects
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case("general"));
    let enabled = general
        .and_then(|g| g.get("enabled"))
        .is_some_and(|(v, _)| is_yes(v));
    if !enabled {
        return;
    }
    let bind = general.and_then(|g| g.get("bindaddr"));
    let loopback = bind.is_some_and(|(v, _)| v.trim() == "127.0.0.1" || v.trim() == "::1");
    if !loopback && let Some(g) = general {
        let at = bind.map_or(&g.origin, |(_, o)| o);
        found.add(
            "ami.bound_beyond_loopback",
            Severity::High,
            4,
            at,
            "general",
            format!(
                "AMI listens on {}: bind it to 127.0.0.1",
                bind.map_or("every address", |(v, _)| v)
            ),
        );
    }
    for user in objects
        .iter()
        .filter(|o| !o.name.eq_ignore_ascii_case("general"))
    {
        let name = user.name.as_str();
        if let Some((secret, at)) = user.get("secret")
            && let Some(why) = weak_secret(secret, &[name])
        {
            found.add(
                "ami.weak_secret",
                Severity::High,
                4,
                at,
                name,
                format!("the secret {why}"),
            );
        }
        if user.get("permit").is_none() && user.get("deny").is_none() && user.get("acl").is_none() {
            found.add(
                "ami.no_acl",
                Severity::Medium,
                4,
                &user.origin,
                name,
                "no permit/deny: the AMI account logs in from anywhere AMI is reachable".to_owned(),
            );
        }
        if let Some((write, at)) = user.get("write") {
            let mut dangerous: Vec<String> = write
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .filter(|c| DANGEROUS_CLASSES.contains(&c.as_str()))
                .collect();
            dangerous.sort();
            dangerous.dedup();
            if !dangerous.is_empty() {
                found.add(
                    "ami.broad_write",
                    Severity::High,
                    4,
                    at,
                    name,
                    format!("write={}: amounts to root on the PBX", dangerous.join(",")),
                );
            }
        }
    }
}

fn dialplan_checks(objects: &[Object], found: &mut Found) {
    if let Some(default) = objects
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case("default"))
    {
        let dials = default.entries.iter().find(|(k, v, _)| {
            (k == "exten" && v.to_ascii_lowercase().contains("dial(")) || k == "include"
        });
        if let Some((_, _, at)) = dials {
            found.add(
                "dialplan.default_reaches_out",
                Severity::High,
                7,
                at,
                "default",
                "[default] dials or includes other contexts: unauthenticated calls land here"
                    .to_owned(),
            );
        }
    }
}

fn logger_checks(logger: Option<&[Object]>, found: &mut Found) {
    let channels = logger.and_then(|objects| {
        objects
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case("logfiles"))
    });
    let has_security = channels.is_some_and(|c| {
        c.entries.iter().any(|(_, v, _)| {
            v.to_ascii_lowercase()
                .split(',')
                .any(|l| l.trim() == "security")
        })
    });
    if !has_security {
        let at = channels.map_or_else(
            || Origin {
                file: "logger.conf".to_owned(),
                line: 1,
            },
            |c| c.origin.clone(),
        );
        found.add("logger.no_security_log", Severity::Medium, 0, &at, "logfiles",
            "no log channel takes `security` events (FreePBX's default): fail2ban and sipwarden's log tap see nothing".to_owned());
    }
}
