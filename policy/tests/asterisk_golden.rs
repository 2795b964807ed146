//! Golden files for every renderer, both targets, on the representative model.

mod asterisk_support;

use policy::asterisk::*;

/// The representative model as the appliance renders it: every call through the trunk asks
/// the pre-call fraud decision first.
fn bundle(target: Target) -> Bundle {
    let point = policy::fraud::agi::DecisionPoint {
        address: std::net::SocketAddr::from(([127, 0, 0, 1], 4573)),
        fail_national: policy::fraud::policy::FailMode::Open,
        fail_international: policy::fraud::policy::FailMode::Closed,
    };
    let model = asterisk_support::model().with_decision_point(point);
    render(&model, target, Revision::new(42))
}

#[test]
fn the_pjsip_bundle_matches_its_golden_files() {
    let bundle = bundle(Target::Asterisk22Pjsip);
    let names: Vec<&str> = bundle.files.iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        [
            "pjsip.conf",
            "extensions.conf",
            "manager.conf",
            "logger.conf"
        ]
    );
    for file in &bundle.files {
        insta::assert_snapshot!(format!("pjsip_target__{}", file.name), file.contents);
    }
}

#[test]
fn the_chan_sip_bundle_matches_its_golden_files() {
    let bundle = bundle(Target::LegacyChanSip);
    let names: Vec<&str> = bundle.files.iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        ["sip.conf", "extensions.conf", "manager.conf", "logger.conf"]
    );
    for file in &bundle.files {
        insta::assert_snapshot!(format!("chan_sip_target__{}", file.name), file.contents);
    }
}

#[test]
fn both_bundles_of_the_representative_model_round_trip() {
    let model = asterisk_support::model();
    for target in [Target::Asterisk22Pjsip, Target::LegacyChanSip] {
        let bundle = render(&model, target, Revision::new(42));
        verify_round_trip(&model, &bundle).unwrap();
    }
}

fn rev<T: Clone>(v: &[T]) -> Vec<T> {
    v.iter().rev().cloned().collect()
}

#[test]
fn rendering_is_stable_byte_for_byte_whatever_the_input_order() {
    let a = asterisk_support::model();
    let b = PbxModel::new(
        a.policy().clone(),
        rev(a.endpoints()),
        rev(a.trunks()),
        rev(a.ami_users()),
    )
    .unwrap();
    for target in [Target::Asterisk22Pjsip, Target::LegacyChanSip] {
        assert_eq!(
            render(&a, target, Revision::new(7)),
            render(&b, target, Revision::new(7))
        );
    }
}

#[test]
fn every_file_starts_with_a_header_naming_sipwarden_the_revision_and_do_not_edit() {
    for target in [Target::Asterisk22Pjsip, Target::LegacyChanSip] {
        for file in bundle(target).files {
            let header: Vec<&str> = file.contents.lines().take(2).collect();
            assert!(
                header[0].starts_with("; ") && header[0].contains("sipwarden"),
                "{}",
                file.name
            );
            assert!(header[0].contains("revision 42"), "{}", file.name);
            assert!(header[1].contains("Do not edit"), "{}", file.name);
        }
    }
}

#[test]
fn no_plain_secret_reaches_any_sip_file() {
    // The typed-in secret of endpoint 1002 must not appear anywhere, only its digest. The
    // one plain password is the provider's, in the registering trunk's outbound auth.
    for target in [Target::Asterisk22Pjsip, Target::LegacyChanSip] {
        for file in bundle(target).files {
            assert!(
                !file.contents.contains("Xk9#Vb2!Lm7zQ8r%Tw"),
                "{}",
                file.name
            );
            let passwords: Vec<(String, String)> = credentials(&file.contents)
                .into_iter()
                .filter(|c| c.key == "password")
                .map(|c| (c.section, c.key))
                .collect();
            let expected = if file.name == "pjsip.conf" {
                vec![("itsp".to_owned(), "password".to_owned())]
            } else {
                Vec::new()
            };
            assert_eq!(passwords, expected, "{}", file.name);
        }
    }
}

#[test]
fn the_provider_password_is_hidden_in_what_people_see() {
    let pjsip = bundle(Target::Asterisk22Pjsip);
    let text = pjsip.file("pjsip.conf").unwrap();
    assert!(text.contains("password=Itsp-Pr0vider+Pass"));
    let shown = redact_secrets(text);
    assert!(!shown.contains("Itsp-Pr0vider+Pass"), "{shown}");
    assert!(shown.contains("password=(hidden)"));
}

#[test]
fn the_dangerous_ami_user_is_reported_and_flagged_in_the_file() {
    let model = asterisk_support::model();
    let dangerous: Vec<(&str, Vec<AmiClass>)> = model
        .dangerous_ami_users()
        .into_iter()
        .map(|(u, c)| (u.name().as_str(), c))
        .collect();
    assert_eq!(dangerous, [("cfgreload", vec![AmiClass::Config])]);
    let manager = bundle(Target::Asterisk22Pjsip);
    assert!(
        manager
            .file("manager.conf")
            .unwrap()
            .contains("; DANGEROUS: config")
    );
}
