//! The alerts page's form, as typed.

use serde::{Deserialize, Serialize};

use wire::alerts::{AlertView, Trigger};

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
    pub fraud: Option<String>,
    /// Events per minute for `rate-spike`; empty when not used.
    pub rate_per_minute: String,
    pub enabled: Option<String>,
    /// Deliveries may go to loopback, link-local or this host's own addresses.
    pub allow_internal_targets: Option<String>,
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
            Trigger::Fraud => "fraud",
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
            Trigger::Fraud => &self.fraud,
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
            fraud: Some("on".to_owned()),
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
            fraud: on(Trigger::Fraud),
            rate_per_minute: a.rate_per_minute.map(|r| r.to_string()).unwrap_or_default(),
            enabled: a.enabled.then(|| "on".to_owned()),
            allow_internal_targets: a.allow_internal_targets.then(|| "on".to_owned()),
        }
    }
}
