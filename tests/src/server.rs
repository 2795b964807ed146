//! The real sipwarden server, started as its own process on port 0 with a fresh data
//! directory, and typed helpers to talk to it.
//!
//! A process rather than an in-process router: the tests then also cover the CLI, the
//! configuration layers, migrations at start-up, logging and shutdown exactly as users run
//! them.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The `sipwarden` program under test.
///
/// `cargo test` builds it as `sipwarden-e2e` (the same `backend::cli::run` entry point, see
/// `src/bin/sipwarden-e2e.rs`) next to the test executables. `SIPWARDEN_TEST_BIN` overrides it
/// (to test a release build or an installed binary).
pub fn binary() -> anyhow::Result<PathBuf> {
    if let Ok(bin) = std::env::var("SIPWARDEN_TEST_BIN") {
        return Ok(PathBuf::from(bin));
    }
    // The test executable lives in <target>/<profile>/deps/; the binary one level up.
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot find the target directory from the test executable")?
        .join("sipwarden-e2e");
    if !bin.is_file() {
        bail!(
            "no test binary at {}: run the tests with `cargo test -p tests` (or `make test`), \
             which builds it",
            bin.display()
        );
    }
    Ok(bin)
}

/// The workspace's root directory.
#[must_use]
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The built console site (hydration bundle), if `make site` has run.
#[must_use]
pub fn site_dir() -> PathBuf {
    std::env::var("SIPWARDEN_TEST_SITE_DIR")
        .map_or_else(|_| workspace_root().join("target/site"), PathBuf::from)
}

/// A running sipwarden with its own data directory; stopped (SIGTERM) on drop.
pub struct TestServer {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT` (`https://` when the server serves HTTPS)
    pub base: String,
    /// The data directory (deleted on drop).
    pub data: tempfile::TempDir,
    log: Arc<Mutex<String>>,
    /// The threads copying its stdout and stderr into `log`.
    readers: Vec<std::thread::JoinHandle<()>>,
    /// The one-time setup token the server printed, if no administrator existed.
    pub setup_token: Option<String>,
}

/// Options for [`TestServer::start_with`].
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Create this administrator (username, password) before starting.
    pub admin: Option<(String, String)>,
    /// Reuse this data directory's contents (copied from a previous server).
    pub data_from: Option<PathBuf>,
}

/// The password tests give the default administrator.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

