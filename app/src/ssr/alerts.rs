//! What the console's alerts page needs from the backend.

use std::sync::Arc;

use http::request::Parts;

use crate::form::alerts::AlertForm;
use crate::form::{ActionError, ConsoleError};
use wire::alerts::{AlertsPage, CreatedAlert, DeliveryView};

type Outcome<T> = Result<T, ActionError>;

/// The alerts half of the console, implemented by the backend over its alerts service. Every
/// method reads the caller from the request; all of them need an administrator (a webhook
/// URL is often a credential), and changes also check the form's CSRF token.
#[async_trait::async_trait]
pub trait AlertsConsole: super::form::Flashes {
    /// The alerts, the latest deliveries and the drop count.
    async fn alerts(&self, req: &Parts) -> Outcome<AlertsPage>;
    /// Creates an alert; the answer carries its secret this once.
    async fn create_alert(&self, req: &Parts, csrf: &str, form: AlertForm)
    -> Outcome<CreatedAlert>;
    /// Replaces an alert's settings.
    async fn update_alert(&self, req: &Parts, csrf: &str, id: i32, form: AlertForm) -> Outcome<()>;
    /// Turns an alert on or off, keeping the rest.
    async fn set_alert_enabled(
        &self,
        req: &Parts,
        csrf: &str,
        id: i32,
        enabled: bool,
    ) -> Outcome<()>;
    /// Deletes an alert and its history.
    async fn delete_alert(&self, req: &Parts, csrf: &str, id: i32) -> Outcome<()>;
    /// Sends a test notice now (one short attempt).
    async fn test_alert(&self, req: &Parts, csrf: &str, id: i32) -> Outcome<DeliveryView>;
}

/// This page's backend and the current request.
pub fn context() -> Result<(Arc<dyn AlertsConsole>, Parts), ConsoleError> {
    super::part::<dyn AlertsConsole>()
}
