//! The command line: `sipwarden serve`, `admin create`, `migrate`, `render`, `replay`,
//! `backup`, `healthcheck`, `openapi`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use wire::Role;

use crate::config::Config;

/// sipwarden: a security appliance for Asterisk PBXs.
#[derive(Debug, Parser)]
#[command(name = "sipwarden", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file (settings in SIPWARDEN_* environment variables win over it).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the appliance: migrate the database, then serve the console and the API.
    Serve,
    /// Manage console users (whoever can run this owns the data directory).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Write the Asterisk configuration of the stored model into a directory, without
    /// touching Asterisk (to start an Asterisk with it, or to look at it).
    Render {
        /// Directory to write into (created if missing); existing files of the same names
        /// are replaced.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// `asterisk22` (chan_pjsip) or `chan-sip` (legacy sip.conf, Asterisk 13-20).
        #[arg(long, default_value = "asterisk22", value_parser = ["asterisk22", "chan-sip"])]
        target: String,
    },
    /// Run a packet capture (pcap) through the guard with the current policy and print the
    /// events and bans it would produce; nothing is banned. For trying a policy on recorded
    /// traffic, and for looking at an attack afterwards.
    Replay {
        /// The capture file (pcap or pcapng, e.g. from `tcpdump -w`).
        #[arg(value_name = "FILE.pcap")]
        file: PathBuf,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
        /// Asterisk's address in the capture (repeatable); without it, which side is
        /// Asterisk is told by the SIP ports and, between two SIP ports, by who answers.
        #[arg(long, value_name = "IP")]
        pbx: Vec<std::net::IpAddr>,
    },
    /// Copy the database into FILE, consistently, while sipwarden runs (SQLite's
    /// `VACUUM INTO`: one read transaction, so the copy is one point in time). FILE must not
    /// exist yet; it is created readable by this user only (it holds AMI secrets).
    Backup {
        /// Where to write the copy.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Audit an Asterisk configuration directory sipwarden did not write (`/etc/asterisk`,
    /// FreePBX's included): every weakness of the seven hardening steps with its file and
    /// line, and a score on the posture's scale. Reads only; needs no data directory.
    Audit {
        /// The configuration directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take an existing Asterisk configuration directory over into sipwarden's database:
    /// phones keep the names and secrets they register with (only digests are stored),
    /// providers become trunks, manager.conf users AMI users. Prints what was taken, what
    /// changed on the way in and what could not be represented; renders nothing.
    Import {
        /// The configuration directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Check and report only; store nothing.
        #[arg(long)]
        dry_run: bool,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
        /// Map a context to a calling class instead of reading its reach from the dialplan
        /// (repeatable): `--class from-internal=national`.
        #[arg(long, value_name = "CONTEXT=CLASS")]
        class: Vec<String>,
    },
    /// Print the REST API's OpenAPI document (what `/api/openapi.json` serves) and exit:
    /// `sipwarden openapi > docs/openapi.json`.
    Openapi,
    /// Exit 0 if the running server answers /healthz with 200 (for container health checks).
    Healthcheck {
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
}

/// `sipwarden admin ...`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a console user. The password is read from SIPWARDEN_ADMIN_PASSWORD, or else
    /// from standard input (first line).
    Create {
        #[arg(long)]
        username: String,
        /// `admin` changes everything; `viewer` only reads.
        #[arg(long, default_value = "admin", value_parser = ["admin", "viewer"])]
        role: String,
    },
    /// List the console users with their role and whether they are disabled.
    List,
    /// Disable a user: their sessions end, they cannot sign in, their API tokens stop
    /// working until enabled again. The last enabled administrator cannot be disabled.
    Disable {
        #[arg(long)]
        username: String,
    },
    /// Enable a disabled user again.
    Enable {
        #[arg(long)]
        username: String,
    },
    /// Delete a user, end their sessions and revoke the API tokens they made.
    Delete {
        #[arg(long)]
        username: String,
    },
    /// Set a user's password (from SIPWARDEN_ADMIN_PASSWORD or standard input, or generated
    /// and printed with --generate) and end all their sessions.
    ResetPassword {
        #[arg(long)]
        username: String,
        /// Generate a strong password and print it, instead of reading one.
        #[arg(long)]
        generate: bool,
    },
    /// End every console session of a user.
    EndSessions {
        #[arg(long)]
        username: String,
    },
    /// Remove a user's second factor (a lost phone) and end their sessions.
    ResetSecondFactor {
        #[arg(long)]
        username: String,
    },
}

/// Parses the arguments and runs the command; the exit code says how it went.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Audit { dir, json } = &cli.command {
        // Reads files only: no configuration, database or logging needed.
        return match crate::config_audit::run(dir, *json) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sipwarden: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    if matches!(cli.command, Command::Openapi) {
        // Before configuration and logging: the output is the document and nothing else.
        print!("{}", crate::http::openapi::document_json());
        return ExitCode::SUCCESS;
    }
    let (config, report) = match Config::load(cli.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("sipwarden: {e}");
            return ExitCode::from(2);
        }
    };
    // Before any thread exists: capabilities are per thread, and the runtime's threads
    // inherit them from this one.
    let missing_caps = if matches!(cli.command, Command::Serve) {
        crate::caps::raise_and_remember()
    } else {
        &[]
    };
    crate::telemetry::init(config.log_format);
    for name in &report.unknown_env {
        tracing::warn!("ignoring unknown environment variable {name} (typo?)");
    }
    for need in missing_caps {
        tracing::error!("{}", crate::caps::missing_message(need));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sipwarden: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Serve => crate::server::serve(config).await,
            Command::Migrate => migrate(config).await,
            Command::Admin { command } => admin(config, command).await,
            Command::Healthcheck { timeout } => healthcheck(&config, timeout).await,
            Command::Backup { file } => backup(&config, &file).await,
            Command::Render { out, target } => render(config, &out, &target).await,
            Command::Import {
                dir,
                dry_run,
                json,
                class,
            } => crate::config_import::run(config, &dir, dry_run, json, &class).await,
            Command::Replay { file, json, pbx } => replay(config, &file, json, pbx).await,
            Command::Openapi | Command::Audit { .. } => Ok(()),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole cause chain on one line: the fix is usually at its end.
            tracing::error!("{e:#}");
            eprintln!("sipwarden: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    crate::server::ensure_data_dir(&config.data_dir)?;
    crate::db::open_and_migrate(&config.database_path()).await?;
    println!(
        "database {} is up to date",
        config.database_path().display()
    );
    Ok(())
}

async fn backup(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let source = config.database_path();
    if !source.is_file() {
        bail!(
            "no database at {} (is SIPWARDEN_DATA_DIR right?)",
            source.display()
        );
    }
    if file.exists() {
        bail!("{} exists already; name a new file", file.display());
    }
    let path = file
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8", file.display()))?;
    // Created empty first, so the copy is never readable by others even for a moment
    // (SQLite writes into an empty file as into a new database).
    {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file)
            .with_context(|| format!("cannot create {}", file.display()))?;
    }
    // No migration: a backup must not change the database it copies.
    let db = crate::db::open(&source)
        .await
        .with_context(|| format!("cannot open {}", source.display()))?;
    let copied = db
        .execute_unprepared(&format!("VACUUM INTO '{}'", path.replace('\'', "''")))
        .await;
    let _ = db.close().await;
    if let Err(e) = copied {
        let _ = std::fs::remove_file(file);
        bail!("cannot copy the database into {}: {e}", file.display());
    }
    println!("backed up {} into {}", source.display(), file.display());
    Ok(())
}

