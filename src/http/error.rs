//! `AppError`: every way a request can fail, each answering the API's JSON error shape
//! `{"error": "...", "details"?: ...}` with the right status.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::clients::twilio::TwilioError;

/// Every error's body: a message for people, and for invalid fields the reason per field.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
    /// Field name to reason, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::HashMap<String, String>>)]
    pub details: Option<Value>,
}

/// 401 and 403: the access rules of a route behind a token.
#[derive(utoipa::IntoResponses)]
pub enum AuthErrors {
    /// The token is missing, invalid or expired.
    #[response(status = 401)]
    Unauthorized(#[to_schema] ErrorBody),
    /// The token is of the wrong kind (admin vs customer).
    #[response(status = 403)]
    Forbidden(ErrorBody),
}

/// 400 and 422: a malformed request or an invalid field.
#[derive(utoipa::IntoResponses)]
pub enum InputErrors {
    /// Malformed JSON, wrong content type, bad query string or path parameter.
    #[response(status = 400)]
    BadRequest(#[to_schema] ErrorBody),
    /// A field is missing, of the wrong type, or invalid; `details` names it.
    #[response(status = 422)]
    Unprocessable(ErrorBody),
}

/// 404: no such resource (or it belongs to another business).
#[derive(utoipa::IntoResponses)]
pub enum NotFound {
    /// Not found.
    #[response(status = 404)]
    NotFound(#[to_schema] ErrorBody),
}

/// 502 and 503: Twilio refused or could not be reached, or is not configured.
#[derive(utoipa::IntoResponses)]
pub enum TwilioErrors {
    /// Twilio refused (its message is shown) or could not be reached.
    #[response(status = 502)]
    BadGateway(#[to_schema] ErrorBody),
    /// `TWILIO_ACCOUNT_SID` or `TWILIO_AUTH_TOKEN` is not set.
    #[response(status = 503)]
    NotConfigured(ErrorBody),
}

/// Handler result with [`AppError`] as the error.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request is malformed (bad JSON, wrong content type, bad query string).
    #[error("{0}")]
    BadRequest(String),
    /// 401: the token is missing, invalid or expired (the dashboards log out on it), or
    /// login credentials are wrong.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource (or route).
    #[error("{0}")]
    NotFound(String),
    /// 409: a unique value is already taken.
    #[error("{0}")]
    Conflict(String),
    /// 409 `{error, slots}`: an appointment time is taken; the body offers alternatives.
    #[error("that time is already taken")]
    Taken(crate::http::appointments::SlotTaken),
    /// 413: the body is over the size limit.
    #[error("request body is too large")]
    PayloadTooLarge,
    /// 429: too many attempts; retry after the given seconds.
    #[error("too many attempts, retry in {retry_after_seconds} seconds")]
    TooManyRequests { retry_after_seconds: u64 },
    /// 429: a limit other than attempts was reached (the message names it); retry after the
    /// given seconds.
    #[error("{message}")]
    LimitReached { message: String, retry_after_seconds: u64 },
    /// 422: well-formed, but a field's value is invalid; `details` maps field to reason.
    #[error("{message}")]
    Unprocessable { message: String, details: Option<Value> },
    /// 502: a third-party service failed the request.
    #[error("{0}")]
    BadGateway(String),
    /// 503: a dependency (the database, a third-party service) is unavailable.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// 503 with `Retry-After`: the server is too busy for this request right now.
    #[error("{message}")]
    Overloaded { message: &'static str, retry_after_seconds: u64 },
    /// 500 (503 for pool exhaustion): a database failure. Details are logged, never sent.
    #[error("database error")]
    Sqlx(#[from] sqlx::Error),
    /// 500: any other internal failure. Details are logged, never sent.
    #[error("internal error")]
    Anyhow(#[from] anyhow::Error),
}

impl AppError {
    /// 422 naming one invalid field.
    pub fn invalid_field(field: &str, reason: impl std::fmt::Display) -> Self {
        let reason = reason.to_string();
        AppError::Unprocessable { message: format!("{field}: {reason}"), details: Some(json!({ field: reason })) }
    }

    /// Whether the database refused a value the client sent that JSON allows but PostgreSQL
    /// does not store (a NUL character in text, `\u0000` in JSON).
    fn is_unstorable_input(&self) -> bool {
        // 22021 character_not_in_repertoire, 22P05 untranslatable_character.
        matches!(self, AppError::Sqlx(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("22021" | "22P05")))
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        if self.is_unstorable_input() {
            return StatusCode::BAD_REQUEST;
        }
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) | AppError::Taken(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooManyRequests { .. } | AppError::LimitReached { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            AppError::ServiceUnavailable(_) | AppError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Sqlx(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Sqlx(sqlx::Error::Io(_) | sqlx::Error::Tls(_)) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Sqlx(_) | AppError::Anyhow(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = |text: &str| ErrorBody { error: text.to_owned(), details: None };
        if let AppError::Taken(taken) = self {
            return taken.into_response();
        }
        let body = match self {
            _ if self.is_unstorable_input() => message("text must not contain NUL (\\u0000) characters"),
            AppError::Sqlx(_) | AppError::Anyhow(_) => {
                // Logged once here, inside the request's span; the client gets no internals.
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    tracing::warn!(error = ?self, "database unavailable");
                    message("the service is temporarily unavailable, please retry")
                } else {
                    tracing::error!(error = ?self, "request failed");
                    message("internal server error")
                }
            }
            AppError::Unprocessable { ref message, ref details } => {
                ErrorBody { error: message.clone(), details: details.clone() }
            }
            ref other => message(&other.to_string()),
        };
        let mut response = (status, Json(body)).into_response();
        if let AppError::TooManyRequests { retry_after_seconds }
        | AppError::LimitReached { retry_after_seconds, .. }
        | AppError::Overloaded { retry_after_seconds, .. } = self
        {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, retry_after_seconds.into());
        }
        response
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => AppError::Unprocessable { message: e.body_text(), details: None },
            JsonRejection::JsonSyntaxError(e) => AppError::BadRequest(e.body_text()),
            JsonRejection::MissingJsonContentType(_) => {
                AppError::BadRequest("expected a JSON body with `Content-Type: application/json`".into())
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
            other => AppError::BadRequest(other.body_text()),
        }
    }
}

impl From<crate::auth::password::HashError> for AppError {
    fn from(error: crate::auth::password::HashError) -> Self {
        match error {
            crate::auth::password::HashError::Busy => {
                AppError::Overloaded { message: "the server is busy, please retry in a moment", retry_after_seconds: 1 }
            }
            crate::auth::password::HashError::Failed(error) => AppError::Anyhow(error),
        }
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::BadRequest(rejection.body_text())
    }
}

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            PathRejection::FailedToDeserializePathParams(e) => {
                AppError::BadRequest(format!("invalid path parameter: {}", e.body_text()))
            }
            other => AppError::BadRequest(other.body_text()),
        }
    }
}

impl From<TwilioError> for AppError {
    fn from(error: TwilioError) -> Self {
        tracing::warn!(error = error.for_log(), "Twilio call failed");
        match error {
            TwilioError::NotConfigured => AppError::ServiceUnavailable(error.to_string()),
            TwilioError::Api { message, .. } => AppError::BadGateway(format!("Twilio: {message}")),
            // Safe to repeat: a repeated purchase never buys a second number.
            TwilioError::Transport(_) => AppError::BadGateway("Twilio could not be reached; try again".into()),
        }
    }
}

/// Extension trait mapping a unique violation on a named constraint to a 409.
pub trait ResultExt<T> {
    /// Turns a unique-violation on `constraint` into [`AppError::Conflict`] with `message`;
    /// other errors pass through.
    fn on_unique(self, constraint: &str, message: &str) -> Result<T>;
}

impl<T, E: Into<AppError>> ResultExt<T> for std::result::Result<T, E> {
    fn on_unique(self, constraint: &str, message: &str) -> Result<T> {
        self.map_err(|e| match e.into() {
            AppError::Sqlx(sqlx::Error::Database(db))
                if db.is_unique_violation() && db.constraint() == Some(constraint) =>
            {
                AppError::Conflict(message.to_owned())
            }
            other => other,
        })
    }
}