impl TestServer {
    /// A server with one administrator `admin` / [`ADMIN_PASSWORD`].
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(Options {
            admin: Some(("admin".to_owned(), ADMIN_PASSWORD.to_owned())),
            ..Options::default()
        })
    }

    /// A server with no administrator (setup pending).
    pub fn start_fresh() -> anyhow::Result<Self> {
        Self::start_with(Options::default())
    }

    /// A server started with `options`.
    pub fn start_with(options: Options) -> anyhow::Result<Self> {
        let data = tempfile::tempdir()?;
        if let Some(from) = &options.data_from {
            copy_tree(from, data.path())?;
        }
        if let Some((user, password)) = &options.admin {
            let out = run_cli(
                data.path(),
                &["admin", "create", "--username", user],
                Some(password),
                &[],
            )?;
            if !out.status.success() {
                bail!(
                    "admin create failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let mut command = Command::new(binary()?);
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SIPWARDEN_DATA_DIR", data.path())
            .env("SIPWARDEN_LISTEN", "127.0.0.1:0")
            .env("SIPWARDEN_SITE_DIR", site_dir())
            .env("SIPWARDEN_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &options.env {
            command.env(k, v);
        }
        let mut child = command.spawn().context("cannot start sipwarden serve")?;
        let log = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().context("no stdout")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let mut readers = Vec::new();
        for stream in [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ] {
            let log = log.clone();
            let tx = tx.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let plain = strip_ansi(&line);
                    if let Ok(mut l) = log.lock() {
                        l.push_str(&plain);
                        l.push('\n');
                    }
                    let _ = tx.send(plain);
                }
            }));
        }
        drop(tx);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut base = None;
        let mut setup_token = None;
        let expect_token = options.admin.is_none() && options.data_from.is_none();
        while base.is_none() || (expect_token && setup_token.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                bail!(
                    "sipwarden did not start within 30 s; its output:\n{}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                );
            };
            // The same words appear in human and JSON log lines; the value ends at a blank or
            // a quote either way.
            let value_after = |marker: &str| {
                line.split(marker).nth(1).map(|rest| {
                    rest.split(|c: char| c.is_whitespace() || c == '"')
                        .next()
                        .unwrap_or("")
                        .to_owned()
                })
            };
            if let Some(addr) = value_after("listening on ") {
                // Listening on every address: talk to it over loopback.
                base = Some(
                    addr.replace("0.0.0.0", "127.0.0.1")
                        .replace("[::]", "[::1]"),
                );
            }
            if let Some(token) = value_after("one-time setup token: ") {
                setup_token = Some(token);
            }
        }
        Ok(Self {
            child: Some(child),
            base: base.unwrap_or_default(),
            data,
            log,
            readers,
            setup_token,
        })
    }

    /// An absolute URL on this server.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Everything the server has printed so far.
    #[must_use]
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits until the log holds `needle` (for lines the server prints after "listening").
    pub async fn wait_log(&self, needle: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.log().contains(needle) {
            if Instant::now() > deadline {
                bail!(
                    "`{needle}` not in the log within {timeout:?}:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// A client with its own cookie jar that does not follow redirects (tests assert them).
    /// Over HTTPS it takes the server's self-signed certificate (`front_door` checks that
    /// certificate by its fingerprint).
    #[must_use]
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(self.base.starts_with("https://"))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default()
    }

    /// Signs in over the API; returns the client (holding the cookie) and the CSRF token.
    pub async fn api_sign_in(
        &self,
        username: &str,
        password: &str,
    ) -> anyhow::Result<(reqwest::Client, String)> {
        let client = self.client();
        let res = client
            .post(self.url("/api/v1/session"))
            .json(&serde_json::json!({ "username": username, "password": password }))
            .send()
            .await?;
        if res.status() != reqwest::StatusCode::CREATED {
            bail!("sign-in failed: {} {}", res.status(), res.text().await?);
        }
        let body: serde_json::Value = res.json().await?;
        let csrf = body["csrf_token"]
            .as_str()
            .context("no csrf_token")?
            .to_owned();
        Ok((client, csrf))
    }

    /// Runs a `sipwarden` subcommand against this server's data directory.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<std::process::Output> {
        run_cli(self.data.path(), args, stdin, &[])
    }

    /// `sipwarden render --out DIR` of this server's model; an error with its stderr when it
    /// fails.
    pub fn render(&self, out: &Path) -> anyhow::Result<()> {
        let out_arg = out.to_str().context("a non-UTF-8 path")?;
        let res = self.cli(&["render", "--out", out_arg], None)?;
        if !res.status.success() {
            bail!("render: {}", String::from_utf8_lossy(&res.stderr));
        }
        Ok(())
    }

    /// Sends SIGTERM and waits for the exit status, and for the log to hold everything the
    /// server printed.
    pub fn terminate(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        let mut child = self.child.take().context("already stopped")?;
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait()? {
                // The readers end at the pipes' end; a child process of the server that
                // still holds them must not hang the test.
                let drained = Instant::now() + Duration::from_secs(5);
                while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < drained {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("sipwarden did not stop within 15 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.terminate();
        }
    }
}

/// Copies the files and directories of `from` into `to` (a data directory has both: the
/// database and, e.g., the firewall's state).
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, target)?;
        } else if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Runs `sipwarden ARGS` with `data` as its data directory.
pub fn run_cli(
    data: &Path,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> anyhow::Result<std::process::Output> {
    let mut command = Command::new(binary()?);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SIPWARDEN_DATA_DIR", data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn()?;
    if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
        pipe.write_all(input.as_bytes())?;
        pipe.write_all(b"\n")?;
    }
    Ok(child.wait_with_output()?)
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs `sql` with the sqlite3 command against the database file `db` (a server's, whether
/// it runs or not: SQLite locks for itself); returns what it printed, trimmed.
///
/// # Panics
/// When sqlite3 cannot run or refuses the SQL (a test precondition).
pub fn sqlite(db: &Path, sql: &str) -> String {
    let out = std::process::Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("running sqlite3");
    assert!(
        out.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl TestServer {
    /// The server's database file.
    #[must_use]
    pub fn database(&self) -> PathBuf {
        self.data.path().join("sipwarden.sqlite3")
    }
}
