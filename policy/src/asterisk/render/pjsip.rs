//! `pjsip.conf` for Asterisk 22 (also valid for 18 and 20).

use super::Revision;
use super::writer::{ConfWriter, callerid};
use crate::asterisk::endpoint::{Endpoint, Transport};
use crate::asterisk::net::Acl;
use crate::asterisk::pbx::PbxModel;
use crate::asterisk::policy::GlobalPolicy;
use crate::asterisk::registration::Registration;
use crate::asterisk::trunk::Trunk;
use std::net::IpAddr;

/// Names of the transports sipwarden renders: (protocol, IPv6?) -> section name.
pub(crate) fn transport_name(transport: Transport, v6: bool) -> &'static str {
    match (transport, v6) {
        (Transport::Udp, false) => "sw-udp",
        (Transport::Tcp, false) => "sw-tcp",
        (Transport::Tls, false) => "sw-tls",
        (Transport::Udp, true) => "sw-udp6",
        (Transport::Tcp, true) => "sw-tcp6",
        (Transport::Tls, true) => "sw-tls6",
    }
}

/// The transports to render: UDP always, TCP/TLS when something uses them; each for IPv4,
/// and again for IPv6 when the policy binds an IPv6 address. Fewer listeners, less surface.
pub(crate) fn transports_in_use(model: &PbxModel) -> Vec<(Transport, bool)> {
    let used = |t: Transport| {
        t == Transport::Udp
            || model
                .endpoints()
                .iter()
                .any(|e| e.enabled() && e.transport() == t)
            || model.trunks().iter().any(|tr| tr.transport() == t)
    };
    let mut out = Vec::new();
    let families: &[bool] = if model.policy().sip_bind_v6().is_some() {
        &[false, true]
    } else {
        &[false]
    };
    for &v6 in families {
        for t in [Transport::Udp, Transport::Tcp, Transport::Tls] {
            if used(t) {
                out.push((t, v6));
            }
        }
    }
    out
}

fn bind(policy: &GlobalPolicy, transport: Transport, v6: bool) -> String {
    let port = if transport == Transport::Tls {
        policy.tls_port()
    } else {
        policy.sip_port()
    };
    match (v6, policy.sip_bind_v6()) {
        (true, Some(addr)) => format!("[{addr}]:{port}"),
        _ => format!("{}:{port}", policy.sip_bind_v4()),
    }
}

/// The transport an endpoint names, chosen by the address family it may connect from.
/// `None` when it may use both: PJSIP then picks a transport matching the contact.
pub(crate) fn endpoint_transport(model: &PbxModel, e: &Endpoint) -> Option<&'static str> {
    match e.acl().families() {
        (true, false) => Some(transport_name(e.transport(), false)),
        (false, true) => Some(transport_name(e.transport(), true)),
        _ if model.policy().sip_bind_v6().is_none() => Some(transport_name(e.transport(), false)),
        _ => None,
    }
}

fn write_acl(w: &mut ConfWriter, acl: &Acl, contact: bool) {
    for (rule, network) in acl.rules() {
        match (contact, rule) {
            (false, "permit") => w.set("permit", &network),
            (false, _) => w.set("deny", &network),
            (true, "permit") => w.set("contact_permit", &network),
            (true, _) => w.set("contact_deny", &network),
        }
    }
}

fn render_global(w: &mut ConfWriter, policy: &GlobalPolicy) {
    w.section("global");
    w.set("type", "global");
    w.comment("No product or version in User-Agent/Server: it only helps attackers pick exploits.");
    w.set("user_agent", policy.user_agent().as_str());
    w.comment("Every auth below uses this realm too, so the 401 for an unknown user (the");
    w.comment("artificial auth) is indistinguishable from a real one (step 2).");
    w.set("default_realm", policy.realm().as_str());
    w.comment("No default_auth_algorithms_* and no per-auth supported_algorithms_*: every auth,");
    w.comment(
        "the artificial one included, offers the built-in MD5, so challenges stay identical,",
    );
    w.comment("and 22.0/22.1 (which reject those options as unknown) load the file too.");
    w.comment(
        "No 'anonymous': a request that matches no endpoint is challenged and fails (step 7).",
    );
    w.set("endpoint_identifier_order", "ip,username");
    let (count, period, prune) = policy.unidentified_requests();
    w.set("unidentified_request_count", &count.to_string());
    w.set("unidentified_request_period", &period.to_string());
    w.set("unidentified_request_prune_interval", &prune.to_string());
}

fn render_endpoint(w: &mut ConfWriter, model: &PbxModel, e: &Endpoint) {
    let id = e.id().as_str();
    w.section(id);
    w.set("type", "endpoint");
    w.set("context", e.calling_class().context());
    w.set(
        "callerid",
        &callerid(e.display_name().as_str(), e.extension().as_str()),
    );
    if let Some(transport) = endpoint_transport(model, e) {
        w.set("transport", transport);
    }
    w.set("disallow", "all");
    for codec in e.codecs().as_slice() {
        w.set("allow", codec.as_str());
    }
    w.set("auth", id);
    w.set("aors", id);
    w.set("identify_by", "username");
    w.set("allow_unauthenticated_options", "no");
    w.set("set_var", &format!("SW_EP={id}"));
    w.set("set_var", &format!("SW_MAXCALLS={}", e.max_calls().get()));
    w.set(
        "set_var",
        &format!("SW_CLASS={}", e.calling_class().as_str()),
    );
    write_acl(w, e.acl(), false);
    write_acl(w, e.acl(), true);

    w.section(id);
    w.set("type", "auth");
    w.set("auth_type", "md5");
    w.set("username", id);
    w.set("realm", e.credentials().realm().as_str());
    w.set("md5_cred", e.credentials().ha1().as_str());

    w.section(id);
    w.set("type", "aor");
    w.set("max_contacts", &e.max_contacts().get().to_string());
    w.set("remove_existing", "yes");
}

