//! `sipwarden serve`: start-up checks, then the HTTP server until SIGTERM. The one place
//! where the parts are wired together: the core and what runs around it (the event writer,
//! the guard with its taps and enforcer in [`guard`], the alerts' worker, the periodic
//! clean-ups) and the HTTP layer on top.

pub mod accept;
pub mod fraud;
pub mod guard;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use leptos::config::LeptosOptions;
use tokio::net::TcpListener;

use crate::auth::sign_in::SetupToken;
use crate::config::Config;
use crate::core::Core;
use crate::http::HttpState;
use crate::services::accounts;

/// Who this process runs as, for messages about file permissions: in a container the user
/// is fixed by the image and the fix is on the host side (`chown` of a bind mount).
fn running_as() -> String {
    use std::os::unix::fs::MetadataExt;
    // `/proc/self` belongs to the process's effective user and group.
    std::fs::metadata("/proc/self").map_or_else(
        |_| "this user".to_owned(),
        |m| format!("uid {} (gid {})", m.uid(), m.gid()),
    )
}

/// Checks that `dir` exists (creating it) and is writable, with a message that says how to
/// fix it when not.
pub fn ensure_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create the data directory {}: check the path and its parent's permissions, \
             or set SIPWARDEN_DATA_DIR to a writable directory",
            dir.display()
        )
    })?;
    let probe = dir.join(".sipwarden-write-test");
    std::fs::write(&probe, b"ok")
        .and_then(|()| std::fs::remove_file(&probe))
        .with_context(|| {
            format!(
                "the data directory {} is not writable by sipwarden, which runs as {}: fix its \
                 ownership or permissions (for a bind mount into the container image: \
                 `chown -R 10001:10001 HOST_DIR`, or use a named volume), or set \
                 SIPWARDEN_DATA_DIR to a writable directory",
                dir.display(),
                running_as()
            )
        })?;
    Ok(())
}

