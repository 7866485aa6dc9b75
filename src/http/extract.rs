//! Extractors: authentication (a handler's signature shows its access rule) and body,
//! path and query extractors whose rejections answer our JSON error shape.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::error::AppError;
use super::field_error;
use super::standing::Standing;
use crate::auth::{Principal, Role};
use crate::profile::ObjectOnly;

/// A JSON object body; malformed or mistyped bodies answer 400/422 in our error shape.
/// Every body this API takes is an object: an array is refused even where serde's derive
/// would read it as the fields in order.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = AppError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let is_json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json_content_type);
        if !is_json {
            return Err(AppError::BadRequest("expected a JSON body with `Content-Type: application/json`".into()));
        }
        let body = axum::body::Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::BadRequest(rejection.body_text())
            }
        })?;
        // Through `ObjectOnly`, as every nested object is: serde's derive would also read an
        // array of the fields in order, which no client means.
        let ObjectOnly(value) = from_json_bytes(&body)?;
        Ok(AppJson(value))
    }
}

/// A JSON object body that may be left out: an empty body reads as `T::default()` (for
/// requests whose fields are all optional, such as buying a number with no preferences).
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub T);

impl<T: serde::de::DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = AppError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let has_body = request.headers().contains_key(axum::http::header::CONTENT_TYPE)
            || request
                .headers()
                .get(axum::http::header::CONTENT_LENGTH)
                .is_some_and(|length| length.as_bytes() != b"0");
        if !has_body {
            return Ok(OptionalJson(T::default()));
        }
        let AppJson(value) = AppJson::from_request(request, state).await?;
        Ok(OptionalJson(value))
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for AppJson<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// Reads a JSON body as `T`: not JSON at all is 400; a field of the wrong kind is 422 with a
/// sentence naming the field (see [`field_error::describe`]).
fn from_json_bytes<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let not_json = || AppError::BadRequest("the request body is not valid JSON".into());
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        // A wrong type can be met before a syntax error further on: malformed JSON is 400.
        let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
        match error.inner().classify() {
            serde_json::error::Category::Data if is_json => {
                field_problem(&error.path().to_string(), &error.inner().to_string())
            }
            _ => not_json(),
        }
    })?;
    deserializer.end().map_err(|_| not_json())?;
    Ok(value)
}

/// Reads an already-parsed JSON value as `T`; errors name the offending field the same way
/// [`AppJson`]'s do (422).
pub fn from_json_value<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, AppError> {
    serde_path_to_error::deserialize(value)
        .map_err(|error| field_problem(&error.path().to_string(), &error.inner().to_string()))
}

/// 422 with a sentence for the person at the form, and the field it is about in `details`.
fn field_problem(path: &str, message: &str) -> AppError {
    let (field, message) = field_error::locate(path, message);
    let details = (!field.is_empty()).then(|| serde_json::json!({ field: message.clone() }));
    AppError::Unprocessable { message, details }
}

/// `application/json` or `application/<something>+json`, with any parameters.
fn is_json_content_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Path parameters; a non-numeric id answers 400 in our error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct AppPath<T>(pub T);

/// Query parameters; a mistyped value answers 400 naming the parameter.
#[derive(Debug)]
pub struct AppQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for AppQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(AppQuery).map_err(|error| {
            AppError::BadRequest(field_error::describe(&error.path().to_string(), &error.inner().to_string()))
        })
    }
}

/// The signed-in DeskRinger admin. Missing, invalid or expired tokens answer 401; a
/// customer's token answers 403.
#[derive(Debug, Clone, Copy)]
pub struct AdminUser {
    /// The admin's row id.
    pub id: i64,
}

/// The signed-in business (portal). Missing, invalid or expired tokens answer 401; an
/// admin's token answers 403.
#[derive(Debug, Clone, Copy)]
pub struct CustomerUser {
    /// The customer's row id.
    pub id: i64,
}

/// A valid token whose account is gone, or has moved on (a new password, a cancelled
/// business): as good as no token.
const STALE_TOKEN: AppError = AppError::Unauthorized("invalid or expired token");

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let principal = principal(parts, state)?;
        if principal.role != Role::Admin {
            return Err(AppError::Forbidden("admin access required".into()));
        }
        if state.standings.of(&state.db, Role::Admin, principal.id).await?
            != (Standing::Active { generation: principal.generation })
        {
            tracing::debug!(admin.id = principal.id, "token of a deleted admin or an older password");
            return Err(STALE_TOKEN);
        }
        Ok(AdminUser { id: principal.id })
    }
}

impl FromRequestParts<AppState> for CustomerUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let principal = principal(parts, state)?;
        if principal.role != Role::Customer {
            return Err(AppError::Forbidden("customer access required".into()));
        }
        if state.standings.of(&state.db, Role::Customer, principal.id).await?
            != (Standing::Active { generation: principal.generation })
        {
            tracing::debug!(
                customer.id = principal.id,
                "token of a deleted or cancelled business, or an older password"
            );
            return Err(STALE_TOKEN);
        }
        Ok(CustomerUser { id: principal.id })
    }
}

/// Whether a business's subscription status means it has left DeskRinger.
pub fn is_cancelled(subscription_status: &str) -> bool {
    matches!(subscription_status, "cancelled" | "canceled")
}

/// Reads and verifies the bearer token. Every failure is 401; the reason is only logged.
fn principal(parts: &Parts, state: &AppState) -> Result<Principal, AppError> {
    let header = parts.headers.get(AUTHORIZATION).ok_or(AppError::Unauthorized("missing Authorization header"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or(AppError::Unauthorized("Authorization header must be `Bearer <token>`"))?;
    state.jwt.verify(token).map_err(|error| {
        tracing::debug!(%error, "token refused");
        AppError::Unauthorized("invalid or expired token")
    })
}
