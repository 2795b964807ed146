//! The import of an existing Asterisk configuration into sipwarden's model (#16,
//! `sipwarden import DIR`): phones become endpoints that keep the name and secret they
//! register with (only the secret's digest for the policy's realm is kept), providers become
//! trunks (with their registration), `manager.conf` users become AMI users, and each context
//! phones start in becomes the calling class its reach corresponds to.
//!
//! Nothing is guessed silently: every object comes with notes on what changed on the way in,
//! and whatever sipwarden cannot represent is listed with its file and line and the reason.
//! Reads PJSIP (`pjsip.conf`) and chan_sip (`sip.conf`) configurations, FreePBX's layout
//! included, as [`crate::audit::tree`] expands them.

mod chan_sip;
mod dialplan;
mod manager;
mod pjsip;

use std::collections::BTreeMap;

use rand::Rng;

use crate::asterisk::{
    AdoptedSecret, AmiUser, CallingClass, Codec, Did, DisplayName, Endpoint, EndpointId,
    GlobalPolicy, Network, NewDidRoute, NewEndpoint, NewRegistration, NewTrunk, PlainSecret,
    Transport, Trunk,
};
use crate::audit::tree::{ConfigFiles, Object, Origin, TreeError, load};
use dialplan::Dialplan;

/// How to map contexts the automatic reading gets wrong: context name → class.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub classes: BTreeMap<String, CallingClass>,
}

impl ImportOptions {
    /// The mapping from `CONTEXT=CLASS` pairs (`from-internal=national`), as the command line
    /// and the API take it.
    pub fn from_pairs<S: AsRef<str>>(pairs: &[S]) -> Result<Self, crate::asterisk::InvalidField> {
        let mut classes = BTreeMap::new();
        for pair in pairs {
            let pair = pair.as_ref();
            let Some((context, class)) = pair.split_once('=') else {
                return Err(crate::asterisk::InvalidField::new(
                    "class",
                    format!("'{pair}': write CONTEXT=CLASS, e.g. from-internal=national"),
                ));
            };
            let class = CallingClass::parse(class.trim()).map_err(|e| {
                crate::asterisk::InvalidField::new("class", format!("'{pair}': {}", e.rule()))
            })?;
            classes.insert(context.trim().to_owned(), class);
        }
        Ok(Self { classes })
    }
}

/// One object taken over, where it was written and what changed on the way in.
#[derive(Debug)]
pub struct Imported<T> {
    pub object: T,
    pub origin: Origin,
    pub notes: Vec<String>,
}

/// An AMI user taken over; `new_secret` is set when its old secret could not be kept (too
/// weak for `manager.conf` as sipwarden renders it) and a new one was generated, to be shown
/// to the administrator once.
#[derive(Debug)]
pub struct ImportedAmiUser {
    pub user: AmiUser,
    pub new_secret: Option<PlainSecret>,
}

/// Something the configuration holds that sipwarden could not represent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotImported {
    pub file: String,
    pub line: usize,
    /// `endpoint`, `trunk`, `ami_user`, `registration`, `context`, `setting`.
    pub kind: &'static str,
    pub object: String,
    pub reason: String,
}

/// How one context phones start in was mapped to a calling class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextMapping {
    pub context: String,
    pub class: CallingClass,
    /// Why: the line that reaches furthest, or that the administrator chose it.
    pub reason: String,
}

/// What an import would create.
#[derive(Debug, Default)]
pub struct ImportPlan {
    /// The configuration files read.
    pub files: Vec<String>,
    pub endpoints: Vec<Imported<Endpoint>>,
    pub trunks: Vec<Imported<Trunk>>,
    pub ami_users: Vec<Imported<ImportedAmiUser>>,
    pub contexts: Vec<ContextMapping>,
    pub not_imported: Vec<NotImported>,
}

