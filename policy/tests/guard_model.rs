//! The guard's view of a stored PBX: what `GuardModel::from_pbx` makes of the representative
//! model the renderer tests use.

mod asterisk_support;

use std::net::IpAddr;

use policy::guard::GuardModel;

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

#[test]
fn the_guard_model_holds_what_the_pbx_permits_and_what_its_trunks_deliver() {
    let pbx = asterisk_support::model();
    let model = GuardModel::from_pbx(pbx.policy(), pbx.endpoints(), pbx.trunks());
    let summary = model.summary();
    // The disabled lab phone is no account.
    assert_eq!(summary.accounts, 3);
    assert_eq!(summary.trunks, 2);

    let alice = pbx.endpoints()[0].id().as_str().to_owned();
    let rules = model
        .account(alice.as_bytes())
        .expect("alice's endpoint id");
    assert!(rules.permits(ip("198.51.100.20")));
    assert!(!rules.permits(ip("198.51.100.9")), "her deny exception");
    assert!(!rules.permits(ip("203.0.113.1")));
    // Also found by extension (what a phone may put in From).
    assert_eq!(model.account(b"1001").map(|a| a.name.clone()), Some(alice));

    // Alice is national: national numbers yes, international no; Bob reaches both.
    let national = b"0301234567";
    let international = b"0097259123456";
    assert!(model.is_external(national) && model.is_external(international));
    assert!(rules.may_dial(national));
    assert!(!rules.may_dial(international));
    let bob = model.account(b"1002").expect("bob");
    assert!(bob.may_dial(international));
    let reception = model.account(b"1003").expect("reception");
    assert!(
        !reception.may_dial(national),
        "internal class dials nothing external"
    );
    // Emergency numbers are never external.
    for n in pbx.policy().emergency_numbers() {
        assert!(!model.is_external(n.as_str().as_bytes()), "{}", n.as_str());
    }

    // Trunks by peer and source networks, with their DIDs.
    let itsp = model
        .trunk_at(ip("192.0.2.11"))
        .expect("itsp's second source");
    assert_eq!(itsp.name, "itsp");
    assert!(itsp.delivers(b"4930123457"));
    assert!(!itsp.delivers(b"4930999000"), "the backup trunk's DID");
    assert_eq!(
        model
            .trunk_at(ip("2001:db8:99::42"))
            .map(|t| t.name.as_str()),
        Some("backup-v6")
    );
    assert!(model.trunk_at(ip("192.0.2.12")).is_none());
}
