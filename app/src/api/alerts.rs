//! Server functions of the alerts page. Like the PBX pages' (see [`crate::api::pbx`]) they
//! answer the hydrated app with the typed outcome and redirect a plain form post, keeping a
//! refusal or the new secret in a flash bound to the session, shown once.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::pbx::PbxActionError;
use wire::alerts::{AlertView, AlertsPage, CreatedAlert, DeliveryView, Trigger};

/// The alert form, as typed: one checkbox per trigger (present when ticked).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertForm {
    pub name: String,
    pub url: String,
    pub ban: Option<String>,
    pub rate_spike: Option<String>,
    pub login_after_failures: Option<String>,
    pub posture_high: Option<String>,
    pub guard_blind: Option<String>,
    pub protected_source: Option<String>,
    pub compromise: Option<String>,
    /// Events per minute for `rate-spike`; empty when not used.
    pub rate_per_minute: String,
    pub enabled: Option<String>,
}

impl AlertForm {
    /// The form field of a trigger's checkbox.
    #[must_use]
    pub fn field_of(trigger: Trigger) -> &'static str {
        match trigger {
            Trigger::Ban => "ban",
            Trigger::RateSpike => "rate_spike",
            Trigger::LoginAfterFailures => "login_after_failures",
            Trigger::PostureHigh => "posture_high",
            Trigger::GuardBlind => "guard_blind",
            Trigger::ProtectedSource => "protected_source",
            Trigger::Compromise => "compromise",
        }
    }

    fn slot(&self, trigger: Trigger) -> &Option<String> {
        match trigger {
            Trigger::Ban => &self.ban,
            Trigger::RateSpike => &self.rate_spike,
            Trigger::LoginAfterFailures => &self.login_after_failures,
            Trigger::PostureHigh => &self.posture_high,
            Trigger::GuardBlind => &self.guard_blind,
            Trigger::ProtectedSource => &self.protected_source,
            Trigger::Compromise => &self.compromise,
        }
    }

    /// Whether the trigger's box is ticked.
    #[must_use]
    pub fn has(&self, trigger: Trigger) -> bool {
        self.slot(trigger).is_some()
    }

    /// The ticked triggers.
    #[must_use]
    pub fn triggers(&self) -> Vec<Trigger> {
        Trigger::ALL.into_iter().filter(|t| self.has(*t)).collect()
    }

    /// What a new alert's form starts with.
    #[must_use]
    pub fn new_defaults() -> Self {
        Self {
            ban: Some("on".to_owned()),
            guard_blind: Some("on".to_owned()),
            posture_high: Some("on".to_owned()),
            protected_source: Some("on".to_owned()),
            compromise: Some("on".to_owned()),
            enabled: Some("on".to_owned()),
            ..Self::default()
        }
    }
}

impl From<&AlertView> for AlertForm {
    fn from(a: &AlertView) -> Self {
        let on = |t: Trigger| a.triggers.contains(&t).then(|| "on".to_owned());
        Self {
            name: a.name.clone(),
            url: a.url.clone(),
            ban: on(Trigger::Ban),
            rate_spike: on(Trigger::RateSpike),
            login_after_failures: on(Trigger::LoginAfterFailures),
            posture_high: on(Trigger::PostureHigh),
            guard_blind: on(Trigger::GuardBlind),
            protected_source: on(Trigger::ProtectedSource),
            compromise: on(Trigger::Compromise),
            rate_per_minute: a.rate_per_minute.map(|r| r.to_string()).unwrap_or_default(),
            enabled: a.enabled.then(|| "on".to_owned()),
        }
    }
}

/// The alerts page's data (administrators only).
#[server(prefix = "/fn", endpoint = "alerts")]
pub async fn get_alerts() -> Result<AlertsPage, PbxActionError> {
    let (alerts, parts) = crate::ssr::alerts::context()?;
    alerts.alerts(&parts).await
}

/// Creates an alert; its signing secret is in the answer once.
#[server(prefix = "/fn", endpoint = "create_alert")]
pub async fn create_alert(
    csrf: String,
    #[server(flatten)] form: AlertForm,
) -> Result<CreatedAlert, PbxActionError> {
    use crate::api::pbx::{PbxFlash, ShownSecret};
    use crate::ssr::pbx::{Then, finish};
    let (alerts, parts) = crate::ssr::alerts::context()?;
    let (pbx, _) = crate::ssr::pbx::context()?;
    crate::ssr::pbx::no_store();
    let outcome = alerts.create_alert(&parts, &csrf, form).await;
    finish(&*pbx, &parts, outcome, "/alerts", None, |created| {
        Then::flash(
            PbxFlash::Secret(ShownSecret {
                kind: "alert".to_owned(),
                key: created.view.name.clone(),
                label: String::new(),
                secret: created.secret.clone(),
            }),
            "/alerts".to_owned(),
        )
    })
    .await
}

/// Replaces an alert's settings.
#[server(prefix = "/fn", endpoint = "update_alert")]
pub async fn update_alert(
    csrf: String,
    id: i32,
    #[server(flatten)] form: AlertForm,
) -> Result<(), PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (alerts, parts) = crate::ssr::alerts::context()?;
    let (pbx, _) = crate::ssr::pbx::context()?;
    let outcome = alerts.update_alert(&parts, &csrf, id, form).await;
    finish(&*pbx, &parts, outcome, "/alerts", None, |()| {
        Then::Redirect("/alerts?saved=1".to_owned())
    })
    .await
}

/// Turns an alert on (`enabled` = `true`) or off.
#[server(prefix = "/fn", endpoint = "set_alert_enabled")]
pub async fn set_alert_enabled(
    csrf: String,
    id: i32,
    enabled: String,
) -> Result<(), PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (alerts, parts) = crate::ssr::alerts::context()?;
    let (pbx, _) = crate::ssr::pbx::context()?;
    let outcome = alerts
        .set_alert_enabled(&parts, &csrf, id, enabled == "true")
        .await;
    finish(&*pbx, &parts, outcome, "/alerts", None, |()| {
        Then::Redirect("/alerts?saved=1".to_owned())
    })
    .await
}

/// Deletes an alert and its history.
#[server(prefix = "/fn", endpoint = "delete_alert")]
pub async fn delete_alert(csrf: String, id: i32) -> Result<(), PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (alerts, parts) = crate::ssr::alerts::context()?;
    let (pbx, _) = crate::ssr::pbx::context()?;
    let outcome = alerts.delete_alert(&parts, &csrf, id).await;
    finish(&*pbx, &parts, outcome, "/alerts", None, |()| {
        Then::Redirect("/alerts?deleted=1".to_owned())
    })
    .await
}

/// Sends a test notice now; the page shows the delivery.
#[server(prefix = "/fn", endpoint = "test_alert")]
pub async fn test_alert(csrf: String, id: i32) -> Result<DeliveryView, PbxActionError> {
    use crate::ssr::pbx::{Then, finish};
    let (alerts, parts) = crate::ssr::alerts::context()?;
    let (pbx, _) = crate::ssr::pbx::context()?;
    let outcome = alerts.test_alert(&parts, &csrf, id).await;
    finish(&*pbx, &parts, outcome, "/alerts", None, |d| {
        Then::Redirect(format!("/alerts?tested={}", d.id))
    })
    .await
}
