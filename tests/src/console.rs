//! A signed-in console session over plain HTTP, as a browser without JavaScript uses the
//! console (form posts to the server functions, redirects, whole pages) and as the hydrated
//! app calls it (typed JSON answers).

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::Value;

use crate::server::TestServer;

/// `application/x-www-form-urlencoded` encoding of one value.
#[must_use]
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A signed-in browser session.
pub struct ConsoleSession<'s> {
    pub server: &'s TestServer,
    pub client: reqwest::Client,
    pub csrf: String,
}

impl<'s> ConsoleSession<'s> {
    /// Signs in as `user`.
    ///
    /// # Panics
    /// When the sign-in fails (a test precondition).
    pub async fn sign_in(server: &'s TestServer, user: &str, password: &str) -> ConsoleSession<'s> {
        let (client, csrf) = server.api_sign_in(user, password).await.expect("sign-in");
        ConsoleSession {
            server,
            client,
            csrf,
        }
    }

    /// The form body, with the session's CSRF token unless `fields` has one.
    fn body(&self, fields: &[(&str, &str)]) -> String {
        let mut all: Vec<(&str, &str)> = Vec::new();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            all.push(("csrf", &self.csrf));
        }
        all.extend_from_slice(fields);
        all.iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// A plain form post from the page `from`; returns where it redirects to.
    ///
    /// # Panics
    /// When the answer is not a redirect.
    pub async fn post_form(&self, from: &str, function: &str, fields: &[(&str, &str)]) -> String {
        let res = self
            .client
            .post(self.server.url(&format!("/fn/{function}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html,application/xhtml+xml")
            .header("referer", self.server.url(from))
            .header("origin", self.server.base.clone())
            .body(self.body(fields))
            .send()
            .await
            .expect("the form post");
        assert_eq!(res.status(), StatusCode::FOUND, "{function}");
        res.headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    }

    /// The call as the hydrated app makes it: the status and the JSON answer.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn call(&self, function: &str, fields: &[(&str, &str)]) -> (StatusCode, Value) {
        let res = self
            .client
            .post(self.server.url(&format!("/fn/{function}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(self.body(fields))
            .send()
            .await
            .expect("the call");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A whole page.
    ///
    /// # Panics
    /// When it does not answer 200.
    pub async fn page(&self, path: &str) -> String {
        let res = self
            .client
            .get(self.server.url(path))
            .send()
            .await
            .expect("the page");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        res.text().await.unwrap_or_default()
    }
}

/// The secret a page shows once: the value of its `secret-value` field.
#[must_use]
pub fn shown_secret(html: &str) -> Option<String> {
    let at = html.find("class=\"secret-value\"")?;
    let tag_start = html[..at].rfind('<')?;
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>')?];
    let value = tag.split(" value=\"").nth(1)?.split('"').next()?;
    Some(value.to_owned())
}
