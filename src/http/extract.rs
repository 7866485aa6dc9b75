//! Extractors: authentication (a handler's signature shows its access rule) and body,
//! path and query extractors whose rejections answer our JSON error shape.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::error::AppError;
use crate::auth::{Principal, Role};

/// A JSON body; malformed or mistyped bodies answer 400/422 in our error shape.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct AppJson<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for AppJson<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// Reads an already-parsed JSON value as `T`; errors name the offending field's path, the
/// same way [`AppJson`]'s do (422).
pub fn from_json_value<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, AppError> {
    serde_path_to_error::deserialize(value).map_err(|error| AppError::Unprocessable {
        message: format!("Failed to deserialize the JSON body into the target type: {error}"),
        details: None,
    })
}

/// Path parameters; a non-numeric id answers 400 in our error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct AppPath<T>(pub T);

/// Query parameters; a mistyped value answers 400 in our error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct AppQuery<T>(pub T);

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

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match principal(parts, state)? {
            Principal { role: Role::Admin, id } => Ok(AdminUser { id }),
            Principal { role: Role::Customer, .. } => Err(AppError::Forbidden("admin access required".into())),
        }
    }
}

impl FromRequestParts<AppState> for CustomerUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match principal(parts, state)? {
            Principal { role: Role::Customer, id } => Ok(CustomerUser { id }),
            Principal { role: Role::Admin, .. } => Err(AppError::Forbidden("customer access required".into())),
        }
    }
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
