//! The backend side of the alerts page: [`app::ssr::alerts::AlertsConsole`] over the alerts
//! service. Everything needs an administrator; changes also need the form's CSRF token.

use http::request::Parts;

use app::form::alerts::AlertForm;
use app::form::{ActionError, ConsoleError};
use wire::alerts::{AlertsPage, CreatedAlert, DeliveryView};

use super::{ConsoleService, admin, reader};
use crate::services::alerts::{self, AlertError, NewAlert};

type Outcome<T> = Result<T, ActionError>;

/// What the browser sees of a refusal: the field and the rule, both sipwarden's own words.
fn shown(e: AlertError) -> ActionError {
    match e {
        AlertError::BadValue { field, reason } => ActionError::invalid(field, reason),
        AlertError::NotFound(_) => ActionError::NotFound {
            kind: "alert".to_owned(),
        },
        e @ (AlertError::Stale { .. } | AlertError::TooMany) => {
            ActionError::Conflict(vec![e.to_string()])
        }
        AlertError::InternalTargetsNeedAccess => ActionError::Console(ConsoleError::Forbidden),
        AlertError::Internal(cause) => {
            tracing::error!(error = %cause, "internal error");
            ActionError::Console(ConsoleError::Internal)
        }
    }
}

/// The form as the API's input: only the threshold's number is parsed here.
fn new_alert(form: AlertForm) -> Outcome<NewAlert> {
    let text = form.rate_per_minute.trim();
    let rate_per_minute = if text.is_empty() {
        None
    } else {
        Some(text.parse::<u32>().map_err(|_| {
            ActionError::invalid(
                "rate_per_minute",
                format!(
                    "a whole number of events per minute, 1 to {}",
                    alerts::MAX_RATE
                ),
            )
        })?)
    };
    Ok(NewAlert {
        triggers: form.triggers(),
        enabled: Some(form.enabled.is_some()),
        allow_internal_targets: Some(form.allow_internal_targets.is_some()),
        name: form.name,
        url: form.url,
        rate_per_minute,
    })
}

#[async_trait::async_trait]
impl app::ssr::alerts::AlertsConsole for ConsoleService {
    async fn alerts(&self, req: &Parts) -> Outcome<AlertsPage> {
        reader(req)?;
        alerts::alerts_page(self.state()).await.map_err(shown)
    }

    async fn create_alert(
        &self,
        req: &Parts,
        csrf: &str,
        form: AlertForm,
    ) -> Outcome<CreatedAlert> {
        let admin = admin(req, csrf)?;
        alerts::create(self.state(), &admin, new_alert(form)?)
            .await
            .map_err(shown)
    }

    async fn update_alert(&self, req: &Parts, csrf: &str, id: i32, form: AlertForm) -> Outcome<()> {
        let admin = admin(req, csrf)?;
        alerts::update(self.state(), &admin, id, new_alert(form)?, None)
            .await
            .map(drop)
            .map_err(shown)
    }

    async fn set_alert_enabled(
        &self,
        req: &Parts,
        csrf: &str,
        id: i32,
        enabled: bool,
    ) -> Outcome<()> {
        let admin = admin(req, csrf)?;
        let current = alerts::get(&self.state().db, id).await.map_err(shown)?;
        let new = NewAlert {
            name: current.name,
            url: current.url,
            triggers: current.triggers,
            rate_per_minute: current.rate_per_minute,
            enabled: Some(enabled),
            allow_internal_targets: Some(current.allow_internal_targets),
        };
        // Only if nothing changed since it was read.
        alerts::update(self.state(), &admin, id, new, Some(current.version))
            .await
            .map(drop)
            .map_err(shown)
    }

    async fn delete_alert(&self, req: &Parts, csrf: &str, id: i32) -> Outcome<()> {
        let admin = admin(req, csrf)?;
        alerts::delete(self.state(), &admin, id)
            .await
            .map_err(shown)
    }

    async fn test_alert(&self, req: &Parts, csrf: &str, id: i32) -> Outcome<DeliveryView> {
        let admin = admin(req, csrf)?;
        alerts::test(self.state(), &admin, id).await.map_err(shown)
    }
}
