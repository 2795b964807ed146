//! The backend side of the console's Fraud page: [`app::ssr::fraud::FraudConsole`] over
//! `services::fraud`.

use http::request::Parts;

use app::form::{ActionError, ConsoleError};
use policy::fraud::policy::{FIELDS, section_of};
use wire::fraud::{FraudPageData, FraudSeries, FraudSettingsView, RatesView};
use wire::guard::{GuardSettingView, GuardSettingsForm};

use super::{ConsoleService, admin, caller, internal};
use crate::services::fraud::{self, FraudError};
use crate::services::settings_form;

/// Findings and call records the page lists at most.
const LISTED: u64 = 50;

/// The label the form shows for a policy path.
fn label_of(path: &str) -> Option<String> {
    policy::settings::label_of(FIELDS, path)
}

/// What the browser sees of a refusal: the field and the rule, both sipwarden's own words.
fn shown(e: FraudError) -> ActionError {
    match e {
        FraudError::Invalid(e) => ActionError::Invalid {
            label: label_of(e.field()),
            field: e.field().to_owned(),
            reason: e.rule().to_owned(),
        },
        FraudError::BadRates(e) => ActionError::Invalid {
            label: Some(format!("the rate table, line {}", e.line)),
            // The textarea's name, so the page marks it.
            field: "csv".to_owned(),
            reason: e.reason,
        },
        e @ FraudError::Stale { .. } => ActionError::Conflict(vec![format!(
            "{e}. Reload the page to see the stored policy."
        )]),
        FraudError::NotLocked(_) => ActionError::NotFound {
            kind: "lock".to_owned(),
        },
        FraudError::NoSuchCall(_) => ActionError::NotFound {
            kind: "running call".to_owned(),
        },
        e @ FraudError::Asterisk(_) => ActionError::Conflict(vec![e.to_string()]),
        FraudError::Internal(cause) => {
            tracing::error!(error = %cause, "internal error");
            ActionError::Console(ConsoleError::Internal)
        }
    }
}

#[async_trait::async_trait]
impl app::ssr::fraud::FraudConsole for ConsoleService {
    async fn fraud_page(
        &self,
        req: &Parts,
        endpoint: Option<String>,
        number: Option<String>,
    ) -> Result<FraudPageData, ConsoleError> {
        caller(req)?;
        let number = number.filter(|n| !n.is_empty());
        if number
            .as_deref()
            .is_some_and(|n| n.len() > 15 || !n.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(ConsoleError::BadFilter);
        }
        let endpoint = endpoint.filter(|e| !e.is_empty());
        let state = self.state();
        let db = &state.db;
        Ok(FraudPageData {
            status: fraud::status(state),
            rates: fraud::load_rates(db).await.map_err(internal)?.1,
            locks: fraud::locks(db).await.map_err(internal)?,
            calls: fraud::live_calls(state),
            findings: fraud::findings(db, endpoint.as_deref(), LISTED)
                .await
                .map_err(internal)?,
            records: fraud::call_records(db, endpoint.as_deref(), None, number.as_deref(), LISTED)
                .await
                .map_err(internal)?,
        })
    }

    async fn fraud_series(&self, req: &Parts) -> Result<FraudSeries, ConsoleError> {
        caller(req)?;
        fraud::series(&self.state().db).await.map_err(internal)
    }

    async fn fraud_settings(&self, req: &Parts) -> Result<FraudSettingsView, ActionError> {
        // Viewers read the policy (as over the API); the page disables the form for them.
        caller(req)?;
        let (policy, version) = fraud::load(&self.state().db)
            .await
            .map_err(|e| shown(e.into()))?;
        let mut values = settings_form::form_values(policy.settings(), FIELDS);
        let mut sections: Vec<(String, Vec<GuardSettingView>)> = Vec::new();
        for f in FIELDS {
            let view = GuardSettingView {
                path: f.path.to_owned(),
                label: f.label.to_owned(),
                help: f.help.to_owned(),
                kind: f.kind.as_str().to_owned(),
                options: f.kind.options().iter().map(|o| (*o).to_owned()).collect(),
                value: values.remove(f.path).unwrap_or_default(),
            };
            let title = section_of(f.path);
            match sections.last_mut() {
                Some((name, list)) if name == title => list.push(view),
                _ => sections.push((title.to_owned(), vec![view])),
            }
        }
        Ok(FraudSettingsView { version, sections })
    }

    async fn update_fraud_settings(
        &self,
        req: &Parts,
        csrf: &str,
        version: i32,
        form: GuardSettingsForm,
    ) -> Result<i32, ActionError> {
        let admin = admin(req, csrf)?;
        let settings =
            settings_form::from_form(FIELDS, &form.values).map_err(|e| ActionError::Invalid {
                label: label_of(&e.field),
                field: e.field,
                reason: e.reason,
            })?;
        fraud::update(self.state(), &admin, settings, Some(version))
            .await
            .map(|(_, version)| version)
            .map_err(shown)
    }

    async fn unlock_account(
        &self,
        req: &Parts,
        csrf: &str,
        endpoint_id: &str,
    ) -> Result<(), ActionError> {
        let admin = admin(req, csrf)?;
        fraud::unlock(self.state(), &admin, endpoint_id)
            .await
            .map_err(shown)
    }

    async fn hang_up_call(
        &self,
        req: &Parts,
        csrf: &str,
        uniqueid: &str,
    ) -> Result<(), ActionError> {
        let admin = admin(req, csrf)?;
        fraud::hang_up_call(self.state(), &admin, uniqueid)
            .await
            .map_err(shown)
    }

    async fn upload_rates(
        &self,
        req: &Parts,
        csrf: &str,
        csv: String,
    ) -> Result<RatesView, ActionError> {
        let admin = admin(req, csrf)?;
        fraud::store_rates(self.state(), &admin, csv)
            .await
            .map_err(shown)
    }
}