impl ImportPlan {
    fn skip(&mut self, at: &Origin, kind: &'static str, object: &str, reason: impl Into<String>) {
        self.not_imported.push(NotImported {
            file: at.file.clone(),
            line: at.line,
            kind,
            object: object.to_owned(),
            reason: reason.into(),
        });
    }
}

/// Reads the configuration `files` hold and plans its import under `policy`. An unreadable
/// file is an error naming file and line; everything else ends up in the plan, imported or
/// listed as not imported.
pub fn plan<R: Rng + ?Sized>(
    files: &dyn ConfigFiles,
    policy: &GlobalPolicy,
    options: &ImportOptions,
    rng: &mut R,
) -> Result<ImportPlan, TreeError> {
    let mut loaded = BTreeMap::new();
    for name in ["pjsip.conf", "sip.conf", "manager.conf", "extensions.conf"] {
        if let Some(objects) = load(files, name)? {
            loaded.insert(name, objects);
        }
    }
    let mut plan = ImportPlan {
        files: loaded.keys().map(|k| (*k).to_owned()).collect(),
        ..ImportPlan::default()
    };
    let dialplan = Dialplan::new(loaded.get("extensions.conf").map_or(&[][..], Vec::as_slice));
    let mut reader = Reader {
        policy,
        options,
        dialplan: &dialplan,
        classes: BTreeMap::new(),
    };
    let pjsip = loaded.get("pjsip.conf").map(Vec::as_slice);
    let sip = loaded.get("sip.conf").map(Vec::as_slice);
    if let Some(objects) = pjsip {
        pjsip::import(objects, &mut reader, &mut plan);
    }
    if let Some(objects) = sip {
        // A PBX converted to PJSIP often still has its old sip.conf, which chan_sip (gone
        // since Asterisk 21) no longer loads: it is read only when there is no pjsip.conf.
        if pjsip.is_some_and(|o| !o.is_empty()) {
            let at = objects.first().map_or(
                Origin {
                    file: "sip.conf".to_owned(),
                    line: 1,
                },
                |o| o.origin.clone(),
            );
            plan.skip(
                &at,
                "setting",
                "sip.conf",
                "not imported: pjsip.conf is there too, and Asterisk 22 loads only PJSIP",
            );
        } else {
            chan_sip::import(objects, &mut reader, &mut plan);
        }
    }
    if let Some(objects) = loaded.get("manager.conf") {
        manager::import(objects, policy, rng, &mut plan);
    }
    plan.not_imported
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    plan.contexts = reader
        .classes
        .into_iter()
        .map(|(context, (class, reason))| ContextMapping {
            context,
            class,
            reason,
        })
        .collect();
    Ok(plan)
}

/// What the channel readers share: the policy, the dialplan and the contexts mapped so far.
struct Reader<'a> {
    policy: &'a GlobalPolicy,
    options: &'a ImportOptions,
    dialplan: &'a Dialplan,
    classes: BTreeMap<String, (CallingClass, String)>,
}

impl Reader<'_> {
    /// The class for phones starting in `context` (the administrator's choice, or its reach).
    fn class(&mut self, context: &str, is_trunk: &dyn Fn(&str) -> bool) -> CallingClass {
        if let Some((class, _)) = self.classes.get(context) {
            return *class;
        }
        let mapped = match self.options.classes.get(context) {
            Some(class) => (*class, "chosen for this import".to_owned()),
            None if !self.dialplan.has(context) => (
                CallingClass::Internal,
                format!("[{context}] is not in extensions.conf"),
            ),
            None => {
                let prefixes = international_prefixes(self.policy);
                let emergency: Vec<&str> = self
                    .policy
                    .emergency_numbers()
                    .iter()
                    .map(|e| e.as_str())
                    .collect();
                self.dialplan
                    .class_of(context, is_trunk, &prefixes, &emergency)
            }
        };
        let class = mapped.0;
        self.classes.insert(context.to_owned(), mapped);
        class
    }
}

