//! The guard's AMI tap against a real Asterisk 22 and SIPVicious: `svcrack` guesses a
//! password at full speed from the Internet; the tap reads Asterisk's security events as the
//! guard's own read-only account, the engine decides, and the ban goes into the kernel of the
//! PBX's namespace. Asterisk's own security log then counts how many wrong passwords reached
//! it: the policy's threshold and a few more, as AMI reports a guess only after Asterisk has
//! answered it (fail2ban let 63–71 through in the same setting; the capture tap, which sees the
//! guess before Asterisk does, lets exactly the threshold through: `guard_capture`).

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backend::firewall::{Firewall, Target};
use backend::guard::ami_tap::{self, AmiTapConfig, TapState};
use backend::guard::{Enforcer, Guard};
use policy::asterisk::{
    Endpoint, GlobalPolicy, NewEndpoint, PbxModel, PolicySettings, Revision, Target as AstTarget,
    render,
};
use policy::firewall::CheckPolicy;
use policy::firewall::{FirewallPolicy, TimedAddress};
use policy::guard::{BanDecision, Engine, GuardPolicy};
use rand::SeedableRng;
use tests::asterisk::{self, Asterisk};
use tests::netns::{Lab, Net};
use tests::root;

const TEST: &str = "guard_ami";
const GUARD_SECRET: &str = "GuardSecret0123456789abcdEFGH";

/// Bans in the lab's kernel, as the appliance does.
struct KernelEnforcer(Firewall);

#[async_trait::async_trait]
impl Enforcer for KernelEnforcer {
    async fn enforce(&self, bans: &[BanDecision], _decided_at: std::time::SystemTime) {
        let entries: Vec<TimedAddress> = bans
            .iter()
            .map(|b| {
                TimedAddress::expiring(
                    b.source,
                    u32::try_from(b.duration.as_secs())
                        .unwrap_or(u32::MAX)
                        .max(1),
                )
            })
            .collect();
        if let Err(e) = self.0.ban_many(&entries).await {
            eprintln!("{TEST}: ban failed: {e}");
        }
    }
}

