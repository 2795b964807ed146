//! One mapping from every service error to an HTTP response.
//!
//! The caller's fault is a 4xx with a message that names the problem; ours is an opaque 500
//! whose cause is logged, never sent. API errors are `application/problem+json` (RFC 9457).

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use app::form::ConsoleError;

use crate::services::accounts::AccountError;
use crate::services::firewall::FirewallServiceError;
use crate::services::pbx::PbxError;

/// An error as the REST API reports it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    detail: String,
    retry_after: Option<Duration>,
    /// RFC 9457 extension members (e.g. the offending `field` and its `rule`).
    extensions: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
struct Problem<'a> {
    r#type: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    /// The request's id (also in `X-Request-Id`, and on its log lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(flatten)]
    extensions: &'a serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    /// A 4xx/5xx with a stable kind (the last part of the problem `type`) and a message.
    #[must_use]
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            detail: detail.into(),
            retry_after: None,
            extensions: serde_json::Map::new(),
        }
    }

    /// Says how long to wait (`Retry-After`, in whole seconds rounded up).
    #[must_use]
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// Adds an extension member to the problem document.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        if let Ok(value) = serde_json::to_value(value) {
            self.extensions.insert(key.to_owned(), value);
        }
        self
    }

    /// The opaque 500.
    #[must_use]
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on the server; it has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("error");
        let body = Problem {
            r#type: format!("https://sipwarden.invalid/problems/{}", self.kind),
            title,
            status: self.status.as_u16(),
            detail: &self.detail,
            request_id: crate::http::request_id::RequestId::current().map(|id| id.to_string()),
            extensions: &self.extensions,
        };
        let mut res = (self.status, Json(body)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(v) = self
            .retry_after
            .and_then(|wait| HeaderValue::from_str(&wait.as_secs().max(1).to_string()).ok())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

/// The HTTP status of a console error (the same for the API and server functions).
#[must_use]
pub fn status_of(e: ConsoleError) -> StatusCode {
    match e {
        ConsoleError::NotSignedIn
        | ConsoleError::BadCredentials
        | ConsoleError::SecondFactorRequired
        | ConsoleError::BadSecondFactor => StatusCode::UNAUTHORIZED,
        ConsoleError::Forbidden | ConsoleError::BadCsrf | ConsoleError::EnrolSecondFactor => {
            StatusCode::FORBIDDEN
        }
        ConsoleError::Throttled => StatusCode::TOO_MANY_REQUESTS,
        ConsoleError::SetupDone
        | ConsoleError::NotBannable
        | ConsoleError::AlreadyTrusted
        | ConsoleError::WouldLockOut
        | ConsoleError::NothingPending
        | ConsoleError::LastAdmin
        | ConsoleError::NoEnrolment => StatusCode::CONFLICT,
        ConsoleError::NotListed | ConsoleError::NoSuchUser => StatusCode::NOT_FOUND,
        ConsoleError::FirewallUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ConsoleError::BadRequest => StatusCode::BAD_REQUEST,
        ConsoleError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<ConsoleError> for ApiError {
    fn from(e: ConsoleError) -> Self {
        if e == ConsoleError::Internal {
            return ApiError::internal();
        }
        ApiError::new(status_of(e), e.code(), e.to_string())
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Rejected(c) => c.into(),
            AccountError::Throttled(wait) => {
                let mut e = ApiError::from(ConsoleError::Throttled);
                e.retry_after = Some(wait);
                e
            }
            AccountError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                ApiError::internal()
            }
        }
    }
}

impl From<AccountError> for ConsoleError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Rejected(c) => c,
            AccountError::Throttled(_) => ConsoleError::Throttled,
            AccountError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                ConsoleError::Internal
            }
        }
    }
}

impl From<crate::services::second_factor::SecondFactorError> for ConsoleError {
    fn from(e: crate::services::second_factor::SecondFactorError) -> Self {
        AccountError::from(e).into()
    }
}

impl From<PbxError> for ApiError {
    fn from(e: PbxError) -> Self {
        match e {
            PbxError::Invalid(field) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                field.to_string(),
            )
            .with("field", field.field())
            .with("rule", field.rule()),
            PbxError::Conflict(problems) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", problems.join("; "))
                    .with("problems", problems)
            }
            e @ PbxError::NotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            e @ PbxError::Stale { current, .. } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                e.to_string(),
            )
            .with("current_version", current),
            PbxError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                ApiError::internal()
            }
        }
    }
}