/// What a channel reader found about one phone.
struct Phone {
    name: String,
    origin: Origin,
    secret: Option<AdoptedSecret>,
    callerid: Option<String>,
    context: Option<String>,
    permit: Vec<String>,
    deny: Vec<String>,
    codecs: Vec<Codec>,
    transport: Transport,
    max_calls: Option<u32>,
    max_contacts: Option<u32>,
    /// The channel technologies a `Dial` names it with (`PJSIP`, `SIP`).
    tech: &'static [&'static str],
    notes: Vec<String>,
}

impl Reader<'_> {
    /// Makes `phone` an adopted endpoint, or lists why it cannot be one.
    fn adopt(&mut self, mut phone: Phone, is_trunk: &dyn Fn(&str) -> bool, plan: &mut ImportPlan) {
        let skip = |plan: &mut ImportPlan, reason: String| {
            plan.skip(&phone.origin, "endpoint", &phone.name, reason);
        };
        if let Err(e) = EndpointId::parse(&phone.name) {
            return skip(
                plan,
                format!(
                    "its name cannot be kept ({e}); create it anew, and give the phone the generated name"
                ),
            );
        }
        if plan
            .endpoints
            .iter()
            .any(|e| e.object.id().as_str() == phone.name)
        {
            return skip(plan, "a phone of this name was imported already".to_owned());
        }
        let Some(secret) = phone.secret.take() else {
            return skip(
                plan,
                "no secret found: it could not authenticate (or needed none, which sipwarden never allows)"
                    .to_owned(),
            );
        };
        let (display, number) = phone.callerid.as_deref().map(callerid).unwrap_or_default();
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let extension = number
            .filter(|n| digits(n))
            .or_else(|| digits(&phone.name).then(|| phone.name.clone()))
            .or_else(|| self.dialplan.extension_dialling(phone.tech, &phone.name));
        let Some(extension) = extension else {
            return skip(
                plan,
                "no extension number found (no caller id number, a name that is not a number, and no exten that dials it)"
                    .to_owned(),
            );
        };
        if let Some(other) = plan
            .endpoints
            .iter()
            .find(|e| e.object.extension().as_str() == extension)
        {
            return skip(
                plan,
                format!(
                    "extension {extension} is taken by {} already",
                    other.object.id()
                ),
            );
        }
        let display_name = match display {
            Some(d) if DisplayName::parse(&d).is_ok() => d,
            Some(d) => {
                phone.notes.push(format!(
                    "display name '{d}' has characters sipwarden does not render; it is 'Extension {extension}' now"
                ));
                format!("Extension {extension}")
            }
            None => format!("Extension {extension}"),
        };
        let class = match &phone.context {
            Some(context) => self.class(context, is_trunk),
            None => CallingClass::Internal,
        };
        if phone.permit.is_empty() {
            phone.notes.push(default_networks_note(self.policy));
        }
        if let Some(reason) = unsupported(self.policy, phone.transport, &phone.permit) {
            return skip(plan, reason);
        }
        let defaults = NewEndpoint::default();
        let max_calls = match phone.max_calls {
            Some(n) => n.clamp(1, 100),
            None => {
                phone.notes.push(format!(
                    "had no call limit; it gets {} concurrent calls (step 5)",
                    defaults.max_calls
                ));
                defaults.max_calls
            }
        };
        let new = NewEndpoint {
            extension,
            display_name,
            permit: phone.permit,
            deny: phone.deny,
            max_calls,
            calling_class: class,
            codecs: phone.codecs,
            transport: phone.transport,
            max_contacts: phone.max_contacts.unwrap_or(1).clamp(1, 10),
            ..defaults
        };
        match Endpoint::adopt(&phone.name, secret, new, self.policy) {
            Ok(endpoint) => {
                if let Some(why) = endpoint.adopted().and_then(|a| a.weak_secret.as_deref()) {
                    phone.notes.push(format!(
                        "its secret is weak ({why}); kept so the phone keeps working: rotate it"
                    ));
                }
                plan.endpoints.push(Imported {
                    object: endpoint,
                    origin: phone.origin,
                    notes: phone.notes,
                });
            }
            Err(e) => skip(plan, e.to_string()),
        }
    }
}

