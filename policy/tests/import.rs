//! The import of existing configurations (#16): the audit's corpus taken over into the model,
//! each phone keeping the name and secret it registers with (as a digest for the policy's
//! realm), each context mapped to the class its reach corresponds to, and everything that
//! cannot be represented listed with file and line.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

mod corpus_support;

use std::collections::BTreeMap;

use corpus_support::corpus;
use md5::{Digest, Md5};
use policy::asterisk::{
    CallingClass, GlobalPolicy, PbxModel, PolicySettings, Revision, Target, render,
};
use policy::import::{ImportOptions, ImportPlan, plan};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn policy() -> GlobalPolicy {
    GlobalPolicy::new(PolicySettings::default(), &mut StdRng::seed_from_u64(7)).unwrap()
}

fn import(name: &str, options: &ImportOptions) -> ImportPlan {
    plan(
        &corpus(name),
        &policy(),
        options,
        &mut StdRng::seed_from_u64(7),
    )
    .unwrap()
}

fn ha1(user: &str, realm: &str, secret: &str) -> String {
    hex::encode(Md5::digest(format!("{user}:{realm}:{secret}")))
}

fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The model an import makes, rendered as sipwarden would write it.
fn rendered(plan: ImportPlan) -> String {
    let model = PbxModel::new(
        policy(),
        plan.endpoints.into_iter().map(|e| e.object).collect(),
        plan.trunks.into_iter().map(|t| t.object).collect(),
        plan.ami_users.into_iter().map(|a| a.object.user).collect(),
    )
    .unwrap();
    let bundle = render(&model, Target::Asterisk22Pjsip, Revision::new(1));
    bundle.file("pjsip.conf").unwrap().to_owned()
}

#[test]
fn a_weak_chan_sip_office_keeps_its_phones_and_loses_its_holes() {
    let plan = import("weak-chan-sip", &ImportOptions::default());
    let ids: Vec<(&str, &str, CallingClass)> = plan
        .endpoints
        .iter()
        .map(|e| {
            (
                e.object.id().as_str(),
                e.object.extension().as_str(),
                e.object.calling_class(),
            )
        })
        .collect();
    // 1001 starts in [default], whose `_X.` reaches the provider: everything, abroad too.
    assert_eq!(
        ids,
        [
            ("1001", "1001", CallingClass::International),
            ("1002", "1002", CallingClass::Internal)
        ]
    );
    let e1001 = &plan.endpoints[0];
    assert_eq!(
        e1001.object.credentials().ha1().as_str(),
        ha1("1001", "sipwarden", "1234"),
        "the old secret, as a digest for the policy's realm"
    );
    assert!(e1001.object.adopted().unwrap().weak_secret.is_some());
    assert!(
        e1001.notes.iter().any(|n| n.contains("had no ACL")),
        "{:?}",
        e1001.notes
    );
    let e1002 = &plan.endpoints[1];
    assert_eq!(
        e1002.object.acl().permit()[0].to_string(),
        "192.168.1.0/24",
        "chan_sip's netmask form"
    );
    assert_eq!(e1002.object.max_calls().get(), 2, "call-limit=2");
    assert_eq!(
        (e1002.origin.file.as_str(), e1002.origin.line),
        ("sip.conf", 12)
    );

    let trunk = &plan.trunks[0].object;
    assert_eq!(trunk.name().as_str(), "provider");
    assert!(trunk.outbound());
    assert_eq!(trunk.dids()[0].did().as_str(), "4420001");
    assert_eq!(trunk.dids()[0].extension().as_str(), "1002");
    let registration = trunk.registration().unwrap();
    assert_eq!(registration.username().as_str(), "4420001");
    assert_eq!(registration.secret().expose(), "Pr0vider-Pass-77");

    let admin = &plan.ami_users[0];
    assert_eq!(admin.object.user.name().as_str(), "admin");
    assert!(admin.object.new_secret.is_some(), "amp111 is not kept");
    assert!(
        admin.object.user.write().is_empty(),
        "write=all is not granted"
    );
    // Only the settings sipwarden's policy decides, each named.
    let settings: Vec<(&str, usize)> = plan
        .not_imported
        .iter()
        .map(|n| (n.file.as_str(), n.line))
        .collect();
    assert_eq!(
        settings,
        [("manager.conf", 1), ("sip.conf", 2)],
        "{:?}",
        plan.not_imported
    );
    assert!(plan.not_imported.iter().all(|n| n.kind == "setting"));
    assert_eq!(plan.contexts.len(), 2);

    let pjsip = rendered(plan);
    assert!(pjsip.contains("[1001]\ntype=auth\n"), "{pjsip}");
    assert!(pjsip.contains(&format!(
        "md5_cred={}",
        ha1("1002", "sipwarden", "1002pass")
    )));
    assert!(!pjsip.contains("1002pass"), "no plain secret is rendered");
}

