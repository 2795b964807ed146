//! The import's round trip against a real Asterisk 22 (#16): each configuration of the
//! corpus (a weak chan_sip office, a FreePBX tree, a hand-written PJSIP setup with
//! templates) is imported by a real sipwarden (from the command line, or uploaded to the
//! API), rendered, and loaded by Asterisk; every phone of it then registers with the name
//! and secret it had before, while a wrong secret, or the right one from outside the
//! phone's networks, is refused. The rendered files hold no phone's secret.
//!
//! One Asterisk for the three configurations: booted on the first, reloaded for the others.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tests::api::Api;
use tests::asterisk::{self, Asterisk, RENDERED};
use tests::corpus;
use tests::netns::{Lab, Net};
use tests::server::TestServer;

const TEST: &str = "asterisk_import";

/// One configuration of the corpus, adapted to the lab, and its phones' old accounts.
struct Scenario {
    corpus: &'static str,
    /// The office network of the corpus, and the lab's in its place.
    office: (&'static str, &'static str),
    /// (user name, secret) as the phones had them.
    phones: &'static [(&'static str, &'static str)],
    /// Uploaded to the API rather than imported from the command line.
    via_api: bool,
}

const SCENARIOS: [Scenario; 3] = [
    Scenario {
        corpus: "weak-chan-sip",
        office: ("192.168.1.0/255.255.255.0", "198.51.100.0/255.255.255.0"),
        phones: &[("1001", "1234"), ("1002", "1002pass")],
        via_api: false,
    },
    Scenario {
        corpus: "freepbx",
        office: ("192.168.1.0/255.255.255.0", "198.51.100.0/255.255.255.0"),
        phones: &[
            ("1001", "1001abc"),
            ("1002", "7c4a8d09ca3762af61e59520943dc264"),
        ],
        via_api: true,
    },
    Scenario {
        corpus: "hardened-pjsip",
        office: ("192.168.10.0/24", "198.51.100.0/24"),
        phones: &[("k7f3q9zx2m", "Wq8vN3rT6yL2pX9c")],
        via_api: false,
    },
];

/// Imports `s` into a fresh sipwarden whose policy listens on the PBX's address and gives
/// phones without networks the lab's office, and renders it into `out`.
fn import_and_render(lab: &Lab, s: &Scenario, out: &Path) {
    let pbx_ip = lab.host("pbx").ipv4;
    let config = corpus::adapted(s.corpus, &[s.office]).unwrap();
    let (config_dir, out) = (config.path().to_owned(), out.to_owned());
    let via_api = s.via_api;
    let phones = s.phones.len();
    lab.ns("pbx")
        .block_on(async move {
            let mut server = TestServer::start().unwrap();
            let api = Api::sign_in(&server).await;
            api.change_policy(|policy| {
                policy["sip_bind_v4"] = json!(pbx_ip.to_string());
                policy["default_endpoint_networks"] = json!([Net::Office.cidr_v4()]);
            })
            .await;
            let report: serde_json::Value = if via_api {
                let archive = corpus::packed(&config_dir, ".").unwrap();
                let res = api
                    .request(reqwest::Method::POST, "/api/v1/import/config")
                    .body(archive)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                res.json().await.unwrap()
            } else {
                let out = server
                    .cli(&["import", "--json", config_dir.to_str().unwrap()], None)
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                serde_json::from_slice(&out.stdout).unwrap()
            };
            assert_eq!(
                report["endpoints"].as_array().unwrap().len(),
                phones,
                "{report}"
            );
            server.render(&out).unwrap();
            server.terminate().unwrap();
        })
        .unwrap();
}

fn rendered_files(dir: &Path) -> Vec<(String, String)> {
    RENDERED
        .iter()
        .map(|n| {
            (
                (*n).to_owned(),
                std::fs::read_to_string(dir.join(n)).unwrap(),
            )
        })
        .collect()
}

#[test]
fn imported_phones_register_with_their_old_secrets() {
    let started = Instant::now();
    if asterisk::require_rootfs(TEST).is_none() {
        return;
    }
    let lab = Lab::standard().expect("building the lab");
    let mut ast: Option<Asterisk> = None;
    for s in &SCENARIOS {
        let out = tempfile::tempdir().unwrap();
        import_and_render(&lab, s, out.path());
        let files = rendered_files(out.path());
        for (name, text) in &files {
            for (_, secret) in s.phones {
                assert!(
                    !text.contains(secret),
                    "{}: {name} holds a phone's secret",
                    s.corpus
                );
            }
        }
        match &ast {
            None => {
                let booted =
                    Asterisk::start_rendered(lab.ns("pbx"), out.path()).expect("starting asterisk");
                eprintln!("{TEST}: booted in {:?}", booted.booted_in());
                ast = Some(booted);
            }
            Some(running) => {
                let borrowed: Vec<(&str, &str)> = files
                    .iter()
                    .map(|(n, t)| (n.as_str(), t.as_str()))
                    .collect();
                running.reload_configs(&borrowed).unwrap();
            }
        }
        let running = ast.as_ref().unwrap();
        let want: BTreeSet<String> = s.phones.iter().map(|(u, _)| (*u).to_owned()).collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !want.is_subset(&running.endpoint_names().unwrap()) {
            assert!(
                Instant::now() < deadline,
                "{}: Asterisk loaded {:?}, not {want:?}",
                s.corpus,
                running.endpoint_names().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        for (user, secret) in s.phones {
            assert_eq!(
                tests::sip::register_in_lab(&lab, "client", user, secret).unwrap(),
                200,
                "{}: {user} with its old secret",
                s.corpus
            );
            assert_ne!(
                tests::sip::register_in_lab(&lab, "client", user, "not-the-secret").unwrap(),
                200,
                "{}: {user} with a wrong secret",
                s.corpus
            );
            assert_ne!(
                tests::sip::register_in_lab(&lab, "attacker", user, secret).unwrap(),
                200,
                "{}: {user} from outside its networks",
                s.corpus
            );
        }
    }
    eprintln!("{TEST}: {:?} in all", started.elapsed());
}