/// What a channel reader found about one provider.
struct Provider {
    name: String,
    origin: Origin,
    /// The address calls go to (a host name is not representable).
    host: String,
    port: Option<u16>,
    /// The networks it sends from, as written (`match=`, `host=`).
    sources: Vec<String>,
    transport: Transport,
    codecs: Vec<Codec>,
    context: Option<String>,
    registration: Option<NewRegistration>,
    notes: Vec<String>,
}

impl Reader<'_> {
    /// Makes `p` a trunk (outbound when phones dial out through it first), or lists why it
    /// cannot be one. Its DIDs are the literal numbers its context rings an imported phone for.
    fn add_trunk(&mut self, mut p: Provider, outbound: bool, plan: &mut ImportPlan) {
        let original = p.name.clone();
        let Some(name) = object_name(&p.name, &mut p.notes) else {
            plan.skip(
                &p.origin,
                "trunk",
                &original,
                "no valid name can be made from its name",
            );
            return;
        };
        let host = p.host.trim_start_matches('[').trim_end_matches(']');
        if host.parse::<std::net::IpAddr>().is_err() {
            plan.skip(
                &p.origin,
                "trunk",
                &original,
                format!(
                    "its provider is named by host name ({host}); sipwarden identifies trunks by address: create it with the provider's address"
                ),
            );
            return;
        }
        if plan.trunks.iter().any(|t| t.object.name().as_str() == name) {
            plan.skip(
                &p.origin,
                "trunk",
                &original,
                format!("a trunk named {name} was imported already"),
            );
            return;
        }
        if plan
            .endpoints
            .iter()
            .any(|e| e.object.id().as_str() == name)
        {
            plan.skip(
                &p.origin,
                "trunk",
                &original,
                format!("its name {name} is a phone's too (PJSIP has one namespace for both)"),
            );
            return;
        }
        let mut sources = Vec::new();
        for source in &p.sources {
            match network(source) {
                Some(n) if !sources.contains(&n) => sources.push(n),
                Some(_) => {}
                None => p
                    .notes
                    .push(format!("source {source} is not an address and was dropped")),
            }
        }
        let mut dids = Vec::new();
        if let Some(context) = &p.context {
            for (number, route, at) in self.dialplan.routes(context) {
                let extension = match route {
                    dialplan::Route::Dial(target) if !target.resource.contains('@') => plan
                        .endpoints
                        .iter()
                        .find(|e| e.object.id().as_str() == target.resource)
                        .map(|e| e.object.extension().to_string()),
                    dialplan::Route::Extension(ext) => plan
                        .endpoints
                        .iter()
                        .find(|e| e.object.extension().as_str() == ext)
                        .map(|e| e.object.extension().to_string()),
                    _ => None,
                };
                let taken = plan
                    .trunks
                    .iter()
                    .any(|t| t.object.dids().iter().any(|d| d.did().as_str() == number));
                match (Did::parse(&number), extension) {
                    (Ok(_), Some(_)) if taken => p.notes.push(format!(
                        "DID {number} is routed by an earlier trunk already"
                    )),
                    (Ok(_), Some(extension)) => dids.push(NewDidRoute {
                        did: number,
                        extension,
                    }),
                    _ => plan.skip(
                        &at,
                        "context",
                        &format!("{context}/{number}"),
                        "an inbound number sipwarden cannot route: only a literal DID that rings one imported phone is carried over",
                    ),
                }
            }
        }
        if p.registration.is_some() && !outbound {
            p.notes
                .push("registers, but is not where phones dial out".to_owned());
        }
        let family = if host.contains(':') {
            "::/0"
        } else {
            "0.0.0.0/0"
        };
        if let Some(reason) = unsupported(self.policy, p.transport, &[family.to_owned()]) {
            plan.skip(&p.origin, "trunk", &original, reason);
            return;
        }
        let new = NewTrunk {
            name,
            peer: host.to_owned(),
            port: p.port.unwrap_or(5060),
            sources,
            dids,
            transport: p.transport,
            codecs: p.codecs,
            outbound,
            registration: p.registration,
        };
        match Trunk::new(new) {
            Ok(trunk) => plan.trunks.push(Imported {
                object: trunk,
                origin: p.origin,
                notes: p.notes,
            }),
            Err(e) => plan.skip(&p.origin, "trunk", &original, e.to_string()),
        }
    }

    /// The trunk the phones imported so far dial out through first: the outbound one.
    fn outbound_trunk(&self, is_trunk: &dyn Fn(&str) -> bool) -> Option<String> {
        let contexts = self.classes.keys().cloned().collect();
        self.dialplan
            .trunks_dialled(&contexts, is_trunk)
            .into_iter()
            .find(|t| is_trunk(t))
    }
}

