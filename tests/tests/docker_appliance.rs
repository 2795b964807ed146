//! The appliance image as a user runs it, built by `make image` and run here by Podman.
//!
//! - `the_compose_file_runs_the_appliance_beside_asterisk`: the shipped `docker-compose.yml`,
//!   run by Docker Compose v2 (`docker compose`) against Podman's Docker API: the sipwarden
//!   container becomes healthy, `/login` is served, the first start wrote a hardened
//!   configuration Asterisk booted on (shared volume, one network namespace), an apply reaches
//!   Asterisk and is verified over AMI, an `svmap` scan from another namespace is banned in the
//!   kernel and the ban shows in the API; the README's backup, stop (SIGTERM) and upgrade
//!   (`up` again on the same volumes) work.
//! - `bad_input_is_explained_in_the_log_and_the_console`: an unwritable `/data`, no
//!   capabilities, no Asterisk: the log says what is wrong and how to fix it, and the console
//!   (guard status, firewall apply) says the same.
//!
//! Root only. Never the real host's network: with NET_ADMIN a container would edit the host's
//! nftables. Every container runs in a namespace this test made (`--network ns:PATH`, or the
//! compose file's host network served from inside one) or with no network at all.

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

/// The image `make image` builds; `SIPWARDEN_TEST_IMAGE` names another (`make
/// image-from-source` runs these tests on the image built through the Dockerfile's `build` stage).
const DEFAULT_IMAGE: &str = "localhost/sipwarden:test";
const ASTERISK_IMAGE: &str = "localhost/sipwarden-asterisk:test";
/// The unprivileged user of the image (Dockerfile).
const IMAGE_UID: u32 = 10001;
const PASSWORD: &str = "correct horse battery staple";
/// The appliance serves HTTPS by default (a self-signed certificate of its own; `front_door`
/// checks such a certificate by its fingerprint).
const BASE: &str = "https://127.0.0.1:8443";

fn image() -> String {
    std::env::var("SIPWARDEN_TEST_IMAGE").unwrap_or_else(|_| DEFAULT_IMAGE.to_owned())
}

/// `podman` with the machine's containers.conf (written by `make podman-deps`) when the
/// caller did not name one: `cargo test` run by hand finds it too.
fn podman() -> Command {
    let mut cmd = Command::new(root::tool("podman"));
    if let Some(conf) = containers_conf() {
        cmd.env("CONTAINERS_CONF", conf);
    }
    cmd
}

fn containers_conf() -> Option<std::ffi::OsString> {
    std::env::var_os("CONTAINERS_CONF").or_else(|| {
        let conf = Path::new("/var/cache/sipwarden/podman/containers.conf");
        conf.is_file().then(|| conf.as_os_str().to_owned())
    })
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
    for image in [image().as_str(), ASTERISK_IMAGE] {
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

/// A container, reached through this machine's Podman or through a Podman API (`remote`: a
/// compose service's, whose network namespace only that API's process is in); removed on
/// drop when this test started it.
struct Container {
    name: String,
    remote: Option<String>,
    owned: bool,
}

impl Container {
    fn run(name: &str, args: &[&str], image: &str, cmd: &[&str]) -> Result<Container> {
        let name = format!("swtest-{}-{name}", std::process::id());
        // A leftover of a killed run with a reused pid.
        let _ = podman_out(
            &["rm", "-f", "-v", "-t", "0", &name],
            Duration::from_secs(60),
        );
        let mut all = vec!["run", "-d", "--pull=never", "--name", &name];
        all.extend_from_slice(args);
        all.push(image);
        all.extend_from_slice(cmd);
        podman_ok(&all)?;
        Ok(Container {
            name,
            remote: None,
            owned: true,
        })
    }

    fn podman(&self, args: &[&str], timeout: Duration) -> Result<Output> {
        let mut cmd = podman();
        if let Some(url) = &self.remote {
            cmd.args(["--remote", "--url", url]);
        }
        process::output(cmd.args(args), timeout)
    }

    fn logs(&self) -> String {
        self.podman(&["logs", &self.name], Duration::from_secs(30))
            .map_or_else(
                |e| format!("(no logs: {e})"),
                |o| {
                    String::from_utf8_lossy(&o.stdout).into_owned()
                        + &String::from_utf8_lossy(&o.stderr)
                },
            )
    }

    fn inspect(&self, format: &str) -> String {
        self.podman(
            &["inspect", "--format", format, &self.name],
            Duration::from_secs(60),
        )
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
    }

    fn running(&self) -> bool {
        self.inspect("{{.State.Running}}") == "true"
    }

    fn exec(&self, args: &[&str]) -> Result<Output> {
        let mut all = vec!["exec", &self.name];
        all.extend_from_slice(args);
        self.podman(&all, Duration::from_secs(60))
    }

    /// Runs the image's own HEALTHCHECK (`podman healthcheck run`, what Docker's timer does;
    /// Podman's timers need systemd, absent here) until it passes.
    fn wait_healthy(&self, timeout: Duration) -> Result<Duration> {
        let started = Instant::now();
        loop {
            let out = self.podman(&["healthcheck", "run", &self.name], Duration::from_secs(30))?;
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
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.owned {
            let _ = podman_out(
                &["rm", "-f", "-v", "-t", "0", &self.name],
                Duration::from_secs(60),
            );
        }
    }
}

/// A container's memory use right now, from its cgroup (what `podman stats` shows).
fn memory(container: &str) -> String {
    podman_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.MemUsage}}",
        container,
    ])
    .unwrap_or_default()
    .trim()
    .to_owned()
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