async fn render(config: Config, out: &std::path::Path, target: &str) -> anyhow::Result<()> {
    let target = if target == "chan-sip" {
        policy::asterisk::Target::LegacyChanSip
    } else {
        policy::asterisk::Target::Asterisk22Pjsip
    };
    crate::server::ensure_data_dir(&config.data_dir)?;
    let db = crate::db::open_and_migrate(&config.database_path()).await?;
    let written = crate::services::config::render_to_dir(&db, &config, target, out)
        .await
        .map_err(|e| anyhow::anyhow!("cannot render: {e}"))?;
    for path in written {
        println!("{path}");
    }
    Ok(())
}

async fn replay(
    config: Config,
    file: &std::path::Path,
    json: bool,
    pbx: Vec<std::net::IpAddr>,
) -> anyhow::Result<()> {
    use crate::guard::packet::Link;
    use crate::guard::pcap_tap::{CaptureCounters, SipReader, packet_time};
    use std::io::Write as _;

    // The capture first: a wrong path is the likeliest mistake, and it needs no database.
    let mut capture = pcap::Capture::from_file(file)
        .with_context(|| format!("cannot read the capture file {}", file.display()))?;
    let dlt = capture.get_datalink();
    let Some(link) = Link::from_dlt(dlt.0) else {
        bail!(
            "{}: link type {} ({}) is not one the guard reads (Ethernet, Linux cooked, raw IP, loopback)",
            file.display(),
            dlt.0,
            dlt.get_name().unwrap_or_default()
        );
    };
    crate::server::ensure_data_dir(&config.data_dir)?;
    let db = crate::db::open_and_migrate(&config.database_path()).await?;
    let (mut engine, ports, notes) = crate::server::guard::build_engine(&db)
        .await
        .map_err(|e| anyhow::anyhow!("cannot build the guard: {e}"))?;
    for note in notes {
        eprintln!("replay: {note}");
    }
    let counters = std::sync::Arc::new(CaptureCounters::default());
    let mut reader = SipReader::new(ports, counters.clone());
    reader.set_local_addresses(pbx);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut written: std::io::Result<()> = Ok(());
    let (mut events, mut bans) = (0u64, 0u64);
    loop {
        let packet = match capture.next_packet() {
            Ok(p) => p,
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => bail!("{}: {e} (a truncated or damaged capture?)", file.display()),
        };
        if packet.header.caplen < packet.header.len {
            reader.truncated_frame(link, packet.data);
            continue;
        }
        reader.frame(link, packet_time(packet.header), packet.data, &mut |obs| {
            let verdict = engine.observe(obs, obs.time);
            events += verdict.events.len() as u64;
            bans += verdict.bans.len() as u64;
            for line in replay_lines(&verdict, obs.time, json) {
                if written.is_ok() {
                    written = writeln!(out, "{line}");
                }
            }
        });
    }
    written.and_then(|()| out.flush())?;
    let seen = counters.snapshot();
    eprintln!(
        "replayed {}: {} packets, {} SIP messages, {} unreadable, {} fragments and {} cut short skipped; {events} events, {bans} bans",
        file.display(),
        seen.packets,
        seen.messages,
        seen.parse_failures,
        seen.fragments,
        seen.truncated
    );
    Ok(())
}