/// Why the policy cannot carry an object with this transport and these networks yet: TLS
/// without a certificate, IPv6 only without an IPv6 address to listen on.
fn unsupported(policy: &GlobalPolicy, transport: Transport, networks: &[String]) -> Option<String> {
    if transport == Transport::Tls && policy.tls().is_none() {
        return Some(
            "uses TLS, and the policy has no TLS certificate yet: configure TLS, then import again"
                .to_owned(),
        );
    }
    let v6_only = !networks.is_empty() && networks.iter().all(|n| n.contains(':'));
    if v6_only && policy.sip_bind_v6().is_none() {
        return Some(
            "is reached over IPv6 only, and the policy binds no IPv6 address: set one, then \
             import again"
                .to_owned(),
        );
    }
    None
}

/// `sip:[user@]host[:port][;params]` → (user, host, port).
fn sip_uri(uri: &str) -> Option<(Option<String>, String, Option<u16>)> {
    let rest = uri.trim().trim_start_matches('<').trim_end_matches('>');
    let rest = rest
        .strip_prefix("sips:")
        .or_else(|| rest.strip_prefix("sip:"))
        .unwrap_or(rest);
    let rest = rest.split([';', '?', '>']).next()?;
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_owned()), h),
        None => (None, rest),
    };
    let (host, port) = host_port(hostport)?;
    Some((user, host, port))
}

/// `host[:port]`, `[v6]:port`.
fn host_port(value: &str) -> Option<(String, Option<u16>)> {
    let value = value.trim();
    if let Some(rest) = value.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return Some((host.to_owned(), port));
    }
    if value.matches(':').count() > 1 {
        return Some((value.to_owned(), None));
    }
    match value.split_once(':') {
        Some((h, p)) => Some((h.to_owned(), p.parse().ok())),
        None if value.is_empty() => None,
        None => Some((value.to_owned(), None)),
    }
}

/// The literal digits the policy's international patterns start with (`00` for
/// `_00ZXXXXX.`), and `+`.
fn international_prefixes(policy: &GlobalPolicy) -> Vec<String> {
    let mut prefixes = vec!["+".to_owned()];
    for pattern in policy.international_patterns() {
        let digits: String = pattern
            .as_str()
            .trim_start_matches('_')
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if !digits.is_empty() && !prefixes.contains(&digits) {
            prefixes.push(digits);
        }
    }
    prefixes
}