#[test]
fn freepbx_phones_keep_their_names_and_the_admin_loses_root() {
    let plan = import("freepbx", &ImportOptions::default());
    assert_eq!(plan.endpoints.len(), 2);
    let e1001 = &plan.endpoints[0];
    assert_eq!(e1001.object.display_name().as_str(), "Front desk");
    assert_eq!(
        e1001.object.credentials().ha1().as_str(),
        ha1("1001", "sipwarden", "1001abc")
    );
    assert_eq!(
        (e1001.origin.file.as_str(), e1001.origin.line),
        ("pjsip.endpoint.conf", 1)
    );
    assert!(
        e1001
            .notes
            .iter()
            .any(|n| n.contains("not carried over") && n.contains("direct_media")),
        "{:?}",
        e1001.notes
    );
    let e1002 = &plan.endpoints[1];
    // The (+) addition in pjsip.endpoint_custom_post.conf carried its ACL.
    assert_eq!(e1002.object.acl().permit()[0].to_string(), "192.168.1.0/24");
    assert_eq!(e1002.object.calling_class(), CallingClass::Internal);
    let admin = &plan.ami_users[0].object.user;
    assert!(!admin.write().iter().any(|c| c.is_dangerous()));
    assert!(
        plan.ami_users[0]
            .notes
            .iter()
            .any(|n| n.contains("system, command, config, originate"))
    );
}

#[test]
fn a_hand_written_pjsip_setup_with_templates_keeps_its_trunk_and_registration() {
    let plan = import("hardened-pjsip", &ImportOptions::default());
    let phone = &plan.endpoints[0].object;
    assert_eq!(phone.id().as_str(), "k7f3q9zx2m");
    assert_eq!(
        phone.extension().as_str(),
        "2001",
        "the exten that dials it, not the DID"
    );
    assert_eq!(
        phone.calling_class(),
        CallingClass::National,
        "_0ZXXXXX. to the trunk"
    );
    assert!(phone.adopted().unwrap().weak_secret.is_none());
    assert_eq!(
        phone.acl().permit()[0].to_string(),
        "192.168.10.0/24",
        "from the template"
    );
    let trunk = &plan.trunks[0].object;
    assert_eq!(trunk.peer().to_string(), "198.51.100.20");
    assert_eq!(trunk.dids()[0].extension().as_str(), "2001");
    assert_eq!(
        trunk.registration().unwrap().username().as_str(),
        "4930123456"
    );
    assert_eq!(
        plan.contexts[0].reason,
        "extensions.conf:3: _0ZXXXXX. dials trunk itsp"
    );

    let chosen = ImportOptions {
        classes: [("internal".to_owned(), CallingClass::Internal)].into(),
    };
    let plan = import("hardened-pjsip", &chosen);
    assert_eq!(
        plan.endpoints[0].object.calling_class(),
        CallingClass::Internal
    );
    assert_eq!(plan.contexts[0].reason, "chosen for this import");
}

#[test]
fn what_cannot_be_represented_is_listed_with_file_and_line() {
    let configuration = files(&[
        (
            "pjsip.conf",
            "[Alice]\ntype=endpoint\nauth=alice-auth\ncontext=x\n\
             [alice-auth]\ntype=auth\nusername=Alice\npassword=x\n\
             [3001]\ntype=endpoint\nauth=3001\n\
             [3002]\ntype=endpoint\nauth=3002\ncallerid=<3002>\nacl=office\n\
             [3002]\ntype=auth\nauth_type=md5\nusername=3002\nmd5_cred=0123456789abcdef0123456789abcdef\n\
             [3003]\ntype=endpoint\nauth=3003\ncallerid=<3004>\n\
             [3003]\ntype=auth\nusername=3003\npassword=Gq8vN3rT6yL2pX9c\n\
             [3004]\ntype=endpoint\nauth=3004\ntransport=ws\n\
             [3004]\ntype=auth\nusername=3004\npassword=Hq8vN3rT6yL2pX9c\n\
             [ws]\ntype=transport\nprotocol=ws\n\
             [carrier]\ntype=endpoint\naors=carrier\n\
             [carrier]\ntype=aor\ncontact=sip:sip.carrier.example\n",
        ),
        (
            "sip.conf",
            "[general]\n[9001]\ntype=friend\nhost=dynamic\nsecret=x\n",
        ),
    ]);
    let plan = plan(
        &configuration,
        &policy(),
        &ImportOptions::default(),
        &mut StdRng::seed_from_u64(1),
    )
    .unwrap();
    let skipped: Vec<(&str, usize, &str)> = plan
        .not_imported
        .iter()
        .map(|n| (n.file.as_str(), n.line, n.object.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("pjsip.conf", 1, "Alice"),
            ("pjsip.conf", 9, "3001"),
            ("pjsip.conf", 12, "3002"),
            ("pjsip.conf", 30, "3004"),
            ("pjsip.conf", 38, "ws"),
            ("pjsip.conf", 41, "carrier"),
            ("sip.conf", 1, "sip.conf"),
        ],
        "{:#?}",
        plan.not_imported
    );
    let reason = |object: &str| {
        plan.not_imported
            .iter()
            .find(|n| n.object == object)
            .unwrap()
            .reason
            .clone()
    };
    assert!(
        reason("Alice").contains("cannot be kept"),
        "{}",
        reason("Alice")
    );
    assert!(reason("3001").contains("[3001] is not in the configuration"));
    assert!(
        reason("3002").contains("realm 'asterisk'"),
        "{}",
        reason("3002")
    );
    assert!(reason("carrier").contains("host name"));
    assert!(
        reason("3004").contains("extension 3004 is taken by 3003"),
        "{}",
        reason("3004")
    );
    // 3003's caller id number 3004 is its extension; 3004 then has no number of its own and
    // its number is taken: listed, not silently merged.
    let got: Vec<(&str, &str)> = plan
        .endpoints
        .iter()
        .map(|e| (e.object.id().as_str(), e.object.extension().as_str()))
        .collect();
    assert_eq!(got, [("3003", "3004")]);
}