/// The shipped `docker-compose.yml`, run by Docker Compose v2 (the program behind
/// `docker compose`) against Podman's Docker API. The API service runs inside a namespace this
/// test made, so for the compose file's `network_mode: host` that namespace is the host: the
/// appliance's nftables table, capture and AMI stay off the real host's network.
struct Compose {
    project: String,
    socket: String,
    service: std::process::Child,
    dir: tempfile::TempDir,
}

impl Compose {
    /// Starts Podman's Docker API in `ns` (only its network namespace: the containers' storage
    /// and mounts stay the machine's).
    fn serve_in(ns: &NetNs) -> Result<Compose> {
        let dir = tempfile::tempdir()?;
        let socket = dir.path().join("docker.sock");
        let log = std::fs::File::create(dir.path().join("podman-service.log"))?;
        let mut cmd = Command::new(root::tool("nsenter"));
        cmd.arg(format!("--net=/run/netns/{}", ns.name()))
            .arg("--")
            .arg(root::tool("podman"))
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(conf) = containers_conf() {
            cmd.env("CONTAINERS_CONF", conf);
        }
        let service = cmd.spawn()?;
        let compose = Compose {
            project: format!("swtest{}", std::process::id()),
            socket: format!("unix://{}", socket.display()),
            service,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            if Instant::now() > deadline {
                bail!("Podman's API did not come up:\n{}", compose.service_log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // A leftover of a killed run with a reused pid.
        let _ = compose.compose(&["down", "--volumes", "--timeout", "0"]);
        Ok(compose)
    }

    fn service_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("podman-service.log")).unwrap_or_default()
    }

    /// `docker compose -p PROJECT -f docker-compose.yml ARGS`, on the test's images.
    fn compose(&self, args: &[&str]) -> Result<Output> {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker-compose.yml");
        let mut cmd = Command::new(root::tool("docker-compose"));
        cmd.arg("--project-name")
            .arg(&self.project)
            .arg("--file")
            .arg(file)
            .args(args)
            .env("DOCKER_HOST", &self.socket)
            .env("SIPWARDEN_IMAGE", image())
            .env("SIPWARDEN_ASTERISK_IMAGE", ASTERISK_IMAGE);
        process::output(&mut cmd, Duration::from_secs(180))
    }

    fn compose_ok(&self, args: &[&str]) -> String {
        let out = self.compose(args).unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "docker compose {args:?}: {text}");
        text
    }

