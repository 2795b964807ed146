//! The appliance image as a user runs it, built by `make image` and run here by Podman.
//!
//! - `the_image_serves_applies_and_bans_beside_asterisk`: the sipwarden image and the Asterisk
//!   image in one network namespace (what the compose file does with the host's), sharing the
//!   Asterisk configuration: the container becomes healthy, `/login` is served, the first
//!   start wrote a hardened configuration Asterisk booted on, an apply reaches Asterisk and is
//!   verified over AMI, an `svmap` scan from another namespace is banned in the kernel and the
//!   ban shows in the API; SIGTERM stops it cleanly.
//! - `bad_input_is_explained_in_the_log_and_the_console`: an unwritable `/data`, no
//!   capabilities, no Asterisk: the log says what is wrong and how to fix it, and the console
//!   (guard status, firewall apply) says the same.
//!
//! Root only. Never `--network host`: with NET_ADMIN a container would edit the host's
//! nftables. Every container runs in a namespace this test made (`--network ns:PATH`) or
//! with no network at all.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use reqwest::StatusCode;
use serde_json::json;
use tests::api::Api;
use tests::netns::{Lab, Net, NetNs};
use tests::process;
use tests::root;

const IMAGE: &str = "localhost/sipwarden:test";
const ASTERISK_IMAGE: &str = "localhost/sipwarden-asterisk:test";
/// The unprivileged user of the image (Dockerfile).
const IMAGE_UID: u32 = 10001;
const PASSWORD: &str = "correct horse battery staple";
const BASE: &str = "http://127.0.0.1:8080";

/// `podman` with the machine's containers.conf (written by `make podman-deps`) when the
/// caller did not name one: `cargo test` run by hand finds it too.
fn podman() -> Command {
    let mut cmd = Command::new(root::tool("podman"));
    if std::env::var_os("CONTAINERS_CONF").is_none() {
        let conf = Path::new("/var/cache/sipwarden/podman/containers.conf");
        if conf.is_file() {
            cmd.env("CONTAINERS_CONF", conf);
        }
    }
    cmd
}

fn podman_out(args: &[&str], timeout: Duration) -> Result<Output> {
    process::output(podman().args(args), timeout)
}

fn podman_ok(args: &[&str]) -> Result<String> {
    process::run(podman().args(args), Duration::from_secs(120))
}

/// Skips (or, in CI as root, fails) unless Podman and both images are there.
fn prerequisites(test: &str) -> bool {
    if !root::require_root(test) || root::require_command(test, "podman").is_none() {
        return false;
    }
    for image in [IMAGE, ASTERISK_IMAGE] {
        let exists = podman_out(&["image", "exists", image], Duration::from_secs(60))
            .is_ok_and(|o| o.status.success());
        if !exists {
            return root::skip(
                test,
                &format!("image {image} is not built (run `make image`, as root)"),
            );
        }
    }
    true
}

/// A running container, removed on drop.
struct Container {
    name: String,
}

impl Container {
    fn run(name: &str, args: &[&str], image: &str, cmd: &[&str]) -> Result<Container> {
        let name = format!("swtest-{}-{name}", std::process::id());
        // A leftover of a killed run with a reused pid.
        let _ = podman_out(&["rm", "-f", "-t", "0", &name], Duration::from_secs(60));
        let mut all = vec!["run", "-d", "--pull=never", "--name", &name];
        all.extend_from_slice(args);
        all.push(image);
        all.extend_from_slice(cmd);
        podman_ok(&all)?;
        Ok(Container { name })
    }

