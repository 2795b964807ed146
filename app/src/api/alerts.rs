//! Server functions of the alerts page. Like the PBX pages' (see [`crate::api::pbx`]) they
//! answer the hydrated app with the typed outcome and redirect a plain form post, keeping a
//! refusal or the new secret in a flash bound to the session, shown once.

use leptos::prelude::*;

use crate::form::ActionError;
use crate::form::alerts::AlertForm;
use wire::alerts::{AlertsPage, CreatedAlert, DeliveryView};

/// The alerts page's data (administrators only).
#[server(prefix = "/fn", endpoint = "alerts")]
pub async fn get_alerts() -> Result<AlertsPage, ActionError> {
    let (alerts, parts) = crate::ssr::alerts::context()?;
    alerts.alerts(&parts).await
}

/// Creates an alert; its signing secret is in the answer once.
#[server(prefix = "/fn", endpoint = "create_alert")]
pub async fn create_alert(
    csrf: String,
    #[server(flatten)] form: AlertForm,
) -> Result<CreatedAlert, ActionError> {
    use crate::form::{Flash, ShownSecret};
    use crate::ssr::form::{Then, finish};
    let (alerts, parts) = crate::ssr::alerts::context()?;
    crate::ssr::form::no_store();
    let outcome = alerts.create_alert(&parts, &csrf, form).await;
    finish(&*alerts, &parts, outcome, "/alerts", None, |created| {
        Then::flash(
            Flash::Secret(ShownSecret {
                kind: "alert".to_owned(),
                key: created.view.name.clone(),
                label: String::new(),
                secret: created.secret.clone(),
                provisioning: Vec::new(),
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
) -> Result<(), ActionError> {
    use crate::ssr::form::{Then, finish};
    let (alerts, parts) = crate::ssr::alerts::context()?;
    let outcome = alerts.update_alert(&parts, &csrf, id, form).await;
    finish(&*alerts, &parts, outcome, "/alerts", None, |()| {
        Then::Redirect("/alerts?saved=1".to_owned())
    })
    .await
}

/// Turns an alert on (`enabled` = `true`) or off.
#[server(prefix = "/fn", endpoint = "set_alert_enabled")]
pub async fn set_alert_enabled(csrf: String, id: i32, enabled: String) -> Result<(), ActionError> {
    use crate::ssr::form::{Then, finish};
    let (alerts, parts) = crate::ssr::alerts::context()?;
    let outcome = alerts
        .set_alert_enabled(&parts, &csrf, id, enabled == "true")
        .await;
    finish(&*alerts, &parts, outcome, "/alerts", None, |()| {
        Then::Redirect("/alerts?saved=1".to_owned())
    })
    .await
}

/// Deletes an alert and its history.
#[server(prefix = "/fn", endpoint = "delete_alert")]
pub async fn delete_alert(csrf: String, id: i32) -> Result<(), ActionError> {
    use crate::ssr::form::{Then, finish};
    let (alerts, parts) = crate::ssr::alerts::context()?;
    let outcome = alerts.delete_alert(&parts, &csrf, id).await;
    finish(&*alerts, &parts, outcome, "/alerts", None, |()| {
        Then::Redirect("/alerts?deleted=1".to_owned())
    })
    .await
}

/// Sends a test notice now; the page shows the delivery.
#[server(prefix = "/fn", endpoint = "test_alert")]
pub async fn test_alert(csrf: String, id: i32) -> Result<DeliveryView, ActionError> {
    use crate::ssr::form::{Then, finish};
    let (alerts, parts) = crate::ssr::alerts::context()?;
    let outcome = alerts.test_alert(&parts, &csrf, id).await;
    finish(&*alerts, &parts, outcome, "/alerts", None, |d| {
        Then::Redirect(format!("/alerts?tested={}", d.id))
    })
    .await
}
