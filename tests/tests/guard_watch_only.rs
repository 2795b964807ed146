//! Watch-only mode (`SIPWARDEN_ASTERISK_MANAGED=false`): sipwarden beside a real Asterisk 22
//! whose configuration it did not write (hand-written PJSIP, a `manager.conf` with the
//! administrator's read-only account, the default log time stamps), attacked by `svcrack`
//! from the Internet namespace. The guard has one source at a time (the live capture cannot
//! start: its interface does not exist), and each must ban at the threshold on its own:
//!
//! 1. the security log (`security.log`, res_security_log's lines) followed as a file;
//! 2. a `messages.log` with only the PJSIP notices (FreePBX's default: no security log);
//! 3. AMI, logged in as the administrator's account.
//!
//! Throughout, sipwarden writes no Asterisk file, refuses applies (409), and says
//! "Watch-only" on its dashboard. One Asterisk serves all three phases. Root only.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tests::api::Api;
use tests::appliance::serve_with_firewall;
use tests::asterisk::{self, Asterisk};
use tests::netns::Lab;
use tests::root;
use tests::server::TestServer;

const TEST: &str = "guard_watch_only";
/// The default guessing threshold (`GuardPolicy::default().guessing.max_failures`).
const THRESHOLD: usize = 5;
/// How many guesses may reach Asterisk after the threshold before the ban lands: like AMI,
/// a log line is written only after Asterisk answered the guess (see `guard_ami`).
const LATE_AT_MOST: usize = 8;
const WATCHER_SECRET: &str = "Watcher-Secret-0123456789";

fn configuration(pbx_ip: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "pjsip.conf",
            format!(
                "; written by hand, as an administrator would\n\
                 [transport-udp]\ntype=transport\nprotocol=udp\nbind={pbx_ip}:5060\n\n\
                 [1001]\ntype=endpoint\ncontext=from-internal\ndisallow=all\nallow=ulaw\n\
                 auth=1001\naors=1001\n\n\
                 [1001]\ntype=auth\nauth_type=userpass\nusername=1001\npassword=Known-Secret-4711\n\n\
                 [1001]\ntype=aor\nmax_contacts=1\n"
            ),
        ),
        (
            "extensions.conf",
            "[from-internal]\nexten => 100,1,Answer()\n".to_owned(),
        ),
        (
            "manager.conf",
            format!(
                "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nport = 5038\n\n\
                 [watcher]\nsecret = {WATCHER_SECRET}\ndeny = 0.0.0.0/0.0.0.0\n\
                 permit = 127.0.0.1/255.255.255.255\nread = security\nwrite =\n"
            ),
        ),
        (
            // Asterisk's default time stamps (`[Dec  7 10:22:33]`), not sipwarden's.
            "logger.conf",
            "[logfiles]\nmessages.log => notice,warning,error\nsecurity.log => security\n"
                .to_owned(),
        ),
    ]
}

/// Every file of Asterisk's configuration directory with its contents.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect()
}

/// One phase: sipwarden with `env` (on top of watch-only mode), ready when its log says
/// `ready`; `svcrack` against 1001; returns how many wrong passwords reached Asterisk.
fn phase(lab: &Lab, ast: &Asterisk, name: &str, env: &[(&str, String)], ready: &str) -> usize {
    let attacker = lab.host("attacker").ipv4.to_string();
    let pbx_ip = lab.host("pbx").ipv4.to_string();
    let before = ast.failed_challenges_from(&attacker, "UDP");
    let mut vars = vec![
        ("SIPWARDEN_ASTERISK_MANAGED".to_owned(), "false".to_owned()),
        (
            "SIPWARDEN_ASTERISK_CONFIG_DIR".to_owned(),
            ast.etc_dir().display().to_string(),
        ),
        (
            "SIPWARDEN_CAPTURE_INTERFACE".to_owned(),
            "nosuchif0".to_owned(),
        ),
    ];
    vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let server = serve_with_firewall(lab, None, vars, &[ready]).expect("starting sipwarden");
    assert!(
        !lab.ns("pbx").nft_set("ban_v4").contains(&attacker),
        "{name}: the attacker is banned before the attack"
    );

    let words = tempfile::tempdir().unwrap();
    let wordlist = words.path().join("words.txt");
    let guesses: Vec<String> = (0..40).map(|i| format!("wrong-guess-{i:02}")).collect();
    std::fs::write(&wordlist, guesses.join("\n") + "\n").unwrap();
    let mut svcrack = lab.ns("attacker").command("svcrack", ["-u", "1001", "-d"]);
    svcrack
        .arg(&wordlist)
        .args(["-p5060", &pbx_ip])
        .env("HOME", words.path());
    let t = Instant::now();
    let out = tests::process::output(&mut svcrack, Duration::from_secs(120)).expect("svcrack");
    let took = t.elapsed();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("wrong-guess"),
        "svcrack cannot have found a password"
    );

    let kernel = lab.ns("pbx").nft_set("ban_v4");
    assert!(
        kernel.contains(&attacker),
        "{name}: not banned in the kernel: {kernel}\n{}",
        server.log()
    );
    let failures = ast.failed_challenges_from(&attacker, "UDP") - before;
    eprintln!(
        "{TEST}: {name}: {failures} wrong passwords reached Asterisk before the ban \
         (threshold {THRESHOLD}); svcrack ran {took:?}"
    );
    assert!(
        (THRESHOLD..=THRESHOLD + LATE_AT_MOST).contains(&failures),
        "{name}: {failures} guesses reached Asterisk\n{}",
        server.log()
    );
    check_watch_only(lab, server, name);
    failures
}