    /// The container of `service`, reached through the API.
    fn service(&self, service: &str) -> Container {
        Container {
            name: format!("{}-{service}-1", self.project),
            remote: Some(self.socket.clone()),
            owned: false,
        }
    }

    /// Compose itself reports `service` healthy.
    fn assert_healthy(&self, service: &str) {
        let ps = self.compose_ok(&["ps", "--format", "{{.Service}} {{.Health}}"]);
        assert!(
            ps.lines().any(|l| l.trim() == format!("{service} healthy")),
            "compose does not report {service} healthy: {ps}"
        );
    }
}

/// Waits until Asterisk in `ast` says it has fully booted.
fn wait_asterisk_booted(ast: &Container) {
    let started = Instant::now();
    loop {
        let out = ast
            .exec(&["asterisk", "-rx", "core waitfullybooted"])
            .unwrap();
        if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("fully booted") {
            return;
        }
        assert!(
            ast.running() && started.elapsed() < Duration::from_secs(90),
            "asterisk did not boot:\n{}",
            ast.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "--volumes", "--timeout", "0"]);
        let _ = self.service.kill();
        let _ = self.service.wait();
    }
}

#[test]
fn the_compose_file_runs_the_appliance_beside_asterisk() {
    const TEST: &str = "the_compose_file_runs_the_appliance_beside_asterisk";
    let started = Instant::now();
    if !prerequisites(TEST) || !root::require_commands(TEST, &["svmap", "nft", "nsenter"]) {
        return;
    }
    if root::require_command(TEST, "docker-compose").is_none() {
        return;
    }
    let lab = Lab::standard().expect("building the lab");
    let pbx = lab.ns("pbx");
    let pbx_ip = lab.host("pbx").ipv4;
    let attacker = lab.host("attacker").ipv4.to_string();
    let compose = Compose::serve_in(pbx).unwrap();
    let sw = compose.service("sipwarden");
    let ast = compose.service("asterisk");

    // 1. `docker compose up -d`: sipwarden healthy, the console served, a first hardened
    //    configuration Asterisk boots on, the guard's AMI tap logged in.
    let up = Instant::now();
    compose.compose_ok(&["up", "--detach", "--no-build", "--pull", "never"]);
    sw.wait_healthy(Duration::from_secs(60)).unwrap();
    let healthy_in = up.elapsed();
    compose.assert_healthy("sipwarden");
    let log = sw.logs();
    assert!(log.contains("one-time setup token"), "{log}");
    assert!(
        log.contains("wrote the hardened configuration"),
        "no first configuration for Asterisk:\n{log}"
    );
    assert!(!log.contains("lacks the capability"), "{log}");
    for container in [&sw, &ast] {
        let probe = container.exec(&["touch", "/probe"]).unwrap();
        assert!(
            !probe.status.success(),
            "{}'s root filesystem is writable (read_only in the compose file)",
            container.name
        );
    }
    let login = pbx
        .block_on(async {
            let client = reqwest::Client::builder()
                .danger_accept_invalid_certs(true)
                .build()
                .unwrap();
            let res = client.get(format!("{BASE}/login")).send().await.unwrap();
            (res.status(), res.text().await.unwrap())
        })
        .unwrap();
    assert_eq!(login.0, StatusCode::OK);
    assert!(login.1.contains("<form"), "{}", login.1);
    wait_asterisk_booted(&ast);
    // The tap retries with growing pauses (at most 30 s) while Asterisk starts.
    sw.wait_log("AMI security tap connected", Duration::from_secs(60))
        .unwrap();
    let idle_memory = memory(&sw.name);
    // The README's shell route to the first administrator.
    let created = compose.compose_ok(&[
        "exec",
        "--env",
        &format!("SIPWARDEN_ADMIN_PASSWORD={PASSWORD}"),
        "sipwarden",
        "sipwarden",
        "admin",
        "create",
        "--username",
        "admin",
    ]);
    assert!(
        !created.contains(PASSWORD),
        "the password was echoed: {created}"
    );

    // 2. An apply reaches Asterisk and is verified over AMI; the firewall goes in.
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
    let endpoints = ast
        .exec(&["asterisk", "-rx", "pjsip show endpoints"])
        .unwrap();
    let endpoints = String::from_utf8_lossy(&endpoints.stdout);
    assert!(
        endpoints.contains(&endpoint_id),
        "the applied endpoint is not in Asterisk: {endpoints}\napply: {applied}"
    );

    // 3. A scan from the Internet namespace: banned in the kernel and listed in the API.
    let home = tempfile::tempdir().unwrap();
    let mut svmap = lab
        .ns("attacker")
        .command("svmap", ["-p5060", &pbx_ip.to_string()]);
    svmap.env("HOME", home.path());
    let scan = process::output(&mut svmap, Duration::from_secs(60)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pbx.nft_set("ban_v4").contains(&attacker) {
        assert!(
            Instant::now() < deadline,
            "the scan was not banned in the kernel: {}\nsvmap: {}\n{}",
            pbx.nft_set("ban_v4"),
            String::from_utf8_lossy(&scan.stdout),
            sw.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let bans = api_get(pbx, "/api/v1/bans");
    let ban = bans["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["address"] == attacker.as_str())
        .unwrap_or_else(|| panic!("no ban of {attacker} in the API: {bans}"));
    assert_eq!(ban["origin"], "guard", "{ban}");

    // 4. The README's backup, while running: a consistent copy with the data in it.
    compose.compose_ok(&[
        "exec",
        "sipwarden",
        "sipwarden",
        "backup",
        "/data/backup.sqlite3",
    ]);
    let copy = tempfile::tempdir().unwrap();
    let copied = copy.path().join("backup.sqlite3");
    compose.compose_ok(&[
        "cp",
        "sipwarden:/data/backup.sqlite3",
        &copied.display().to_string(),
    ]);
    let rows = process::run(
        Command::new(root::tool("sqlite3")).arg(&copied).arg(
            "PRAGMA integrity_check; SELECT count(*) FROM endpoints WHERE extension = '1001';",
        ),
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(
        rows.split_whitespace().collect::<Vec<_>>(),
        ["ok", "1"],
        "{rows}"
    );

    // 5. SIGTERM (`docker compose stop`) ends it cleanly; the README's upgrade (`up -d` on the
    //    same volumes) keeps the administrator, the endpoint and the ban in the kernel.
    let stop = Instant::now();
    compose.compose_ok(&["stop", "sipwarden"]);
    let stopped_in = stop.elapsed();
    assert_eq!(sw.inspect("{{.State.ExitCode}}"), "0", "{}", sw.logs());
    assert!(sw.logs().contains("sipwarden stopped"), "{}", sw.logs());
    assert!(
        stopped_in < Duration::from_secs(15),
        "took {stopped_in:?}: SIGTERM was not handled"
    );
    compose.compose_ok(&[
        "up",
        "--detach",
        "--no-build",
        "--pull",
        "never",
        "--force-recreate",
    ]);
    sw.wait_healthy(Duration::from_secs(60)).unwrap();
    compose.assert_healthy("sipwarden");
    let kept = api_get(pbx, "/api/v1/endpoints");
    assert_eq!(kept["total"], 1, "{kept}");
    assert!(
        pbx.nft_set("ban_v4").contains(&attacker),
        "the ban was not restored"
    );
    eprintln!(
        "{TEST}: healthy {healthy_in:?} after `up`; idle memory {idle_memory}; stopped in \
         {stopped_in:?}; whole test {:?}",
        started.elapsed()
    );
}

/// GET `path` as the administrator, from inside `ns`.
fn api_get(ns: &NetNs, path: &'static str) -> serde_json::Value {
    ns.block_on(async move {
        let api = Api::sign_in_at(BASE, "admin", PASSWORD).await.unwrap();
        let (status, doc) = api.call("GET", path, None).await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        doc
    })
    .unwrap()
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
        &image(),
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
        &image(),
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
        "lacks the capability SYS_NICE",
        "cap_add: [NET_ADMIN, NET_RAW, SYS_NICE]",
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