/// `sip:[user@]peer:port[;transport=…]`: the trunk's AoR contact, and the registration's
/// server and client URIs.
pub(crate) fn peer_uri(trunk: &Trunk, user: Option<&str>) -> String {
    let host = match trunk.peer() {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    };
    let user = user.map(|u| format!("{u}@")).unwrap_or_default();
    let mut uri = format!("sip:{user}{host}:{}", trunk.port());
    if trunk.transport() != Transport::Udp {
        uri.push_str(";transport=");
        uri.push_str(trunk.transport().as_str());
    }
    uri
}

fn render_trunk(w: &mut ConfWriter, t: &Trunk) {
    let name = t.name().as_str();
    w.section(name);
    w.set("type", "endpoint");
    w.set("context", &t.context());
    w.set(
        "transport",
        transport_name(t.transport(), t.peer().is_ipv6()),
    );
    w.set("disallow", "all");
    for codec in t.codecs().as_slice() {
        w.set("allow", codec.as_str());
    }
    w.set("aors", name);
    if t.registration().is_some_and(|r| r.outbound_auth()) {
        w.set("outbound_auth", name);
    }
    w.set("identify_by", "ip");
    w.set("allow_unauthenticated_options", "no");
    write_acl(w, t.sources(), false);

    w.section(name);
    w.set("type", "identify");
    w.set("endpoint", name);
    for network in t.sources().permit() {
        w.set("match", &network.to_string());
    }

    w.section(name);
    w.set("type", "aor");
    w.set("contact", &peer_uri(t, None));
    w.set("qualify_frequency", "60");

    if let Some(r) = t.registration() {
        render_registration(w, t, r);
    }
}

fn render_registration(w: &mut ConfWriter, t: &Trunk, r: &Registration) {
    let name = t.name().as_str();
    w.section(name);
    w.set("type", "registration");
    w.set(
        "transport",
        transport_name(t.transport(), t.peer().is_ipv6()),
    );
    w.set("outbound_auth", name);
    w.set("server_uri", &peer_uri(t, None));
    w.set("client_uri", &peer_uri(t, Some(r.username().as_str())));
    if let Some(user) = r.contact_user() {
        w.set("contact_user", user.as_str());
    }
    w.set("retry_interval", &r.retry_interval().to_string());
    w.set(
        "forbidden_retry_interval",
        &r.forbidden_retry_interval().to_string(),
    );
    w.set("expiration", &r.expiration().to_string());
    w.comment("line: the provider's calls carry the Contact's line parameter, which matches");
    w.comment("them to this trunk even before the address does (identify stays as it is).");
    w.set("line", "yes");
    w.set("endpoint", name);

    w.section(name);
    w.set("type", "auth");
    w.comment("The provider's password in plain text: Asterisk answers its challenges with it,");
    w.comment("so no digest can stand in for it (unlike the phones' auths above).");
    w.set("auth_type", "userpass");
    w.set("username", r.effective_auth_username().as_str());
    w.set("password", r.secret().expose());
}

pub(crate) fn render_pjsip(model: &PbxModel, revision: Revision) -> String {
    let mut w = ConfWriter::new(
        "pjsip.conf",
        revision,
        1200 * model.endpoints().len() + 4096,
    );
    let policy = model.policy();
    render_global(&mut w, policy);

    for (transport, v6) in transports_in_use(model) {
        w.section(transport_name(transport, v6));
        w.set("type", "transport");
        w.set("protocol", transport.as_str());
        w.set("bind", &bind(policy, transport, v6));
        if let (Transport::Tls, Some(tls)) = (transport, policy.tls()) {
            w.set("cert_file", tls.cert_file().as_str());
            w.set("priv_key_file", tls.key_file().as_str());
            w.set("method", "tlsv1_2");
        }
    }

    w.comment("");
    w.comment("Endpoints. Names are generated and never numeric (step 6). Each starts with");
    w.comment("deny-all for IPv4 and IPv6, then permits its networks: Asterisk ACLs start from");
    w.comment("allow and the last match wins (step 1). Auths keep only the HA1 digest");
    w.comment(
        "(auth_type=md5 + md5_cred, understood by every version), never the secret (step 3).",
    );
    w.comment("SW_EP and SW_MAXCALLS feed the GROUP() call limit in extensions.conf (step 5);");
    w.comment("SW_EP and SW_CLASS tell the pre-call fraud decision who is calling.");
    for e in model.endpoints().iter().filter(|e| e.enabled()) {
        render_endpoint(&mut w, model, e);
    }

    if !model.trunks().is_empty() {
        w.comment("");
        w.comment(
            "Trunks. Identified by source address only and without inbound auth, so the same",
        );
        w.comment("networks are their only permits and their context reaches only their DIDs.");
        w.comment("A trunk that registers has an outbound registration and auth besides.");
        for t in model.trunks() {
            render_trunk(&mut w, t);
        }
    }
    w.finish()
}
