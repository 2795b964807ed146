//! The appliance as the guard tests run it, from nothing, in a lab's `pbx` namespace:
//!
//! 1. a model with one remote worker (extension 1001, allowed to register from the office and
//!    the Internet, so an attacker's guesses are judged by password rather than refused by the
//!    endpoint's ACL), SIP bound to the pbx address, rendered by `sipwarden render`;
//! 2. a real Asterisk 22 booted on those files;
//! 3. `sipwarden serve` on the same data beside it, its firewall applied (the office trusted)
//!    and confirmed, once its log shows what the test needs (the taps it expects up).

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use serde_json::json;

use crate::api::Api;
use crate::asterisk::Asterisk;
use crate::netns::{Lab, Net};
use crate::server::{Options, TestServer};

/// How long `serve` may take to show every line the test waits for.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// sipwarden serving beside Asterisk, both in the lab's `pbx` namespace.
pub struct Appliance {
    pub server: TestServer,
    pub asterisk: Asterisk,
    /// The remote worker's endpoint id (its SIP user name) and secret.
    pub remote_id: String,
    pub remote_secret: String,
}

impl Appliance {
    /// Builds the appliance. `env` is added to `serve`'s environment; `ready_when` are lines its
    /// log must contain before this returns (e.g. "AMI security tap connected").
    pub fn start(lab: &Lab, env: &[(&str, &str)], ready_when: &[&str]) -> Result<Appliance> {
        let ns = lab.ns("pbx");
        let pbx_ip = lab.host("pbx").ipv4;
        let rendered = tempfile::tempdir()?;
        let out_dir = rendered.path().to_owned();

        // 1. The model, rendered by a server that then stops (its data seeds `serve`).
        let (seed, remote_id, remote_secret) = ns.block_on(async move {
            let mut server = TestServer::start()?;
            let api = Api::sign_in(&server).await;
            let (_, mut policy) = api.call("GET", "/api/v1/policy", None).await;
            policy
                .as_object_mut()
                .context("the policy is not an object")?
                .remove("version");
            policy["sip_bind_v4"] = json!(pbx_ip.to_string());
            let (status, body) = api.call("PUT", "/api/v1/policy", Some(policy)).await;
            ensure!(status == StatusCode::OK, "PUT /api/v1/policy: {body}");
            let remote = api
                .create(
                    "/api/v1/endpoints",
                    json!({"extension": "1001", "display_name": "Remote worker",
                           "permit": [Net::Office.cidr_v4(), Net::Internet.cidr_v4()]}),
                )
                .await;
            server.render(&out_dir)?;
            server.terminate()?;
            let text = |field: &str| remote[field].as_str().map(str::to_owned);
            Ok((
                server,
                text("id").context("no endpoint id")?,
                text("secret").context("no endpoint secret")?,
            ))
        })??;

        // 2. Asterisk on the rendered files.
        let asterisk =
            Asterisk::start_rendered(ns, rendered.path()).context("starting asterisk")?;

        // 3. sipwarden serving beside it; the firewall in; what the test needs up.
        let mut vars = vec![(
            "SIPWARDEN_ASTERISK_CONFIG_DIR".to_owned(),
            asterisk.etc_dir().display().to_string(),
        )];
        vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let server = serve_with_firewall(lab, Some(seed.data.path().to_owned()), vars, ready_when)?;
        drop(seed);
        Ok(Appliance {
            server,
            asterisk,
            remote_id,
            remote_secret,
        })
    }
}

/// `sipwarden serve` in the lab's `pbx` namespace (on a copy of `data_from`, or fresh with the
/// test administrator), its firewall applied with the office trusted and confirmed, once its
/// log shows each of `ready_when`.
pub fn serve_with_firewall(
    lab: &Lab,
    data_from: Option<std::path::PathBuf>,
    env: Vec<(String, String)>,
    ready_when: &[&str],
) -> Result<TestServer> {
    let ready_when: Vec<String> = ready_when.iter().map(|s| (*s).to_owned()).collect();
    let admin = data_from
        .is_none()
        .then(|| ("admin".to_owned(), crate::server::ADMIN_PASSWORD.to_owned()));
    lab.ns("pbx").block_on(async move {
        let server = TestServer::start_with(Options {
            data_from,
            env,
            admin,
        })?;
        let api = Api::sign_in(&server).await;
        let (_, doc) = api.call("GET", "/api/v1/firewall", None).await;
        let mut policy = doc["policy"].clone();
        policy["trusted_networks"] = json!([Net::Office.cidr_v4()]);
        let (status, doc) = api.call("PUT", "/api/v1/firewall", Some(policy)).await;
        ensure!(status == StatusCode::OK, "PUT /api/v1/firewall: {doc}");
        let (status, applied) = api.call("POST", "/api/v1/firewall/apply", None).await;
        ensure!(status == StatusCode::OK, "firewall apply: {applied}");
        let (status, _) = api.call("POST", "/api/v1/firewall/confirm", None).await;
        ensure!(
            status == StatusCode::NO_CONTENT,
            "firewall confirm: {status}"
        );
        for line in ready_when {
            server.wait_log(&line, READY_WITHIN).await?;
        }
        Ok(server)
    })?
}
