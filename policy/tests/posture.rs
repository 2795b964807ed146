//! The posture rules, each with a model that trips it and one that does not.

mod asterisk_support;

use asterisk_support::{Inputs, build, inputs};
use policy::asterisk::*;
use policy::posture::{Severity, check};

/// The representative model without its two deliberate exposures (an international
/// endpoint, an AMI user with a dangerous class): nothing to report.
fn clean() -> Inputs {
    let mut i = inputs();
    i.endpoints[1].calling_class = CallingClass::National;
    i.ami_users.truncate(1);
    i
}

fn rules(i: Inputs) -> Vec<(&'static str, Severity, String)> {
    let model = build(i).expect("test model builds");
    check(&model)
        .findings
        .into_iter()
        .map(|f| (f.rule, f.severity, f.object))
        .collect()
}

fn has(i: Inputs, rule: &str) -> bool {
    rules(i).iter().any(|(r, _, _)| *r == rule)
}

#[test]
fn a_clean_model_scores_100_with_no_findings() {
    let model = build(clean()).expect("builds");
    let posture = check(&model);
    assert_eq!(posture.findings, vec![]);
    assert_eq!(posture.score, 100);
}

#[test]
fn an_endpoint_open_to_the_internet_is_high() {
    let mut i = clean();
    i.endpoints[0].permit = vec!["0.0.0.0/0".into()];
    match build(i.clone()) {
        // The constructor may refuse it outright; then the rule guards stored data only.
        Err(_) => {}
        Ok(_) => {
            let found = rules(i);
            assert!(
                found
                    .iter()
                    .any(|(r, s, _)| *r == "endpoint.open_acl" && *s == Severity::High),
                "{found:?}"
            );
        }
    }
    let mut wide = clean();
    wide.endpoints[0].permit = vec!["81.0.0.0/8".into()];
    assert!(has(wide, "endpoint.wide_acl"));
    // A wide private network is no Internet exposure.
    let mut private = clean();
    private.endpoints[0].permit = vec!["10.0.0.0/8".into()];
    assert!(!has(private.clone(), "endpoint.wide_acl"));
    assert!(!has(private, "endpoint.open_acl"));
}

#[test]
fn international_dialling_is_low_behind_a_private_acl_and_high_when_open() {
    let mut i = clean();
    i.endpoints[2].calling_class = CallingClass::International;
    let found = rules(i.clone());
    assert!(
        found
            .iter()
            .any(|(r, s, _)| *r == "endpoint.international" && *s == Severity::Low),
        "{found:?}"
    );
    i.endpoints[2].permit = vec!["81.0.0.0/8".into()];
    let found = rules(i);
    assert!(
        found
            .iter()
            .any(|(r, s, _)| *r == "endpoint.international" && *s == Severity::High),
        "{found:?}"
    );
    assert!(!has(clean(), "endpoint.international"));
}

#[test]
fn a_high_call_limit_and_many_contacts_are_low() {
    let mut i = clean();
    i.endpoints[0].max_calls = 20;
    i.endpoints[0].max_contacts = 10;
    let found = rules(i);
    assert!(
        found
            .iter()
            .any(|(r, s, _)| *r == "endpoint.high_call_limit" && *s == Severity::Low)
    );
    assert!(found.iter().any(|(r, _, _)| *r == "endpoint.many_contacts"));
    assert!(!has(clean(), "endpoint.high_call_limit"));
}

#[test]
fn a_dangerous_ami_class_is_medium_and_an_open_ami_user_high() {
    let found = rules(inputs());
    assert!(
        found.iter().any(|(r, s, o)| *r == "ami.dangerous_classes"
            && *s == Severity::Medium
            && o == "cfgreload"),
        "{found:?}"
    );
    let mut open = clean();
    open.ami_users[0].permit = vec!["81.0.0.0/8".into()];
    assert!(has(open, "ami.open_acl"));
    assert!(!has(clean(), "ami.open_acl"));
}

#[test]
fn ami_outside_loopback_is_reported() {
    let mut i = clean();
    i.settings.ami_bind = "192.0.2.5".parse().expect("address");
    assert!(has(i, "ami.not_loopback"));
    assert!(!has(clean(), "ami.not_loopback"));
}

#[test]
fn a_trunk_identified_by_a_wide_public_network_is_high() {
    let mut i = clean();
    i.trunks[0].sources = vec!["192.0.0.0/8".into()];
    assert!(has(i, "trunk.open_sources"));
    assert!(!has(clean(), "trunk.open_sources"));
}

#[test]
fn a_user_agent_naming_asterisk_is_low() {
    let mut i = clean();
    i.settings.user_agent = "Asterisk PBX".into();
    match build(i.clone()) {
        Err(_) => {} // refused by the constructor: even better
        Ok(_) => assert!(has(i, "policy.user_agent_names_asterisk")),
    }
}

#[test]
fn the_score_moves_only_with_findings_and_worst_come_first() {
    let base = check(&build(clean()).expect("builds")).score;
    let mut i = clean();
    i.endpoints[0].max_calls = 20;
    let low = check(&build(i.clone()).expect("builds"));
    assert_eq!(low.score, base - Severity::Low.weight());
    i.ami_users = inputs().ami_users;
    let more = check(&build(i).expect("builds"));
    assert_eq!(more.findings[0].severity, Severity::Medium);
    assert_eq!(
        more.score,
        base - Severity::Low.weight() - Severity::Medium.weight()
    );
}