/// A network as `permit=`/`deny=` write it (`192.168.1.0/255.255.255.0`, `10.0.0.0/8`, a bare
/// address), in sipwarden's form; `None` when it is not an address (an ACL name, a host name).
fn network(value: &str) -> Option<String> {
    let value = value.trim();
    let (addr, mask) = value.split_once('/').unwrap_or((value, ""));
    let addr: std::net::IpAddr = addr.trim().parse().ok()?;
    let prefix = if mask.is_empty() {
        if addr.is_ipv4() { 32 } else { 128 }
    } else if let Ok(bits) = mask.trim().parse::<u8>() {
        bits
    } else {
        let mask: std::net::Ipv4Addr = mask.trim().parse().ok()?;
        let bits = u32::from(mask);
        if bits.leading_ones() + bits.trailing_zeros() != 32 {
            return None;
        }
        u8::try_from(bits.leading_ones()).ok()?
    };
    let net = ipnet::IpNet::new(addr, prefix).ok()?.trunc();
    Some(net.to_string())
}

/// An object's effective ACL in sipwarden's form: its `permit=` networks and the `deny=` ones
/// that are not "everything" (sipwarden denies everything else itself). Notes say what could
/// not be carried over; empty permits mean "no ACL of its own".
fn acl(object: &Object, notes: &mut Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut permit = Vec::new();
    let mut deny = Vec::new();
    let mut denies_everything = false;
    for (key, value, _) in &object.entries {
        let list = match key.as_str() {
            "permit" => &mut permit,
            "deny" => &mut deny,
            "acl" | "contact_acl" => {
                notes.push(format!(
                    "named ACL '{value}' (acl.conf) is not read; its networks were not carried over"
                ));
                continue;
            }
            _ => continue,
        };
        for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match network(item) {
                Some(n) if n == "0.0.0.0/0" || n == "::/0" => {
                    if key == "deny" {
                        denies_everything = true;
                    } else {
                        notes.push(format!(
                            "permit={item} (everything) is dropped: sipwarden never permits a /0"
                        ));
                    }
                }
                Some(n) => {
                    if !list.contains(&n) {
                        list.push(n);
                    }
                }
                None => notes.push(format!("{key}={item} is not an address and was dropped")),
            }
        }
    }
    if permit.is_empty() {
        deny.clear();
    } else if !denies_everything {
        notes.push(
            "its permit= lines had no deny=0.0.0.0/0 before them, so Asterisk let every \
             address in; sipwarden lets in only the permitted networks"
                .to_owned(),
        );
    }
    (permit, deny)
}

/// The note naming the options of `object` an import does not carry over (all but `read`):
/// sipwarden renders its own hardened values for them, or has no counterpart. Only the
/// names: a value could be a secret.
fn unread(object: &Object, read: &[&str], notes: &mut Vec<String>) {
    let mut keys: Vec<&str> = Vec::new();
    for (key, _, _) in &object.entries {
        if !read.contains(&key.as_str()) && !keys.contains(&key.as_str()) {
            keys.push(key);
        }
    }
    if !keys.is_empty() {
        notes.push(format!(
            "[{}] options not carried over (sipwarden renders its own): {}",
            object.name,
            keys.join(", ")
        ));
    }
}

/// Lists the sections whose settings sipwarden's policy decides (`[general]`, `[global]`,
/// transports, …) as not imported.
fn policy_sections<'a>(objects: impl Iterator<Item = &'a Object>, plan: &mut ImportPlan) {
    for o in objects {
        plan.skip(
            &o.origin,
            "setting",
            &o.name,
            "sipwarden's policy decides these settings (bind addresses, transports, realm, \
             guest and rejection rules): set them on the policy page",
        );
    }
}

/// The note for a phone that had no ACL and gets the policy's default networks.
fn default_networks_note(policy: &GlobalPolicy) -> String {
    let nets: Vec<String> = policy
        .default_endpoint_networks()
        .iter()
        .map(Network::to_string)
        .collect();
    format!(
        "had no ACL (any address could register); it now gets the policy's default networks \
         ({}): add the networks its phone is in if it is elsewhere",
        nets.join(", ")
    )
}