/// The lines `replay` prints for one verdict.
fn replay_lines(
    verdict: &policy::guard::Verdict,
    time: policy::guard::Timestamp,
    json: bool,
) -> Vec<String> {
    let when = i64::try_from(time.0)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(
            || time.0.to_string(),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
    let mut lines = Vec::new();
    for e in &verdict.events {
        lines.push(if json {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            v["type"] = "event".into();
            v.to_string()
        } else {
            format!(
                "{when} event {} from {} ({}) by {}: {} [{}]{}",
                serde_json::to_value(e.kind)
                    .ok()
                    .and_then(|k| k.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                e.source,
                serde_json::to_value(e.transport)
                    .ok()
                    .and_then(|k| k.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                e.detector,
                e.evidence,
                serde_json::to_value(e.outcome)
                    .ok()
                    .and_then(|k| k.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                e.user_agent
                    .as_deref()
                    .map(|ua| format!(" User-Agent {ua:?}"))
                    .unwrap_or_default()
            )
        });
    }
    for b in &verdict.bans {
        let kind = serde_json::to_value(b.kind)
            .ok()
            .and_then(|k| k.as_str().map(str::to_owned))
            .unwrap_or_default();
        lines.push(if json {
            serde_json::json!({
                "type": "ban",
                "time": time.0,
                "source": b.source,
                "port": b.port,
                "secs": b.duration.as_secs(),
                "kind": kind,
                "offence": b.offence,
                "proven": b.proven,
            })
            .to_string()
        } else {
            let target = match b.port {
                Some(port) => std::net::SocketAddr::new(b.source, port).to_string(),
                None => b.source.to_string(),
            };
            format!(
                "{when} ban {target} for {} s ({kind}, offence {}{})",
                b.duration.as_secs(),
                b.offence,
                if b.proven { "" } else { ", unproven" }
            )
        });
    }
    lines
}

/// The password from SIPWARDEN_ADMIN_PASSWORD or the first line of standard input.
fn read_password() -> anyhow::Result<String> {
    let password = match std::env::var("SIPWARDEN_ADMIN_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut input = String::new();
            std::io::stdin()
                .take(4096)
                .read_to_string(&mut input)
                .context("cannot read the password from standard input")?;
            input.lines().next().unwrap_or("").to_owned()
        }
    };
    if password.is_empty() {
        bail!("no password given: set SIPWARDEN_ADMIN_PASSWORD or pipe it on standard input");
    }
    Ok(password)
}

/// `admin …`: console users.
async fn admin(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    use crate::services::accounts::AccountError;
    use crate::services::users::{self, Actor};
    if let AdminCommand::Create { username, role } = &command {
        return admin_create(config, username, role).await;
    }
    crate::server::ensure_data_dir(&config.data_dir)?;
    let db = crate::db::open_and_migrate(&config.database_path()).await?;
    let said = |e: AccountError| match e {
        AccountError::Rejected(reason) => anyhow::anyhow!("{reason}"),
        other => anyhow::Error::from(other),
    };
    match command {
        AdminCommand::Create { .. } => {}
        AdminCommand::List => {
            let mut cursor: Option<String> = None;
            loop {
                let page =
                    crate::services::accounts::list_users_unchecked(&db, cursor.as_deref(), 500)
                        .await?;
                for u in &page.items {
                    let state = if u.disabled { "disabled" } else { "enabled" };
                    println!("{}\t{}\t{state}", u.username, u.role.as_str());
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        AdminCommand::Disable { username } => {
            users::disable(&db, Actor::CommandLine, &username)
                .await
                .map_err(said)?;
            println!("disabled '{username}'");
        }
        AdminCommand::Enable { username } => {
            users::enable(&db, Actor::CommandLine, &username)
                .await
                .map_err(said)?;
            println!("enabled '{username}'");
        }
        AdminCommand::Delete { username } => {
            users::delete(&db, Actor::CommandLine, &username)
                .await
                .map_err(said)?;
            println!("deleted '{username}'");
        }
        AdminCommand::ResetPassword { username, generate } => {
            let given = if generate {
                None
            } else {
                Some(read_password()?)
            };
            let generated =
                users::reset_password(&db, Actor::CommandLine, &username, given.as_deref())
                    .await
                    .map_err(said)?;
            match generated {
                // The one place it is shown: standard output, to whoever ran the command.
                Some(password) => println!("{password}"),
                None => println!("password of '{username}' set; their sessions ended"),
            }
        }
        AdminCommand::ResetSecondFactor { username } => {
            users::remove_second_factor(&db, Actor::CommandLine, &username)
                .await
                .map_err(said)?;
            println!("second factor of '{username}' removed; their sessions ended");
        }
        AdminCommand::EndSessions { username } => {
            let ended = users::end_sessions(&db, Actor::CommandLine, &username)
                .await
                .map_err(said)?;
            println!("{ended} session(s) of '{username}' ended");
        }
    }
    Ok(())
}

async fn admin_create(config: Config, username: &str, role: &str) -> anyhow::Result<()> {
    let role = if role == "viewer" {
        Role::Viewer
    } else {
        Role::Admin
    };
    let password = read_password()?;
    crate::server::ensure_data_dir(&config.data_dir)?;
    let db = crate::db::open_and_migrate(&config.database_path()).await?;
    match crate::services::accounts::create_user(
        &db,
        crate::services::accounts::Actor::CommandLine,
        username,
        &password,
        role,
    )
    .await
    {
        Ok(()) => {
            println!("created {} '{username}'", role.as_str());
            Ok(())
        }
        Err(crate::services::accounts::AccountError::Rejected(
            app::form::ConsoleError::BadUsername,
        )) => bail!(
            "cannot create '{username}': the name is taken or not 1-64 of letters, digits, '.', '-', '_'"
        ),
        Err(crate::services::accounts::AccountError::Rejected(reason)) => {
            bail!("cannot create '{username}': {reason}")
        }
        Err(e) => Err(e.into()),
    }
}

/// A minimal HTTP/1.1 GET of `/healthz` (no HTTP client library for one request), over
/// HTTPS when the server serves it.
async fn healthcheck(config: &Config, timeout: u64) -> anyhow::Result<()> {
    let mut addr = config.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let probe = async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("nothing answers on {addr}"))?;
        if config.serves_https() {
            let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(
                crate::tls::healthcheck_client()?,
            ));
            let name = rustls::pki_types::ServerName::from(addr.ip());
            let tls = connector
                .connect(name, tcp)
                .await
                .with_context(|| format!("no TLS handshake with {addr}"))?;
            ask_health(tls, addr).await
        } else {
            ask_health(tcp, addr).await
        }
    };
    tokio::time::timeout(Duration::from_secs(timeout), probe)
        .await
        .context("health check timed out")?
}

/// `GET /healthz` over an open connection; healthy on 200.
async fn ask_health(
    mut stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    addr: std::net::SocketAddr,
) -> anyhow::Result<()> {
    {
        stream
            .write_all(
                format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut response = Vec::new();
        stream.take(64 * 1024).read_to_end(&mut response).await?;
        let text = String::from_utf8_lossy(&response);
        let status_line = text.lines().next().unwrap_or("");
        if status_line.split_whitespace().nth(1) == Some("200") {
            println!("healthy");
            Ok(())
        } else {
            bail!("unhealthy: {status_line}")
        }
    }
}