#[test]
fn svcrack_is_banned_after_exactly_the_threshold_of_failures_reached_asterisk() {
    let started = Instant::now();
    if asterisk::require_rootfs(TEST).is_none()
        || !root::require_commands(TEST, &["svcrack", "nft"])
    {
        return;
    }
    let lab = Lab::standard().expect("building the lab");
    let pbx_ip = lab.host("pbx").ipv4;
    let attacker: IpAddr = lab.host("attacker").ipv4.into();

    // A remote worker's endpoint that may register from the Internet: its password is what
    // the attacker guesses (an endpoint closed to the Internet is refused by its ACL first).
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let policy = GlobalPolicy::new(
        PolicySettings {
            sip_bind_v4: pbx_ip,
            guard_ami_secret: Some(GUARD_SECRET.to_owned()),
            ..PolicySettings::default()
        },
        &mut rng,
    )
    .unwrap();
    let remote = Endpoint::provision(
        NewEndpoint {
            extension: "1001".into(),
            display_name: "Remote worker".into(),
            permit: vec![Net::Office.cidr_v4(), Net::Internet.cidr_v4()],
            ..NewEndpoint::default()
        },
        &policy,
        &mut rng,
    )
    .unwrap();
    let id = remote.endpoint.id().to_string();
    let model = PbxModel::new(policy, vec![remote.endpoint], vec![], vec![]).unwrap();
    let bundle = render(&model, AstTarget::Asterisk22Pjsip, Revision::new(1));
    let files: Vec<(&str, &str)> = bundle
        .files
        .iter()
        .map(|f| (f.name, f.contents.as_str()))
        .collect();
    let ast = Asterisk::start(lab.ns("pbx"), &files).expect("starting asterisk");

    let state = tempfile::tempdir().unwrap();
    let firewall = Firewall::new(Target::netns(lab.ns("pbx").name()), state.path());
    let checked = FirewallPolicy {
        trusted_networks: vec![Net::Office.cidr_v4()],
        ..FirewallPolicy::default()
    }
    .check()
    .unwrap();
    let guard_policy = GuardPolicy::default();
    let threshold = guard_policy.guessing.max_failures;

    let wordlist = state.path().join("words.txt");
    let words: Vec<String> = (0..60).map(|i| format!("wrong-guess-{i:02}")).collect();
    std::fs::write(&wordlist, words.join("\n") + "\n").unwrap();
    let mut svcrack = lab.ns("attacker").command("svcrack", ["-u", &id, "-d"]);
    svcrack
        .arg(&wordlist)
        .args(["-p5060", &pbx_ip.to_string()])
        .env("HOME", state.path());

    let (bans_in_kernel, svcrack_took) = lab
        .ns("pbx")
        .block_on(async move {
            firewall
                .apply(&checked)
                .await
                .expect("applying the ruleset");
            let firewall = Arc::new(firewall);
            let guard = Guard::new(
                Engine::new(guard_policy).unwrap(),
                Arc::new(KernelEnforcer(Firewall::clone(&firewall))),
            );
            let mut tap = ami_tap::spawn(
                AmiTapConfig {
                    addr: "127.0.0.1:5038".parse().unwrap(),
                    user: "sipwarden-guard".to_owned(),
                    secret: GUARD_SECRET.to_owned(),
                    timeout: Duration::from_secs(5),
                },
                guard.clone(),
            );
            tokio::time::timeout(Duration::from_secs(20), async {
                while *tap.borrow_and_update() != TapState::Connected {
                    tap.changed().await.unwrap();
                }
            })
            .await
            .expect("the tap did not connect");
            let t = Instant::now();
            let out = tokio::task::spawn_blocking(move || {
                tests::process::output(&mut svcrack, Duration::from_secs(120)).expect("svcrack")
            })
            .await
            .unwrap();
            assert!(
                !String::from_utf8_lossy(&out.stdout).contains("wrong-guess"),
                "svcrack cannot have found a password"
            );
            let bans = firewall.bans().await.unwrap();
            (bans, t.elapsed())
        })
        .unwrap();
    assert!(
        bans_in_kernel.iter().any(|b| b.address == attacker),
        "the attacker is not in the kernel's ban set: {bans_in_kernel:?}"
    );

    let from_attacker = format!("RemoteAddress=\"IPV4/UDP/{attacker}/");
    let log = ast.security_log();
    let failures = log
        .lines()
        .filter(|l| {
            l.contains("SecurityEvent=\"ChallengeResponseFailed\"") && l.contains(&from_attacker)
        })
        .count();
    eprintln!(
        "{TEST}: {failures} wrong passwords reached Asterisk before the ban (threshold {threshold}); \
         svcrack ran {svcrack_took:?}; whole test {:?}",
        started.elapsed()
    );
    let kinds: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&from_attacker))
        .filter_map(|l| l.split("SecurityEvent=\"").nth(1))
        .filter_map(|r| r.split('"').next())
        .collect();
    eprintln!("{TEST}: events from the attacker, in order: {kinds:?}");
    // The AMI event for guess N is sent after Asterisk answered it, and svcrack fires guess
    // N+1 the moment that answer arrives (a guess takes well under a millisecond here); a ban
    // decided from AMI alone therefore lands one guess late when idle (5–6 in 5 runs), and
    // up to three late while the machine is busy (seen: 8 in a full `make test`, 7 during a
    // parallel release build). The bound leaves room for twice that lateness on a CI
    // machine; svcrack would try all 60 words without a ban. Exactly N is the capture tap's
    // job, asserted in `guard_capture`; here the AMI path must ban, and within a handful of
    // guesses.
    let n = usize::try_from(threshold).unwrap();
    assert!(
        (n..=n + 8).contains(&failures),
        "{failures} failed guesses reached Asterisk; the threshold is {n}"
    );
}
