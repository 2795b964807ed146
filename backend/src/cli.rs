//! The command line: `sipwarden serve`, `admin create`, `migrate`, `render`, `healthcheck`,
//! `openapi`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use app::model::Role;

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
    /// Manage console administrators.
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
}

/// Parses the arguments and runs the command; the exit code says how it went.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
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
    crate::telemetry::init(config.log_format);
    for name in &report.unknown_env {
        tracing::warn!("ignoring unknown environment variable {name} (typo?)");
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
            Command::Admin {
                command: AdminCommand::Create { username, role },
            } => admin_create(config, &username, &role).await,
            Command::Healthcheck { timeout } => healthcheck(&config, timeout).await,
            Command::Render { out, target } => render(config, &out, &target).await,
            Command::Openapi => Ok(()),
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

async fn render(config: Config, out: &std::path::Path, target: &str) -> anyhow::Result<()> {
    let target = if target == "chan-sip" {
        policy::asterisk::Target::LegacyChanSip
    } else {
        policy::asterisk::Target::Asterisk22Pjsip
    };
    crate::server::ensure_data_dir(&config.data_dir)?;
    let db = crate::db::open_and_migrate(&config.database_path()).await?;
    let written = crate::services::config::render_to_dir(&db, target, out)
        .await
        .map_err(|e| anyhow::anyhow!("cannot render: {e}"))?;
    for path in written {
        println!("{path}");
    }
    Ok(())
}

async fn admin_create(config: Config, username: &str, role: &str) -> anyhow::Result<()> {
    let role = if role == "viewer" {
        Role::Viewer
    } else {
        Role::Admin
    };
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
    crate::server::ensure_data_dir(&config.data_dir)?;
    let db = crate::db::open_and_migrate(&config.database_path()).await?;
    match crate::services::accounts::create_user(
        &db,
        crate::services::accounts::Creator::CommandLine,
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
            app::api::ConsoleError::BadUsername,
        )) => bail!(
            "cannot create '{username}': the name is taken or not 1-64 of letters, digits, '.', '-', '_'"
        ),
        Err(crate::services::accounts::AccountError::Rejected(reason)) => {
            bail!("cannot create '{username}': {reason}")
        }
        Err(e) => Err(e.into()),
    }
}

/// A minimal HTTP/1.1 GET of `/healthz` (no HTTP client library for one request).
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
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("nothing answers on {addr}"))?;
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
    };
    tokio::time::timeout(Duration::from_secs(timeout), probe)
        .await
        .context("health check timed out")?
}
