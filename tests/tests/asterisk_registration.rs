//! A registration trunk against real Asterisks (#16): sipwarden's rendered configuration,
//! loaded by the PBX's Asterisk 22, registers with a provider stand-in (a second Asterisk in
//! another network namespace, with an endpoint and auth for the trunk's account); the
//! trunk's API shows `Registered`. A wrong password, set through the API and applied, turns
//! it to `Rejected` at once (the apply restarts the registration: Asterisk alone would keep
//! the old password until the next refresh); the right one brings it back. The provider saw
//! the REGISTERs with the right username.
//!
//! One set-up: one Asterisk per role, each booted once; every wait polls.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::api::Api;
use tests::asterisk::{self, Asterisk};
use tests::netns::{Lab, Net};
use tests::server::{Options, TestServer};

const TEST: &str = "asterisk_registration";
/// The trunk's account at the provider.
const USER: &str = "4930123400";
const PASSWORD: &str = "Pr0vider+Pass=ok";
const WRONG: &str = "Wr0ng+Pass=no";
/// How long a registration may take to reach a state. Asterisk delays every (re)start of a
/// registration by a random 1 to `max_random_initial_delay` (10) seconds, so up to 11 s.
const STATE_TIMEOUT: Duration = Duration::from_secs(20);

/// The provider stand-in: one account, registration allowed, authenticated by password.
fn provider_pjsip(address: Ipv4Addr) -> String {
    format!(
        "[global]\ntype=global\n\n\
         [transport-udp]\ntype=transport\nprotocol=udp\nbind={address}:5060\n\n\
         [{USER}]\ntype=endpoint\ncontext=provider-in\ndisallow=all\nallow=ulaw\n\
         auth={USER}\naors={USER}\n\n\
         [{USER}]\ntype=auth\nauth_type=userpass\nusername={USER}\npassword={PASSWORD}\n\n\
         [{USER}]\ntype=aor\nmax_contacts=1\nremove_existing=yes\n"
    )
}

const PROVIDER_LOGGER: &str =
    "[logfiles]\nmessages.log => notice,warning,error\nsecurity.log => security\n";

/// The trunk's registration state as the API reports it.
async fn state(api: &Api) -> Value {
    let (status, trunk) = api.call("GET", "/api/v1/trunks/carrier", None).await;
    assert_eq!(status, StatusCode::OK, "{trunk}");
    trunk["registration"]["status"].clone()
}

