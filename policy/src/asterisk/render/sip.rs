//! `sip.conf` for the legacy chan_sip (Asterisk 13–20; removed in 21).

use super::Revision;
use super::writer::{ConfWriter, callerid};
use crate::asterisk::endpoint::{Endpoint, Transport};
use crate::asterisk::net::Acl;
use crate::asterisk::pbx::PbxModel;
use crate::asterisk::trunk::Trunk;

fn write_acl(w: &mut ConfWriter, acl: &Acl, contact: bool) {
    for (rule, network) in acl.rules() {
        let key = match (contact, rule) {
            (false, "permit") => "permit",
            (false, _) => "deny",
            (true, "permit") => "contactpermit",
            (true, _) => "contactdeny",
        };
        w.set(key, &network);
    }
}

fn render_general(w: &mut ConfWriter, model: &PbxModel) {
    let policy = model.policy();
    w.section("general");
    w.comment("Calls that match no peer land in [default], which reaches nothing (step 7).");
    w.set("context", "default");
    w.comment(
        "chan_sip defaults allowguest to yes; with it unknown callers become guest calls and",
    );
    w.comment("alwaysauthreject stops hiding which peers exist (steps 2 and 7).");
    w.set("allowguest", "no");
    w.set("alwaysauthreject", "yes");
    w.comment("autocreatepeer=yes would let any UAC register without auth.");
    w.set("autocreatepeer", "no");
    w.set("auth_options_requests", "yes");
    w.set("allowoverlap", "no");
    w.comment("The realm the md5secret digests were made for; chan_sip would otherwise use the");
    w.comment("system name, unlike PJSIP.");
    w.set("realm", policy.realm().as_str());
    w.set("useragent", policy.user_agent().as_str());
    w.set("sdpsession", policy.user_agent().as_str());
    let port = policy.sip_port();
    // chan_sip has one socket per protocol, so it cannot bind an IPv4 and an IPv6 address
    // side by side; with IPv6 wanted it binds [::], which serves both families.
    let bind = match policy.sip_bind_v6() {
        Some(_) => format!("[::]:{port}"),
        None => format!("{}:{port}", policy.sip_bind_v4()),
    };
    w.set("udpbindaddr", &bind);
    let tcp = model
        .endpoints()
        .iter()
        .any(|e| e.enabled() && e.transport() == Transport::Tcp)
        || model
            .trunks()
            .iter()
            .any(|t| t.transport() == Transport::Tcp);
    w.set("tcpenable", if tcp { "yes" } else { "no" });
    if tcp {
        w.set("tcpbindaddr", &bind);
    }
    match policy.tls() {
        Some(tls) => {
            let tls_bind = match policy.sip_bind_v6() {
                Some(_) => format!("[::]:{}", policy.tls_port()),
                None => format!("{}:{}", policy.sip_bind_v4(), policy.tls_port()),
            };
            w.set("tlsenable", "yes");
            w.set("tlsbindaddr", &tls_bind);
            w.set("tlscertfile", tls.cert_file().as_str());
            w.set("tlsprivatekey", tls.key_file().as_str());
        }
        None => w.set("tlsenable", "no"),
    }
    w.set("disallow", "all");
    w.set("allow", "ulaw");
}

fn render_peer(w: &mut ConfWriter, e: &Endpoint) {
    let id = e.id().as_str();
    w.section(id);
    w.set("type", "friend");
    w.set("host", "dynamic");
    w.set("context", e.calling_class().context());
    w.set(
        "callerid",
        &callerid(e.display_name().as_str(), e.extension().as_str()),
    );
    w.set("md5secret", e.credentials().ha1().as_str());
    w.set("transport", e.transport().as_str());
    w.set("disallow", "all");
    for codec in e.codecs().as_slice() {
        w.set("allow", codec.as_str());
    }
    w.set("call-limit", &e.max_calls().get().to_string());
    w.set("setvar", &format!("SW_EP={id}"));
    w.set("setvar", &format!("SW_MAXCALLS={}", e.max_calls().get()));
    w.set(
        "setvar",
        &format!("SW_CLASS={}", e.calling_class().as_str()),
    );
    write_acl(w, e.acl(), false);
    write_acl(w, e.acl(), true);
}

fn render_trunk(w: &mut ConfWriter, t: &Trunk) {
    let name = t.name().as_str();
    w.section(name);
    w.set("type", "peer");
    w.set("host", &t.peer().to_string());
    w.set("port", &t.port().to_string());
    w.set("context", &t.context());
    w.comment("Providers do not authenticate; insecure=invite is safe only because of the");
    w.comment("permit lines below and a context that reaches nothing but this trunk's DIDs.");
    w.set("insecure", "port,invite");
    w.set("transport", t.transport().as_str());
    w.set("disallow", "all");
    for codec in t.codecs().as_slice() {
        w.set("allow", codec.as_str());
    }
    w.set("qualify", "yes");
    write_acl(w, t.sources(), false);
    if t.registration().is_some() {
        // chan_sip's `register =>` string splits at ':', '@' and '/', which a provider's
        // password may hold; this legacy target gets no registration rather than a wrong one.
        w.comment("This trunk's outbound registration is rendered for chan_pjsip only.");
    }
}

pub(crate) fn render_sip(model: &PbxModel, revision: Revision) -> String {
    let mut w = ConfWriter::new("sip.conf", revision, 1000 * model.endpoints().len() + 4096);
    render_general(&mut w, model);
    w.comment("");
    w.comment("Peers. Names are generated and never numeric (step 6); md5secret holds only");
    w.comment("md5(name:realm:secret) (step 3); deny-all for IPv4 and IPv6 comes before the");
    w.comment("permits because the last matching rule wins (step 1). call-limit counts the user");
    w.comment("and peer sides of a friend separately, so the GROUP() limit in extensions.conf is");
    w.comment("the one that holds (step 5).");
    for e in model.endpoints().iter().filter(|e| e.enabled()) {
        render_peer(&mut w, e);
    }
    for t in model.trunks() {
        render_trunk(&mut w, t);
    }
    w.finish()
}