/// The API of a watch-only appliance: its bans are the guard's, applies are refused, the
/// dashboard says so.
fn check_watch_only(lab: &Lab, server: TestServer, name: &str) {
    let attacker = lab.host("attacker").ipv4.to_string();
    let name = name.to_owned();
    lab.ns("pbx")
        .block_on(async move {
            let api = Api::sign_in(&server).await;
            let (status, bans) = api.call("GET", "/api/v1/bans", None).await;
            assert_eq!(status, StatusCode::OK);
            assert!(
                bans["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|b| b["address"] == attacker.as_str() && b["origin"] == "guard"),
                "{name}: {bans}"
            );
            let (status, problem) = api.call("POST", "/api/v1/config/apply", None).await;
            assert_eq!(status, StatusCode::CONFLICT, "{name}: {problem}");
            assert!(
                problem.to_string().contains("watch-only"),
                "{name}: {problem}"
            );
            let (status, summary) = api.call("GET", "/api/v1/dashboard/summary", None).await;
            assert_eq!(status, StatusCode::OK, "{summary}");
            assert_eq!(summary["asterisk_managed"], false, "{summary}");
            assert_eq!(summary["pending_changes"], false, "{summary}");
            let log_tap = &summary["guard"]["log_tap"];
            if name == "AMI" {
                assert!(log_tap.is_null(), "{name}: {log_tap}");
            } else {
                assert!(
                    log_tap["observed"].as_u64().unwrap() >= THRESHOLD as u64,
                    "{name}: {log_tap}"
                );
                assert_eq!(log_tap["unreadable"], 0, "{name}: {log_tap}");
            }
            let taps = &summary["guard"]["taps"];
            assert!(
                taps.as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["state"] == "connected"),
                "{name}: {taps}"
            );
            // Lifted, so the next phase starts from an attacker that reaches Asterisk.
            let (status, _) = api
                .call("DELETE", &format!("/api/v1/bans/{attacker}"), None)
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{name}");
            drop(server);
        })
        .unwrap();
}

#[test]
fn an_asterisk_sipwarden_did_not_configure_is_guarded_by_its_log_alone_and_by_ami_alone() {
    let started = Instant::now();
    if asterisk::require_rootfs(TEST).is_none()
        || !root::require_commands(TEST, &["svcrack", "nft", "conntrack"])
    {
        return;
    }
    let lab = Lab::standard().expect("building the lab");
    let pbx_ip = lab.host("pbx").ipv4.to_string();
    let files = configuration(&pbx_ip);
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let ast = Asterisk::start(lab.ns("pbx"), &borrowed).expect("starting asterisk");
    let untouched = snapshot(&ast.etc_dir());
    let log = |file: &str| ast.log_dir().join(file).display().to_string();

    let secret_dir = tempfile::tempdir().unwrap();
    let secret_file = secret_dir.path().join("ami-secret");
    std::fs::write(&secret_file, format!("{WATCHER_SECRET}\n")).unwrap();

    let by_log = phase(
        &lab,
        &ast,
        "security log",
        &[("SIPWARDEN_ASTERISK_SECURITY_LOG", log("security.log"))],
        "security log tap following",
    );
    let by_notices = phase(
        &lab,
        &ast,
        "notices",
        &[("SIPWARDEN_ASTERISK_SECURITY_LOG", log("messages.log"))],
        "security log tap following",
    );
    let by_ami = phase(
        &lab,
        &ast,
        "AMI",
        &[
            ("SIPWARDEN_ASTERISK_AMI_USER", "watcher".to_owned()),
            (
                "SIPWARDEN_ASTERISK_AMI_SECRET_FILE",
                secret_file.display().to_string(),
            ),
        ],
        "AMI security tap connected",
    );
    assert_eq!(
        snapshot(&ast.etc_dir()),
        untouched,
        "sipwarden wrote into Asterisk's configuration"
    );
    eprintln!(
        "{TEST}: guesses before the ban: security log {by_log}, notices {by_notices}, AMI \
         {by_ami}; whole test {:?}",
        started.elapsed()
    );
}
