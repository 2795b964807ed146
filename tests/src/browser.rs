//! Headless Debian Chromium, driven over WebDriver (chromedriver + fantoccini), so browser
//! tests are ordinary `cargo test` tests.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::root::{find_command, skip};

/// A browser session; the driver process and profile directory go away on drop.
pub struct Browser {
    pub client: Client,
    /// chromedriver's address (for what WebDriver itself has no command for: the console log).
    driver_url: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium, or reports a skip (a failure in CI as
    /// root) when they are not installed or the console's hydration bundle is not built (every
    /// browser test needs it).
    pub async fn start(test: &str) -> anyhow::Result<Option<Self>> {
        if !crate::server::site_dir()
            .join("pkg/sipwarden.wasm")
            .is_file()
        {
            skip(
                test,
                "the hydration bundle is not built (run `make site`; `make test` does)",
            );
            return Ok(None);
        }
        let (Some(driver_bin), Some(chromium)) =
            (find_command("chromedriver"), find_command("chromium"))
        else {
            skip(
                test,
                "chromium and chromedriver are not installed (Debian packages `chromium`, `chromium-driver`; `make test` installs them as root)",
            );
            return Ok(None);
        };
        let profile = tempfile::tempdir()?;
        // Flags from shared notes: without the background-networking ones Chromium keeps
        // opening connections this closed network refuses.
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({ "binary": chromium, "args": args }),
        );
        // The page's console (errors, CSP violations) is kept for `console_errors`.
        caps.insert(
            "goog:loggingPrefs".to_owned(),
            serde_json::json!({ "browser": "ALL" }),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        // The port is free when chosen, but another test may take it before chromedriver
        // binds it; chromedriver then exits, and a new port is tried.
        'driver: loop {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let mut driver = Command::new(&driver_bin)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("cannot start chromedriver")?;
            let url = format!("http://127.0.0.1:{port}");
            loop {
                match ClientBuilder::new(HttpConnector::new())
                    .capabilities(caps.clone())
                    .connect(&url)
                    .await
                {
                    Ok(client) => {
                        return Ok(Some(Self {
                            client,
                            driver_url: url.clone(),
                            driver,
                            _profile: profile,
                        }));
                    }
                    Err(e) if Instant::now() > deadline => {
                        let _ = driver.kill();
                        let _ = driver.wait();
                        bail!("cannot start a Chromium session: {e}");
                    }
                    Err(_) if driver.try_wait()?.is_some() => continue 'driver,
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        }
    }

    /// The errors the page's console printed since the last call (script errors, failed
    /// loads, Content-Security-Policy violations), from chromedriver's log.
    pub async fn console_errors(&self) -> anyhow::Result<Vec<String>> {
        let id = self
            .client
            .session_id()
            .await?
            .context("the WebDriver session has no id")?;
        let entries: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/session/{id}/se/log", self.driver_url))
            .json(&serde_json::json!({ "type": "browser" }))
            .send()
            .await?
            .json()
            .await?;
        Ok(entries["value"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .filter_map(|e| e["message"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Saves a screenshot as `target/browser/<name>.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let png = self.client.screenshot().await?;
        let path = crate::server::workspace_root()
            .join("target/browser")
            .join(format!("{name}.png"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Waits until `script` (a JavaScript expression) is true, up to `timeout`.
    pub async fn wait_for(&self, script: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self
                .client
                .execute(&format!("return !!({script});"), vec![])
                .await?;
            if value.as_bool() == Some(true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                let url = self
                    .client
                    .current_url()
                    .await
                    .map(|u| u.to_string())
                    .unwrap_or_default();
                bail!("timed out waiting for `{script}` (at {url})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page is hydrated: the bundle marks the document once `hydrate_body`
    /// has run, so forms and links now go through the app.
    pub async fn wait_hydrated(&self, timeout: Duration) -> anyhow::Result<()> {
        self.wait_for(
            "document.documentElement.hasAttribute('data-hydrated')",
            timeout,
        )
        .await
    }

    /// Waits until the page's live stream marker says `state` (`open`, `connecting`,
    /// `closed`): see the console's `LiveMarker`.
    pub async fn wait_live(&self, state: &str, timeout: Duration) -> anyhow::Result<()> {
        self.wait_for(
            &format!("document.querySelector('[data-live={state}]') !== null"),
            timeout,
        )
        .await
    }

    /// Clears the field `css` and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let field = self.client.find(fantoccini::Locator::Css(css)).await?;
        field.clear().await?;
        field.send_keys(text).await?;
        Ok(())
    }

    /// Clicks the element `css`.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.client
            .find(fantoccini::Locator::Css(css))
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// Clicks the link whose text is `text`.
    pub async fn follow(&self, text: &str) -> anyhow::Result<()> {
        self.client
            .find(fantoccini::Locator::LinkText(text))
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// The value of the form field `css`.
    pub async fn value(&self, css: &str) -> anyhow::Result<String> {
        Ok(self
            .client
            .find(fantoccini::Locator::Css(css))
            .await?
            .prop("value")
            .await?
            .unwrap_or_default())
    }

    /// The text of the element `css`.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        Ok(self
            .client
            .find(fantoccini::Locator::Css(css))
            .await?
            .text()
            .await?)
    }

    /// Signs in through the hydrated login form of `server` and waits for the dashboard.
    pub async fn sign_in(
        &self,
        server: &crate::server::TestServer,
        username: &str,
        password: &str,
    ) -> anyhow::Result<()> {
        self.sign_in_at(&server.url(""), username, password).await
    }

    /// [`Browser::sign_in`] at the server whose URLs start with `base` (for a test body that
    /// cannot borrow the server).
    pub async fn sign_in_at(
        &self,
        base: &str,
        username: &str,
        password: &str,
    ) -> anyhow::Result<()> {
        let timeout = Duration::from_secs(20);
        self.client.goto(&format!("{base}/login")).await?;
        self.wait_hydrated(timeout).await?;
        self.fill("input[name=username]", username).await?;
        self.fill("input[name=password]", password).await?;
        self.client
            .find(fantoccini::Locator::Css("#login-form button[type=submit]"))
            .await?
            .click()
            .await?;
        self.wait_for("location.pathname === '/'", timeout).await?;
        self.wait_hydrated(timeout).await
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
