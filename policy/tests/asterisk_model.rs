//! The rules that span objects, checked by `PbxModel::new`.

mod asterisk_support;

use asterisk_support::{BuildError, build, inputs};
use policy::asterisk::*;

fn problems(inputs: asterisk_support::Inputs) -> Vec<ModelProblem> {
    match build(inputs) {
        Err(BuildError::Model(e)) => e.problems().to_vec(),
        other => panic!("expected a model error, got {other:?}"),
    }
}

#[test]
fn two_endpoints_with_one_extension_are_refused() {
    let mut i = inputs();
    i.endpoints[1].extension = "1001".into();
    i.trunks[0].dids.truncate(1);
    assert!(problems(i).contains(&ModelProblem::DuplicateExtension(
        Extension::parse("1001").unwrap()
    )));
}

#[test]
fn a_did_routed_by_two_trunks_is_refused() {
    let mut i = inputs();
    i.trunks[1].dids[0].did = "4930123456".into();
    assert!(problems(i).contains(&ModelProblem::DuplicateDid(
        Did::parse("4930123456").unwrap()
    )));
}

#[test]
fn a_did_to_a_missing_extension_is_refused() {
    let mut i = inputs();
    i.trunks[0].dids[0].extension = "1999".into();
    assert!(matches!(
        problems(i)[0],
        ModelProblem::DidToUnknownExtension { .. }
    ));
}

#[test]
fn an_endpoint_and_a_trunk_cannot_share_a_name() {
    let model = asterisk_support::model();
    let clash = NewTrunk {
        name: model.endpoints()[0].id().to_string(),
        peer: "192.0.2.77".into(),
        ..NewTrunk::default()
    };
    let mut trunks = model.trunks().to_vec();
    trunks.push(Trunk::new(clash).unwrap());
    let err = PbxModel::new(
        model.policy().clone(),
        model.endpoints().to_vec(),
        trunks,
        vec![],
    )
    .unwrap_err();
    assert!(
        matches!(err.problems()[0], ModelProblem::DuplicateName(_)),
        "{err}"
    );
}

#[test]
fn a_digest_made_for_another_realm_is_refused() {
    let model = asterisk_support::model();
    let settings = PolicySettings {
        realm: "other.example.net".into(),
        ..model.policy().settings()
    };
    let policy = GlobalPolicy::new(settings, &mut asterisk_support::rng()).unwrap();
    let err = PbxModel::new(policy, model.endpoints().to_vec(), vec![], vec![]).unwrap_err();
    assert!(
        err.problems()
            .iter()
            .all(|p| matches!(p, ModelProblem::RealmMismatch(..)))
    );
    assert_eq!(err.problems().len(), model.endpoints().len());
}

#[test]
fn tls_without_a_certificate_is_refused() {
    let mut i = inputs();
    i.settings.tls = None;
    assert!(
        problems(i)
            .iter()
            .any(|p| matches!(p, ModelProblem::TlsNotConfigured(_)))
    );
}