    fn logs(&self) -> String {
        podman_out(&["logs", &self.name], Duration::from_secs(30)).map_or_else(
            |e| format!("(no logs: {e})"),
            |o| {
                String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr)
            },
        )
    }

    fn inspect(&self, format: &str) -> String {
        podman_ok(&["inspect", "--format", format, &self.name])
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    fn running(&self) -> bool {
        self.inspect("{{.State.Running}}") == "true"
    }

    fn exec(&self, args: &[&str]) -> Result<Output> {
        let mut all = vec!["exec", &self.name];
        all.extend_from_slice(args);
        podman_out(&all, Duration::from_secs(60))
    }

    /// Polls the image's own HEALTHCHECK (`podman healthcheck run`) until it passes.
    fn wait_healthy(&self, timeout: Duration) -> Result<Duration> {
        let started = Instant::now();
        loop {
            let out = podman_out(&["healthcheck", "run", &self.name], Duration::from_secs(30))?;
            if out.status.success() {
                return Ok(started.elapsed());
            }
            if !self.running() {
                bail!("{} exited:\n{}", self.name, self.logs());
            }
            if started.elapsed() > timeout {
                bail!(
                    "{} not healthy after {timeout:?}: {}\n{}",
                    self.name,
                    String::from_utf8_lossy(&out.stdout),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn wait_log(&self, needle: &str, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        while !self.logs().contains(needle) {
            if started.elapsed() > timeout {
                bail!("`{needle}` not in {}'s log:\n{}", self.name, self.logs());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(())
    }

    /// The container's memory use right now, from its cgroup (what `podman stats` shows).
    fn memory(&self) -> String {
        podman_ok(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.MemUsage}}",
            &self.name,
        ])
        .unwrap_or_default()
        .trim()
        .to_owned()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman_out(
            &["rm", "-f", "-t", "0", &self.name],
            Duration::from_secs(60),
        );
    }
}

/// A directory the image's user owns (what a named volume gives it).
fn owned_dir(parent: &Path, name: &str) -> String {
    let dir = parent.join(name);
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(IMAGE_UID), Some(IMAGE_UID)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
    dir.display().to_string()
}

fn netns_arg(ns: &NetNs) -> String {
    format!("ns:/run/netns/{}", ns.name())
}

fn create_admin(c: &Container) {
    let out = c
        .exec(&[
            "env",
            &format!("SIPWARDEN_ADMIN_PASSWORD={PASSWORD}"),
            "sipwarden",
            "admin",
            "create",
            "--username",
            "admin",
        ])
        .unwrap();
    assert!(
        out.status.success(),
        "admin create: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn nft_set(ns: &NetNs, set: &str) -> String {
    ns.exec("nft", ["list", "set", "inet", "sipwarden", set])
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

#[test]
fn the_image_serves_applies_and_bans_beside_asterisk() {
    const TEST: &str = "the_image_serves_applies_and_bans_beside_asterisk";
    let started = Instant::now();
    if !prerequisites(TEST) || !root::require_commands(TEST, &["svmap", "nft"]) {
        return;
    }
    let lab = Lab::standard().expect("building the lab");
    let pbx = lab.ns("pbx");
    let pbx_ip = lab.host("pbx").ipv4;
    let attacker = lab.host("attacker").ipv4.to_string();
    let volumes = tempfile::tempdir().unwrap();
    let data = owned_dir(volumes.path(), "data");
    let etc = owned_dir(volumes.path(), "asterisk-etc");
    let network = netns_arg(pbx);

    // 1. sipwarden alone: healthy, the console served, a first configuration for Asterisk.
    let sw = Container::run(
        "sipwarden",
        &[
            "--network",
            &network,
            "--cap-drop",
            "ALL",
            "--cap-add",
            "NET_ADMIN",
            "--cap-add",
            "NET_RAW",
            "-v",
            &format!("{data}:/data"),
            "-v",
            &format!("{etc}:/etc/asterisk"),
        ],
        IMAGE,
        &[],
    )
    .unwrap();
    let healthy_in = sw.wait_healthy(Duration::from_secs(60)).unwrap();
    let log = sw.logs();
    assert!(log.contains("one-time setup token"), "{log}");
    assert!(
        log.contains("wrote the hardened configuration"),
        "no first configuration for Asterisk:\n{log}"
    );
    assert!(!log.contains("lacks the capability"), "{log}");
    for file in [
        "pjsip.conf",
        "extensions.conf",
        "manager.conf",
        "logger.conf",
    ] {
        assert!(Path::new(&etc).join(file).is_file(), "{file} not written");
    }
    let login = pbx
        .block_on(async {
            let res = reqwest::get(format!("{BASE}/login")).await.unwrap();
            (res.status(), res.text().await.unwrap())
        })
        .unwrap();
    assert_eq!(login.0, StatusCode::OK);
    assert!(login.1.contains("<form"), "{}", login.1);
    std::thread::sleep(Duration::from_secs(2));
    let idle_memory = sw.memory();

    // 2. Asterisk beside it, booted on sipwarden's files; the guard's AMI tap logs in.
    let ast = Container::run(
        "asterisk",
        &["--network", &network, "-v", &format!("{etc}:/etc/asterisk")],
        ASTERISK_IMAGE,
        &[],
    )
    .unwrap();
    let booted = Instant::now();
    loop {
        let out = ast
            .exec(&["asterisk", "-rx", "core waitfullybooted"])
            .unwrap();
        if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("fully booted") {
            break;
        }
        assert!(
            ast.running() && booted.elapsed() < Duration::from_secs(90),
            "asterisk did not boot:\n{}",
            ast.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // The tap retries with growing pauses (at most 30 s) since sipwarden started first.
    sw.wait_log("AMI security tap connected", Duration::from_secs(60))
        .unwrap();
    create_admin(&sw);

    // 3. An apply reaches Asterisk and is verified over AMI; the firewall goes in.
    let office = Net::Office.cidr_v4();
    let (endpoint_id, applied) = pbx
        .block_on(async move {
            let api = Api::sign_in_at(BASE, "admin", PASSWORD).await.unwrap();
            let endpoint = api
                .create(
                    "/api/v1/endpoints",
                    json!({"extension": "1001", "display_name": "Front desk",
                           "permit": [office.clone()]}),
                )
                .await;
            let (status, applied) = api.call("POST", "/api/v1/config/apply", None).await;
            assert_eq!(status, StatusCode::OK, "{applied}");
            let (_, doc) = api.call("GET", "/api/v1/firewall", None).await;
            let mut policy = doc["policy"].clone();
            policy["trusted_networks"] = json!([office]);
            let (status, doc) = api.call("PUT", "/api/v1/firewall", Some(policy)).await;
            assert_eq!(status, StatusCode::OK, "{doc}");
            let (status, fw) = api.call("POST", "/api/v1/firewall/apply", None).await;
            assert_eq!(status, StatusCode::OK, "{fw}");
            let (status, _) = api.call("POST", "/api/v1/firewall/confirm", None).await;
            assert_eq!(status, StatusCode::NO_CONTENT);
            (endpoint["id"].as_str().unwrap().to_owned(), applied)
        })
        .unwrap();
    let endpoints = String::from_utf8_lossy(
        &ast.exec(&["asterisk", "-rx", "pjsip show endpoints"])
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert!(
        endpoints.contains(&endpoint_id),
        "the applied endpoint is not in Asterisk: {endpoints}\napply: {applied}"
    );

    // 4. A scan from the Internet namespace: banned in the kernel and listed in the API.
    let home = tempfile::tempdir().unwrap();
    let mut svmap = lab
        .ns("attacker")
        .command("svmap", ["-p5060", &pbx_ip.to_string()]);
    svmap.env("HOME", home.path());
    let scan = process::output(&mut svmap, Duration::from_secs(60)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !nft_set(pbx, "ban_v4").contains(&attacker) {
        assert!(
            Instant::now() < deadline,
            "the scan was not banned in the kernel: {}\nsvmap: {}\n{}",
            nft_set(pbx, "ban_v4"),
            String::from_utf8_lossy(&scan.stdout),
            sw.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let bans = pbx
        .block_on(async {
            let api = Api::sign_in_at(BASE, "admin", PASSWORD).await.unwrap();
            let (status, bans) = api.call("GET", "/api/v1/bans", None).await;
            assert_eq!(status, StatusCode::OK);
            bans
        })
        .unwrap();
    let ban = bans["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["address"] == attacker.as_str())
        .unwrap_or_else(|| panic!("no ban of {attacker} in the API: {bans}"));
    assert_eq!(ban["origin"], "guard", "{ban}");

    // 5. SIGTERM (what `docker stop` sends) ends it cleanly.
    let stop = Instant::now();
    podman_ok(&["stop", "-t", "20", &sw.name]).unwrap();
    let stopped_in = stop.elapsed();
    assert_eq!(sw.inspect("{{.State.ExitCode}}"), "0", "{}", sw.logs());
    assert!(sw.logs().contains("sipwarden stopped"), "{}", sw.logs());
    assert!(
        stopped_in < Duration::from_secs(15),
        "took {stopped_in:?}: SIGTERM was not handled"
    );
    eprintln!(
        "{TEST}: healthy after {healthy_in:?}; idle memory {idle_memory}; stopped in \
         {stopped_in:?}; whole test {:?}",
        started.elapsed()
    );
}

#[test]
fn bad_input_is_explained_in_the_log_and_the_console() {
    const TEST: &str = "bad_input_is_explained_in_the_log_and_the_console";
    if !prerequisites(TEST) {
        return;
    }
    let volumes = tempfile::tempdir().unwrap();

    // 1. A /data the image's user cannot write (a root-owned bind mount): refused at start.
    let root_owned = volumes.path().join("root-owned");
    std::fs::create_dir(&root_owned).unwrap();
    std::fs::set_permissions(&root_owned, std::fs::Permissions::from_mode(0o755)).unwrap();
    let unwritable = Container::run(
        "unwritable",
        &[
            "--network",
            "none",
            "-v",
            &format!("{}:/data", root_owned.display()),
        ],
        IMAGE,
        &[],
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while unwritable.running() {
        assert!(
            Instant::now() < deadline,
            "it kept running: {}",
            unwritable.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_ne!(unwritable.inspect("{{.State.ExitCode}}"), "0");
    let log = unwritable.logs();
    for needle in ["/data is not writable", "uid 10001", "chown -R 10001:10001"] {
        assert!(log.contains(needle), "`{needle}` missing:\n{log}");
    }

    // 2. No capabilities and no Asterisk: it runs, and says what is missing and how to fix it.
    let ns = NetNs::new("nocaps").unwrap();
    let data = owned_dir(volumes.path(), "data");
    let bare = Container::run(
        "nocaps",
        &[
            "--network",
            &netns_arg(&ns),
            "--cap-drop",
            "ALL",
            "-v",
            &format!("{data}:/data"),
        ],
        IMAGE,
        &[],
    )
    .unwrap();
    bare.wait_healthy(Duration::from_secs(60)).unwrap();
    bare.wait_log("AMI security tap down", Duration::from_secs(30))
        .unwrap();
    let log = bare.logs();
    for needle in [
        "lacks the capability NET_ADMIN",
        "lacks the capability NET_RAW",
        "--cap-add NET_ADMIN",
        "cap_add: [NET_ADMIN, NET_RAW]",
        "is Asterisk running",
    ] {
        assert!(log.contains(needle), "`{needle}` missing:\n{log}");
    }
    create_admin(&bare);
    let (guard, firewall) = ns
        .block_on(async {
            let api = Api::sign_in_at(BASE, "admin", PASSWORD).await.unwrap();
            let (_, guard) = api.call("GET", "/api/v1/guard/status", None).await;
            let (_, firewall) = api.call("POST", "/api/v1/firewall/apply", None).await;
            (guard, firewall)
        })
        .unwrap();
    let taps = guard["taps"].to_string();
    assert!(
        taps.contains("lacks the capability NET_RAW") && taps.contains("is Asterisk running"),
        "the console's guard status does not say it: {guard}"
    );
    assert!(
        firewall.to_string().contains("--cap-add NET_ADMIN"),
        "the firewall apply does not say it: {firewall}"
    );
}