/// The codecs `allow=`/`disallow=` lines (in order, `general` first for chan_sip) leave
/// allowed, sipwarden's own where none is known.
fn codecs<'a>(
    lines: impl Iterator<Item = (&'a str, &'a str)>,
    notes: &mut Vec<String>,
) -> Vec<Codec> {
    let mut allowed: Vec<Codec> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut configured = false;
    for (key, value) in lines {
        configured |= key == "allow" || key == "disallow";
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let name = name.to_ascii_lowercase();
            match key {
                "disallow" if name == "all" => allowed.clear(),
                "disallow" => {
                    if let Ok(c) = Codec::parse(&name) {
                        allowed.retain(|x| *x != c);
                    }
                }
                "allow" if name == "all" => {
                    for c in Codec::ALL {
                        if !allowed.contains(c) {
                            allowed.push(*c);
                        }
                    }
                }
                "allow" => match Codec::parse(&name) {
                    Ok(c) if !allowed.contains(&c) => allowed.push(c),
                    Ok(_) => {}
                    Err(_) => {
                        if !unknown.contains(&name) {
                            unknown.push(name);
                        }
                    }
                },
                _ => {}
            }
        }
    }
    if !unknown.is_empty() {
        notes.push(format!(
            "codecs sipwarden does not offer were dropped: {}",
            unknown.join(", ")
        ));
    }
    if allowed.is_empty() {
        if configured {
            notes.push("no codec sipwarden offers was allowed; it gets ulaw and alaw".to_owned());
        }
        allowed = vec![Codec::Ulaw, Codec::Alaw];
    }
    allowed
}

/// `"Front desk" <1001>` → (name, number), either part possibly absent.
fn callerid(value: &str) -> (Option<String>, Option<String>) {
    let value = value.trim();
    let (name, number) = match value.rsplit_once('<') {
        Some((name, rest)) => (name, rest.split('>').next().map(str::trim)),
        None => (value, None),
    };
    let name = name.trim().trim_matches('"').trim();
    (
        (!name.is_empty()).then(|| name.to_owned()),
        number.filter(|n| !n.is_empty()).map(str::to_owned),
    )
}

/// A name Asterisk accepted, made into an object name sipwarden accepts (`My_Trunk` →
/// `my_trunk`), with a note when it changed; `None` when no valid name can be made.
fn object_name(name: &str, notes: &mut Vec<String>) -> Option<String> {
    let mut made: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    made = made.trim_start_matches(['-', '_']).to_owned();
    crate::asterisk::ObjectName::parse(&made).ok()?;
    if made != name {
        notes.push(format!("renamed from '{name}' to '{made}'"));
    }
    Some(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_in_asterisk_forms() {
        assert_eq!(
            network("192.168.1.0/255.255.255.0").as_deref(),
            Some("192.168.1.0/24")
        );
        assert_eq!(network("10.1.2.3").as_deref(), Some("10.1.2.3/32"));
        assert_eq!(network("0.0.0.0/0.0.0.0").as_deref(), Some("0.0.0.0/0"));
        assert_eq!(network("2001:db8::/32").as_deref(), Some("2001:db8::/32"));
        assert_eq!(network("192.168.1.7/24").as_deref(), Some("192.168.1.0/24"));
        assert_eq!(network("255.0.255.0/255.0.255.0"), None);
        assert_eq!(network("office_acl"), None);
    }

    #[test]
    fn caller_ids() {
        assert_eq!(
            callerid("\"Front desk\" <1001>"),
            (Some("Front desk".to_owned()), Some("1001".to_owned()))
        );
        assert_eq!(
            callerid("Back office <1002>"),
            (Some("Back office".to_owned()), Some("1002".to_owned()))
        );
        assert_eq!(callerid("<1003>"), (None, Some("1003".to_owned())));
        assert_eq!(callerid("Reception"), (Some("Reception".to_owned()), None));
    }
}