#[test]
fn ipv6_only_endpoints_need_an_ipv6_bind_address() {
    let mut i = inputs();
    i.settings.sip_bind_v6 = None;
    let found = problems(i);
    assert!(
        found.contains(&ModelProblem::Ipv6NotBound("endpoint m74b9abcd8d1".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&ModelProblem::Ipv6NotBound("trunk backup-v6".into())),
        "{found:?}"
    );
}

#[test]
fn only_one_trunk_may_be_outbound() {
    let mut i = inputs();
    i.trunks[1].outbound = true;
    assert!(
        problems(i)
            .iter()
            .any(|p| matches!(p, ModelProblem::SeveralOutboundTrunks(..)))
    );
}

#[test]
fn an_ami_user_cannot_take_the_guard_name_or_appear_twice() {
    let mut i = inputs();
    i.ami_users[0].name = "sipwarden-guard".into();
    i.ami_users.push(i.ami_users[1].clone());
    let found = problems(i);
    assert!(found.contains(&ModelProblem::AmiUserIsOwn("sipwarden-guard".into())));
    assert!(found.contains(&ModelProblem::DuplicateAmiUser("cfgreload".into())));
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut i = inputs();
    i.trunks[1].outbound = true;
    i.settings.tls = None;
    let message = match build(i) {
        Err(BuildError::Model(e)) => e.to_string(),
        other => panic!("{other:?}"),
    };
    assert!(
        message.contains("outbound") && message.contains("TLS"),
        "{message}"
    );
}

#[test]
fn the_rest_api_json_for_a_new_endpoint_needs_only_extension_and_display_name() {
    let new: NewEndpoint =
        serde_json::from_str(r#"{"extension":"2001","display_name":"Front desk"}"#).unwrap();
    let policy =
        GlobalPolicy::new(PolicySettings::default(), &mut asterisk_support::rng()).unwrap();
    let p = Endpoint::provision(new, &policy, &mut asterisk_support::rng()).unwrap();
    assert_eq!(p.endpoint.calling_class(), CallingClass::Internal);
    assert_eq!(p.endpoint.max_calls().get(), 2);
}

#[test]
fn unknown_json_fields_and_bad_enum_values_are_refused_with_the_field_named() {
    let err =
        serde_json::from_str::<NewEndpoint>(r#"{"extension":"2001","password":"x"}"#).unwrap_err();
    assert!(err.to_string().contains("password"), "{err}");
    let err = serde_json::from_str::<NewEndpoint>(r#"{"calling_class":"premium"}"#).unwrap_err();
    assert!(
        err.to_string().contains("calling_class: must be one of"),
        "{err}"
    );
}

#[test]
fn a_typed_in_weak_secret_is_refused_naming_the_secret_field() {
    let mut i = inputs();
    i.endpoints[0].secret = Some("Alice1001Password!".into());
    match build(i) {
        Err(BuildError::Field(e)) => assert_eq!(e.field(), "secret"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_disabled_endpoint_keeps_its_extension_but_is_not_rendered() {
    let model = asterisk_support::model();
    let disabled = model.endpoints().iter().find(|e| !e.enabled()).unwrap();
    let bundle = render(&model, Target::Asterisk22Pjsip, Revision::new(1));
    assert!(
        !bundle
            .file("pjsip.conf")
            .unwrap()
            .contains(disabled.id().as_str())
    );
    assert!(
        bundle
            .file("extensions.conf")
            .unwrap()
            .contains("exten => 1004,1,Hangup(21)")
    );
}

#[test]
fn without_an_outbound_trunk_no_class_reaches_anything_billable() {
    let mut i = inputs();
    for t in &mut i.trunks {
        t.outbound = false;
    }
    let model = build(i).unwrap();
    let bundle = render(&model, Target::Asterisk22Pjsip, Revision::new(1));
    verify_round_trip(&model, &bundle).unwrap();
    let doc = parse_config(bundle.file("extensions.conf").unwrap()).unwrap();
    for name in [
        "sw-dial-national",
        "sw-dial-international",
        "sw-dial-emergency",
    ] {
        let s = doc.sections.iter().find(|s| s.name == name).unwrap();
        assert!(s.entries.is_empty(), "{name}");
    }
}

#[test]
fn a_custom_dialplan_is_included_after_sipwardens_contexts_and_reads_back() {
    let mut i = inputs();
    i.settings.custom_dialplan = "\
[custom-internal]
exten => 800,1,Answer()
 same => n,Goto(sw-dial-local,1001,1)
[custom-international]
exten => 801,1,Playback(hello-world)
"
    .into();
    let model = build(i).unwrap();
    let bundle = render(&model, Target::Asterisk22Pjsip, Revision::new(1));
    verify_round_trip(&model, &bundle).unwrap();
    let doc = parse_config(bundle.file("extensions.conf").unwrap()).unwrap();
    let includes = |context: &str| -> Vec<String> {
        doc.sections
            .iter()
            .find(|s| s.name == context)
            .unwrap()
            .entries
            .iter()
            .filter(|e| e.key == "include")
            .map(|e| e.value.clone())
            .collect()
    };
    assert_eq!(
        includes("sw-class-internal"),
        ["sw-dial-local", "sw-dial-emergency", "custom-internal"]
    );
    assert_eq!(
        includes("sw-class-national").last().map(String::as_str),
        Some("custom-internal"),
        "custom-national is not defined, so not included"
    );
    assert_eq!(
        includes("sw-class-international")[4..],
        ["custom-internal", "custom-international"]
    );
    // What the administrator saved comes back as written, comments included.
    let mut i = inputs();
    i.settings.custom_dialplan = "; menu\n[custom-internal]\nexten => 1,1,Hangup() ; bye\n".into();
    let saved = build(i).unwrap().policy().settings().custom_dialplan;
    assert_eq!(
        saved,
        "; menu\n[custom-internal]\nexten => 1,1,Hangup() ; bye\n"
    );
}