impl From<FirewallServiceError> for ApiError {
    fn from(e: FirewallServiceError) -> Self {
        match e {
            FirewallServiceError::Invalid(policy_error) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                policy_error.to_string(),
            )
            .with("field", policy_error.field()),
            e @ FirewallServiceError::BadValue { field, .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                e.to_string(),
            )
            .with("field", field),
            FirewallServiceError::NotBannable(why) => {
                ApiError::new(StatusCode::CONFLICT, "not_bannable", why)
            }
            FirewallServiceError::AlreadyTrusted(why) => {
                ApiError::new(StatusCode::CONFLICT, "already_trusted", why)
            }
            FirewallServiceError::WouldLockOut(lockout) => {
                let detail = FirewallServiceError::WouldLockOut(lockout.clone()).to_string();
                ApiError::new(StatusCode::CONFLICT, "lockout", detail)
                    .with("lockout", lockout)
                    .with("hint", "repeat with ?force=true to apply anyway")
            }
            e @ FirewallServiceError::Stale { current, .. } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                e.to_string(),
            )
            .with("current_version", current),
            e @ FirewallServiceError::NothingPending => {
                ApiError::new(StatusCode::CONFLICT, "nothing_pending", e.to_string())
            }
            e @ FirewallServiceError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            e @ FirewallServiceError::Kernel(_) => {
                tracing::error!(error = %e, "kernel firewall");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "firewall_unavailable",
                    e.to_string(),
                )
            }
            FirewallServiceError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                ApiError::internal()
            }
        }
    }
}

impl From<crate::services::guard_policy::GuardPolicyError> for ApiError {
    fn from(e: crate::services::guard_policy::GuardPolicyError) -> Self {
        use crate::services::guard_policy::GuardPolicyError;
        match e {
            GuardPolicyError::Invalid(policy_error) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                policy_error.to_string(),
            )
            .with("field", policy_error.field),
            GuardPolicyError::BadValue { field, reason } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                format!("{field}: {reason}"),
            )
            .with("field", field),
            e @ GuardPolicyError::Stale { current, .. } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                e.to_string(),
            )
            .with("current_version", current),
            GuardPolicyError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                ApiError::internal()
            }
        }
    }
}

impl From<crate::services::fraud::FraudError> for ApiError {
    fn from(e: crate::services::fraud::FraudError) -> Self {
        use crate::services::fraud::FraudError;
        match e {
            FraudError::Invalid(invalid) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                format!("{}: {}", invalid.field(), invalid.rule()),
            )
            .with("field", invalid.field().to_owned()),
            e @ FraudError::Stale { current, .. } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                e.to_string(),
            )
            .with("current_version", current),
            FraudError::BadRates(bad) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_rates",
                format!("the rate table was refused: {bad}"),
            )
            .with("line", bad.line),
            e @ (FraudError::NotLocked(_) | FraudError::NoSuchCall(_)) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            e @ FraudError::Asterisk(_) => {
                tracing::error!(error = %e, "fraud: Asterisk");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "asterisk_unavailable",
                    e.to_string(),
                )
            }
            FraudError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                ApiError::internal()
            }
        }
    }
}

impl From<crate::services::Internal> for ApiError {
    fn from(cause: crate::services::Internal) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::internal()
    }
}

/// The plain-text 500 for middleware that runs before routing.
pub fn internal_response() -> Response {
    ApiError::internal().into_response()
}

impl From<crate::services::page::BadCursor> for ApiError {
    fn from(e: crate::services::page::BadCursor) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            e.to_string(),
        )
        .with("field", "cursor")
    }
}

/// A problem document (RFC 9457), as every API error is sent (`application/problem+json`).
/// Only the members a given problem has are present.
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = Problem)]
#[allow(
    dead_code,
    reason = "describes the JSON `ApiError` writes; never built"
)]
pub struct ProblemDoc {
    /// `https://sipwarden.invalid/problems/<kind>`: stable, one per kind of error.
    r#type: String,
    /// The HTTP status's reason phrase.
    title: String,
    status: u16,
    /// What is wrong, in words.
    detail: String,
    /// The request's id, as in the `X-Request-Id` answer header and on the server's log
    /// lines of this request (a caller's own plain `X-Request-Id` is kept).
    #[schema(nullable = false)]
    request_id: Option<String>,
    /// The offending field (`invalid_field`, `invalid_query`), e.g. `codecs[1]`.
    #[schema(nullable = false)]
    field: Option<String>,
    /// The rule the field broke.
    #[schema(nullable = false)]
    rule: Option<String>,
    /// The object's current version (`precondition_failed`): send `If-Match: "v<it>"`.
    #[schema(nullable = false)]
    current_version: Option<i32>,
    /// Each conflict (`conflict`), e.g. a taken extension.
    #[schema(nullable = false)]
    problems: Option<Vec<String>>,
    /// What an apply would lock out (`lockout`).
    #[schema(nullable = false)]
    lockout: Option<serde_json::Value>,
    /// How to proceed anyway.
    #[schema(nullable = false)]
    hint: Option<String>,
    /// Why a configuration apply or rollback failed (`apply_failed`).
    #[schema(nullable = false)]
    report: Option<wire::pbx::ApplyReport>,
}
