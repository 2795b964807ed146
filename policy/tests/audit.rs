//! The audit of existing configurations (#16): a corpus written for the tests in the layouts
//! people have, each with the findings it must give (rule, file, line), and bytes from
//! anywhere never make it panic.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

mod corpus_support;

use std::collections::BTreeMap;

use corpus_support::corpus;
use policy::audit::audit;
use proptest::prelude::*;

fn found(report: &policy::audit::AuditReport) -> Vec<(String, String, usize, String)> {
    report
        .findings
        .iter()
        .map(|f| (f.rule.to_owned(), f.file.clone(), f.line, f.object.clone()))
        .collect()
}

#[test]
fn a_weak_chan_sip_office_gives_every_finding_with_file_and_line() {
    let report = audit(&corpus("weak-chan-sip")).unwrap();
    let got = found(&report);
    let expect = |rule: &str, file: &str, line: usize, object: &str| {
        let want = (rule.to_owned(), file.to_owned(), line, object.to_owned());
        assert!(got.contains(&want), "missing {want:?} in {got:#?}");
    };
    expect("sip.guest_calls", "sip.conf", 2, "general");
    expect("sip.auth_reject", "sip_custom.conf", 2, "general");
    expect("sip.user_agent", "sip.conf", 2, "general");
    expect("sip.weak_secret", "sip.conf", 10, "1001");
    expect("sip.weak_secret", "sip.conf", 15, "1002");
    expect("sip.numeric_auth_name", "sip.conf", 7, "1001");
    expect("sip.no_acl", "sip.conf", 7, "1001");
    expect("sip.no_call_limit", "sip.conf", 7, "1001");
    expect("sip.default_context", "sip.conf", 7, "1001");
    expect("ami.bound_beyond_loopback", "manager.conf", 4, "general");
    expect("ami.weak_secret", "manager.conf", 7, "admin");
    expect("ami.broad_write", "manager.conf", 9, "admin");
    expect("ami.no_acl", "manager.conf", 6, "admin");
    expect(
        "dialplan.default_reaches_out",
        "extensions.conf",
        2,
        "default",
    );
    expect("logger.no_security_log", "logger.conf", 2, "logfiles");
    // 1002 has its ACL, call limit and own context: none of those for it.
    assert!(
        !got.iter().any(|(r, _, _, o)| o == "1002"
            && r != "sip.weak_secret"
            && r != "sip.numeric_auth_name"),
        "{got:#?}"
    );
    assert_eq!(report.score, 0, "so many high findings leave nothing");
    assert_eq!(
        report.files,
        ["sip.conf", "manager.conf", "extensions.conf", "logger.conf"]
    );
    assert!(report.findings.first().unwrap().severity >= report.findings.last().unwrap().severity);
}

#[test]
fn a_freepbx_tree_is_read_through_its_generated_includes() {
    let report = audit(&corpus("freepbx")).unwrap();
    let got = found(&report);
    let expect = |rule: &str, file: &str, line: usize, object: &str| {
        let want = (rule.to_owned(), file.to_owned(), line, object.to_owned());
        assert!(got.contains(&want), "missing {want:?} in {got:#?}");
    };
    // Found in the generated files, at their own lines.
    expect("pjsip.weak_secret", "pjsip.auth.conf", 4, "1001-auth");
    expect("pjsip.numeric_auth_name", "pjsip.auth.conf", 5, "1001-auth");
    expect(
        "pjsip.numeric_auth_name",
        "pjsip.auth.conf",
        11,
        "1002-auth",
    );
    expect("pjsip.no_acl", "pjsip.endpoint.conf", 1, "1001");
    expect("ami.bound_beyond_loopback", "manager.conf", 7, "general");
    expect("ami.weak_secret", "manager.conf", 11, "admin");
    expect("ami.broad_write", "manager.conf", 15, "admin");
    expect("logger.no_security_log", "logger.conf", 5, "logfiles");
    // The custom file's addition gives 1002 its ACL; FreePBX's User-Agent does not name
    // Asterisk; the long generated secret is fine; the admin has an ACL.
    for (rule, object) in [
        ("pjsip.no_acl", "1002"),
        ("pjsip.user_agent", "global"),
        ("pjsip.weak_secret", "1002-auth"),
        ("ami.no_acl", "admin"),
    ] {
        assert!(
            !got.iter().any(|(r, _, _, o)| r == rule && o == object),
            "{rule} {object}: {got:#?}"
        );
    }
    assert!(report.files.contains(&"pjsip.conf".to_owned()));
}

#[test]
fn a_hardened_pjsip_setup_with_templates_is_clean() {
    let report = audit(&corpus("hardened-pjsip")).unwrap();
    assert_eq!(found(&report), [], "{:#?}", report.findings);
    assert_eq!(report.score, 100);
}

#[test]
fn pjsip_weaknesses_are_found_through_templates() {
    let files: BTreeMap<String, String> = [(
        "pjsip.conf".to_owned(),
        "[tpl](!)\ntype=endpoint\n\n[1001](tpl)\nauth=1001\n\n[1001]\ntype=auth\nusername=1001\npassword=1001\n\n[anonymous]\ntype=endpoint\ncontext=default\n"
            .to_owned(),
    )]
    .into_iter()
    .collect();
    let report = audit(&files).unwrap();
    let rules: Vec<&str> = report.findings.iter().map(|f| f.rule).collect();
    for rule in [
        "pjsip.anonymous_endpoint",
        "pjsip.weak_secret",
        "pjsip.numeric_auth_name",
        "pjsip.no_acl",
        "pjsip.default_context",
        "pjsip.user_agent",
    ] {
        assert!(rules.contains(&rule), "{rule} missing: {rules:?}");
    }
}

#[test]
fn an_unreadable_file_is_an_error_naming_file_and_line() {
    let files: BTreeMap<String, String> = [
        (
            "sip.conf".to_owned(),
            "[general]\n#include broken.conf\n".to_owned(),
        ),
        (
            "broken.conf".to_owned(),
            format!("[x]\nkey={}\n", "v".repeat(9000)),
        ),
    ]
    .into_iter()
    .collect();
    let error = audit(&files).unwrap_err();
    assert_eq!(
        (error.file.as_str(), error.line),
        ("broken.conf", 2),
        "{error}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Any bytes in any of the files: an answer or an error, never a panic.
    #[test]
    fn any_input_gives_a_report_or_an_error(
        sip in ".{0,400}",
        manager in "(\\[[a-z]{1,5}\\]\n|[a-z]{1,8} ?= ?[a-z0-9,./]{0,12}\n|#include [a-z.]{1,8}\n|;.*\n){0,20}",
    ) {
        let files: BTreeMap<String, String> = [
            ("sip.conf".to_owned(), sip),
            ("manager.conf".to_owned(), manager),
        ]
        .into_iter()
        .collect();
        let _ = audit(&files);
    }
}