/// Lines an import reads, from a small vocabulary so that objects meet each other often.
fn line() -> impl Strategy<Value = String> {
    let name = "(10[0-3]|[a-c]{3}|Itsp|general)";
    prop_oneof![
        name.prop_map(|n| format!("[{n}]")),
        "(endpoint|auth|aor|identify|registration|transport|friend|peer)"
            .prop_map(|t| format!("type={t}")),
        name.prop_map(|n| format!("auth={n}")),
        name.prop_map(|n| format!("aors={n}")),
        name.prop_map(|n| format!("endpoint={n}")),
        name.prop_map(|n| format!("username={n}")),
        "[A-Za-z0-9]{0,20}".prop_map(|p| format!("password={p}")),
        "[A-Za-z0-9]{0,20}".prop_map(|p| format!("secret={p}")),
        "(dynamic|192\\.0\\.2\\.[0-9]|sip\\.example|::1)".prop_map(|h| format!("host={h}")),
        "(192\\.0\\.2\\.[0-9]|10\\.0\\.0\\.0/8|2001:db8::/32|x)".prop_map(|m| format!("match={m}")),
        "(192\\.0\\.2\\.[0-9]|10\\.0\\.0\\.0/255\\.0\\.0\\.0|0\\.0\\.0\\.0/0|::/0|office)"
            .prop_map(|m| format!("permit={m}")),
        "(0\\.0\\.0\\.0/0\\.0\\.0\\.0|10\\.1\\.0\\.0/16)".prop_map(|m| format!("deny={m}")),
        "(ulaw|alaw,g729|all|h264|opus)".prop_map(|c| format!("allow={c}")),
        "(udp|tcp|tls|ws)".prop_map(|t| format!("transport={t}")),
        "\"?[A-Za-z <>0-9]{0,12}\"? ?<?[0-9]{0,4}>?".prop_map(|c| format!("callerid={c}")),
        "(default|phones|from-x)".prop_map(|c| format!("context={c}")),
        "[0-9]{0,3}".prop_map(|c| format!("call-limit={c}")),
        "(sip:|)[a-z0-9]{0,5}@?(192\\.0\\.2\\.[0-9]|example)(:5060)?"
            .prop_map(|u| format!("contact={u}")),
        "[a-z0-9:@./~]{0,30}".prop_map(|r| format!("register => {r}")),
        "(read|write) ?= ?(all|call,system|originate|x)".prop_map(|c| c),
        "exten => (_X\\.|1001|_0ZX\\.|4420001),1,Dial\\((SIP|PJSIP)/(\\$\\{EXTEN\\}@Itsp|100[0-3]|abc)\\)"
            .prop_map(|e| e),
        "include => (default|phones)".prop_map(|i| i),
    ]
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(line(), 0..40).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    /// Whatever the configuration, what an import takes over forms a model sipwarden renders
    /// (no two objects of one name or number, no DID twice), and nothing panics.
    #[test]
    fn an_import_always_forms_a_model(
        pjsip in text(), sip in text(), manager in text(), extensions in text(), both in any::<bool>(),
    ) {
        let mut configuration = files(&[
            ("sip.conf", &sip),
            ("manager.conf", &manager),
            ("extensions.conf", &extensions),
        ]);
        if both {
            configuration.insert("pjsip.conf".to_owned(), pjsip);
        }
        if let Ok(plan) = plan(&configuration, &policy(), &ImportOptions::default(), &mut StdRng::seed_from_u64(3)) {
            let _ = rendered(plan);
        }
    }
}