/// Polls the trunk until its registration is in `want`; how long that took.
async fn wait_for(api: &Api, want: &str) -> Duration {
    let started = Instant::now();
    loop {
        let now = state(api).await;
        if now["state"] == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < STATE_TIMEOUT,
            "the registration stayed {now} instead of {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn apply(api: &Api) -> Value {
    let (status, report) = api.call("POST", "/api/v1/config/apply", None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["applied"], true, "{report}");
    report
}

/// Security events of the provider for the trunk's account: `SuccessfulAuth`,
/// `ChallengeResponseFailed`.
fn provider_saw(provider: &Asterisk, event: &str) -> usize {
    provider
        .security_log()
        .lines()
        .filter(|l| {
            l.contains(&format!("SecurityEvent=\"{event}\""))
                && l.contains(&format!("AccountID=\"{USER}\""))
        })
        .count()
}

#[test]
fn a_trunk_registers_with_its_provider_and_a_replaced_wrong_password_is_rejected() {
    let started = Instant::now();
    if asterisk::require_rootfs(TEST).is_none() {
        return;
    }
    let lab = Lab::builder()
        .host("pbx", Net::Pbx)
        .host("provider", Net::Internet)
        .build()
        .expect("building the lab");
    let pbx_ip = lab.host("pbx").ipv4;
    let provider_ip = lab.host("provider").ipv4;
    let provider_conf = provider_pjsip(provider_ip);
    let provider = Asterisk::start(
        lab.ns("provider"),
        &[
            ("pjsip.conf", provider_conf.as_str()),
            ("logger.conf", PROVIDER_LOGGER),
        ],
    )
    .expect("starting the provider's asterisk");
    eprintln!("{TEST}: provider booted in {:?}", provider.booted_in());

    // 1. The model over the API, rendered for the PBX's first start (Asterisk must know
    //    sipwarden's AMI account before any apply).
    let bootstrap = tempfile::tempdir().unwrap();
    let out_dir = bootstrap.path().to_owned();
    let seed = lab
        .ns("pbx")
        .block_on(async move {
            let mut server = TestServer::start().unwrap();
            let api = Api::sign_in(&server).await;
            api.change_policy(|policy| {
                policy["sip_bind_v4"] = json!(pbx_ip.to_string());
            })
            .await;
            api.create(
                "/api/v1/endpoints",
                json!({"extension": "1001", "display_name": "Alice"}),
            )
            .await;
            let trunk = api
                .create(
                    "/api/v1/trunks",
                    json!({"name": "carrier", "peer": provider_ip.to_string(), "outbound": true,
                           "dids": [{"did": "4930123456", "extension": "1001"}],
                           "registration": {"username": USER, "secret": PASSWORD,
                                            "contact_user": USER, "retry_interval": 10}}),
                )
                .await;
            assert!(!trunk.to_string().contains(PASSWORD), "{trunk}");
            server.render(&out_dir).unwrap();
            server.terminate().unwrap();
            server
        })
        .unwrap();
    let pbx = Asterisk::start_rendered(lab.ns("pbx"), bootstrap.path())
        .expect("starting the PBX's asterisk");
    eprintln!("{TEST}: PBX booted in {:?}", pbx.booted_in());

    // 2. The appliance beside the PBX's Asterisk: the bootstrap registered already; an apply
    //    of the same model verifies what Asterisk loaded and leaves the registration alone.
    let etc = pbx.etc_dir();
    let data_from: PathBuf = seed.data.path().to_owned();
    let timings = lab
        .ns("pbx")
        .block_on(async move {
            let server = TestServer::start_with(Options {
                data_from: Some(data_from),
                env: vec![(
                    "SIPWARDEN_ASTERISK_CONFIG_DIR".to_owned(),
                    etc.display().to_string(),
                )],
                ..Options::default()
            })
            .unwrap();
            let api = Api::sign_in(&server).await;
            let registered = wait_for(&api, "Registered").await;
            let report = apply(&api).await;
            assert!(
                !report.to_string().contains("registrations restarted"),
                "nothing changed: {report}"
            );
            wait_for(&api, "Registered").await;

            // 3. A wrong password replaces the right one: rejected as soon as it is applied.
            let (status, replaced) = api
                .call(
                    "POST",
                    "/api/v1/trunks/carrier/secret",
                    Some(json!({"secret": WRONG})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{replaced}");
            let (_, preview) = api.call("GET", "/api/v1/config/preview", None).await;
            assert!(
                preview["summary"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("1 trunk changed")),
                "{preview}"
            );
            assert!(!preview.to_string().contains(WRONG), "{preview}");
            let report = apply(&api).await;
            assert!(
                report.to_string().contains("registrations restarted"),
                "{report}"
            );
            let rejected = wait_for(&api, "Rejected").await;

            // 4. The right password again, through an edit of the whole trunk.
            let (_, mut trunk) = api.call("GET", "/api/v1/trunks/carrier", None).await;
            for key in ["context", "version", "updated_at"] {
                trunk.as_object_mut().unwrap().remove(key);
            }
            trunk["registration"]
                .as_object_mut()
                .unwrap()
                .remove("status");
            trunk["registration"]["secret"] = json!(PASSWORD);
            let (status, edited) = api.call("PUT", "/api/v1/trunks/carrier", Some(trunk)).await;
            assert_eq!(status, StatusCode::OK, "{edited}");
            apply(&api).await;
            let recovered = wait_for(&api, "Registered").await;
            for secret in [PASSWORD, WRONG] {
                assert!(!server.log().contains(secret), "a password reached the log");
            }
            (registered, rejected, recovered)
        })
        .unwrap();
    eprintln!(
        "{TEST}: registered {:?} after the server started; rejected {:?} and registered \
         again {:?} after their applies",
        timings.0, timings.1, timings.2
    );

    // 5. What the provider saw: REGISTERs for the trunk's account, authenticated, then one
    //    with the wrong password, then the right one again; its contact is the PBX.
    assert!(
        provider_saw(&provider, "SuccessfulAuth") >= 2,
        "{}",
        provider.security_log()
    );
    assert!(
        provider_saw(&provider, "ChallengeResponseFailed") >= 1,
        "{}",
        provider.security_log()
    );
    let contacts = provider.cli(&format!("pjsip show aor {USER}")).unwrap();
    assert!(
        contacts.contains(&format!("sip:{USER}@{pbx_ip}")),
        "{contacts}"
    );

    drop(pbx);
    drop(provider);
    drop(seed);
    eprintln!("{TEST}: whole test {:?}", started.elapsed());
}
