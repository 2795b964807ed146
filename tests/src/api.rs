//! A signed-in REST client for tests: JSON in, status and JSON out.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::server::TestServer;

/// A client holding a session cookie and its CSRF token, for one server. It works inside
/// whatever network namespace the calling thread is in.
#[derive(Debug, Clone)]
pub struct Api {
    client: reqwest::Client,
    csrf: String,
    base: String,
}

impl Api {
    /// Signs in as `username`.
    ///
    /// # Panics
    /// When the sign-in fails (a test precondition).
    pub async fn sign_in_as(server: &TestServer, username: &str, password: &str) -> Api {
        let (client, csrf) = server
            .api_sign_in(username, password)
            .await
            .expect("signing in over the API");
        Api {
            client,
            csrf,
            base: server.base.clone(),
        }
    }

    /// Signs in as `username` at `base` (`http://host:port`, or `https://` with the server's
    /// self-signed certificate, which `front_door` checks by its fingerprint): a server
    /// this harness did not start, such as the one in the container image.
    pub async fn sign_in_at(base: &str, username: &str, password: &str) -> anyhow::Result<Api> {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(base.starts_with("https://"))
            .timeout(Duration::from_secs(30))
            .build()?;
        let res = client
            .post(format!("{base}/api/v1/session"))
            .json(&serde_json::json!({ "username": username, "password": password }))
            .send()
            .await?;
        anyhow::ensure!(
            res.status() == StatusCode::CREATED,
            "sign-in failed: {} {}",
            res.status(),
            res.text().await.unwrap_or_default()
        );
        let body: Value = res.json().await?;
        let csrf = body["csrf_token"].as_str().unwrap_or_default().to_owned();
        Ok(Api {
            client,
            csrf,
            base: base.to_owned(),
        })
    }

    /// A new API token (`read`, `write` or `admin`) valid for 30 days: its secret value.
    ///
    /// # Panics
    /// When it is not created (a test precondition).
    pub async fn token(&self, name: &str, scope: &str) -> String {
        self.create(
            "/api/v1/tokens",
            serde_json::json!({"name": name, "scope": scope, "expires_in_days": 30}),
        )
        .await["token"]
            .as_str()
            .expect("the token's value")
            .to_owned()
    }

    /// Signs in as the default administrator.
    pub async fn sign_in(server: &TestServer) -> Api {
        Self::sign_in_as(server, "admin", crate::server::ADMIN_PASSWORD).await
    }

    /// Sends `method path` with an optional JSON body and the CSRF header; returns the status
    /// and the body as JSON (`Null` when it is not JSON).
    ///
    /// # Panics
    /// When the request cannot be sent at all.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("x-csrf-token", &self.csrf)
            .timeout(Duration::from_secs(120));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("sending the request");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `method path` with this session's cookie and CSRF header, for a test that needs more
    /// than [`Api::call`] (its own headers, the answer's headers).
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("x-csrf-token", &self.csrf)
            .timeout(Duration::from_secs(120))
    }

    /// Reads the PBX policy, lets `change` edit it, and stores it.
    ///
    /// # Panics
    /// When the policy is not stored (200).
    pub async fn change_policy(&self, change: impl FnOnce(&mut Value)) {
        let (_, mut policy) = self.call("GET", "/api/v1/policy", None).await;
        if let Some(fields) = policy.as_object_mut() {
            fields.remove("version");
        }
        change(&mut policy);
        let (status, stored) = self.call("PUT", "/api/v1/policy", Some(policy)).await;
        assert_eq!(status, StatusCode::OK, "{stored}");
    }

    /// `POST path body`, asserting 201 Created; returns the created object.
    ///
    /// # Panics
    /// When the answer is not 201.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let (status, created) = self.call("POST", path, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created
    }
}

impl Api {
    /// [`Api::call`] from inside the namespace `ns` (where a lab's server listens), for a
    /// test whose own thread is outside it.
    ///
    /// # Panics
    /// When the request cannot be sent at all.
    pub fn call_in(
        &self,
        ns: &crate::netns::NetNs,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (api, method, path) = (self.clone(), method.to_owned(), path.to_owned());
        ns.block_on(async move { api.call(&method, &path, body).await })
            .expect("entering the namespace")
    }
}