/// Opens the database and builds the application state.
pub async fn build_state(config: Config) -> anyhow::Result<HttpState> {
    ensure_data_dir(&config.data_dir)?;
    let db = crate::db::open_and_migrate(&config.database_path()).await?;
    let setup_token = if accounts::admin_exists(&db).await? {
        SetupToken::default()
    } else {
        SetupToken::armed(crate::auth::session::new_token())
    };
    let leptos_options = LeptosOptions::builder()
        .output_name("sipwarden")
        .site_root(config.site_dir.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build();
    let events = crate::services::events::spawn(db.clone());
    let core = Core::new(db, config, events);
    Ok(HttpState::new(core, leptos_options, setup_token))
}

/// Runs the server until SIGTERM or Ctrl-C, then finishes in-flight requests.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    // Install the signal handlers before announcing readiness: a SIGTERM that arrives right
    // after "listening" must shut down gracefully, not kill the process.
    let shutdown = shutdown_signal()?;
    let state = build_state(config).await?;
    if !state.config.site_dir.join("pkg").is_dir() {
        tracing::warn!(
            site_dir = %state.config.site_dir.display(),
            "no hydration bundle found: the console works without JavaScript only; build it with `make site`"
        );
    }
    let tls = crate::tls::prepare(&state.config, &state.tls_fingerprint, &state.stopping)
        .context("cannot set up HTTPS")?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}: is another process using it?"))?;
    let base = accept::base_url(listener.local_addr()?, tls.is_some());
    // This line's format is read by the test harness and by people: keep it stable.
    tracing::info!("sipwarden {} listening on {base}", crate::VERSION);
    if tls.is_none() && !listen.ip().to_canonical().is_loopback() {
        tracing::warn!(
            "serving plain HTTP beyond loopback (SIPWARDEN_PLAIN_HTTP): only behind a proxy \
             that terminates TLS, with SIPWARDEN_SECURE_COOKIES=true"
        );
    }
    announce_setup(&state, &base);
    if !state.config.asterisk_managed {
        tracing::info!(
            "watch-only mode (asterisk_managed = false): sipwarden writes no Asterisk file and \
             refuses applies; the guard and the firewall protect the Asterisk as it is"
        );
    }
    if state.config.asterisk_bootstrap {
        bootstrap_asterisk(&state).await;
    }
    match crate::services::config::recover_interrupted(&state).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            "{n} configuration apply(s) were interrupted by a stop; see the revision history"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot check for interrupted applies"),
    }

    match crate::services::firewall::restore_at_startup(&state).await {
        Ok(Some(r)) => tracing::info!(
            bans = r.bans,
            allows = r.allows,
            "firewall restored into the kernel"
        ),
        Ok(None) => tracing::info!("firewall: no policy applied yet; the kernel is untouched"),
        Err(e) => tracing::error!(
            error = %e,
            "cannot restore the firewall into the kernel; bans are kept in the database and go in with the next apply"
        ),
    }

    crate::services::firewall::follow_trunks(state.core.clone());

    fraud::start(&state).await;
    if let Some(running) = guard::start(&state).await {
        // Set once, here; nothing else sets it.
        let _ = state.guard.set(running);
    }
    // After the guard, so the worker watches its taps; before serving, so the posture
    // baseline is taken before the first request can change the model.
    crate::services::alerts::start(&state).await;
    let retention_db = state.db.clone();
    let config = state.config.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        loop {
            every.tick().await;
            let (days, rows) = (config.event_retention_days, config.event_max_rows);
            match crate::services::events::enforce_retention(&retention_db, days, rows).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "old guard events removed"),
                Err(e) => tracing::warn!(error = %e, "cannot apply the event retention"),
            }
            let (days, rows) = (config.audit_retention_days, config.audit_max_rows);
            match crate::services::audit::enforce_retention(&retention_db, days, rows).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "old audit lines removed"),
                Err(e) => tracing::warn!(error = %e, "cannot apply the audit retention"),
            }
        }
    });

    let purge_db = state.db.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        loop {
            every.tick().await;
            if let Err(e) = accounts::purge_expired_sessions(&purge_db).await {
                tracing::warn!(error = %e, "cannot purge expired sessions");
            }
        }
    });

    let stopping = state.stopping.clone();
    let limits = accept::Limits {
        max_connections: usize::try_from(state.config.max_connections).unwrap_or(1024),
        header_timeout: Duration::from_secs(state.config.header_timeout_secs.into()),
    };
    let app = crate::http::router(state);
    accept::serve(listener, tls.map(|t| t.acceptor), app, limits, async move {
        shutdown.await;
        stopping.cancel();
    })
    .await;
    tracing::info!("sipwarden stopped");
    Ok(())
}

/// Writes the rendered configuration into an Asterisk configuration directory that has none
/// yet (see `Config::asterisk_bootstrap`); never replaces an existing `manager.conf`.
async fn bootstrap_asterisk(state: &HttpState) {
    let dir = state.config.asterisk_dir();
    if dir.join("manager.conf").exists() {
        return;
    }
    match crate::services::config::render_to_dir(
        &state.db,
        &state.config,
        policy::asterisk::Target::Asterisk22Pjsip,
        &dir,
    )
    .await
    {
        Ok(files) => tracing::info!(
            dir = %dir.display(),
            files = files.len(),
            "Asterisk's configuration directory was empty: wrote the hardened configuration for its first start"
        ),
        Err(e) => tracing::error!(
            dir = %dir.display(),
            "cannot write Asterisk's first configuration ({e}); Asterisk will not start with \
             sipwarden's AMI accounts until this directory is writable by sipwarden (running as {})",
            running_as()
        ),
    }
}

fn announce_setup(state: &HttpState, base: &str) {
    // The token is armed exactly when no administrator existed at start-up.
    if let Some(token) = state.setup_token.peek() {
        // The token has to reach whoever installed sipwarden, and the log is the channel only
        // they can read; it dies with this process and with the first administrator.
        tracing::warn!(
            "no administrator exists yet. Create one with `sipwarden admin create --username NAME`, \
             or open {base}/setup and enter this one-time setup token: {token}"
        );
    }
}

fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot install the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
        tracing::info!("shutting down: finishing requests in flight");
    })
}
