//! What both kinds of account (admins and businesses) send to sign in and to change their
//! password, with the rules both share.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::auth::password::{check_new_password, hash_password, verify_password};
use crate::http::error::{AppError, Result};

/// Email and password, as both login endpoints take them. Either one missing or empty is
/// 400 ("email and password are required"), not a failed login.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    /// Login email (case-insensitive).
    #[serde(default)]
    #[schema(example = "admin@deskringer.com")]
    email: String,
    /// Password; never logged.
    #[serde(default)]
    #[schema(value_type = String)]
    password: Option<SecretString>,
}

impl Credentials {
    /// The trimmed email and the password, both present.
    pub fn required(self) -> Result<(String, SecretString)> {
        let email = self.email.trim().to_owned();
        match self.password.filter(|password| !password.expose_secret().is_empty()) {
            Some(password) if !email.is_empty() => Ok((email, password)),
            _ => Err(AppError::BadRequest("email and password are required".into())),
        }
    }
}

/// A password change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChangePassword {
    #[schema(value_type = String)]
    current_password: SecretString,
    /// At least 8 characters.
    #[schema(value_type = String, min_length = 8)]
    new_password: SecretString,
}

impl ChangePassword {
    /// Checks the new password's rules, counts the attempt with `count_attempt` (the login
    /// limits: a 429 stops here), checks the current password against `stored` (the
    /// account's hash, `None` if it has none), and returns the new hash. A wrong current
    /// password is 400, not 401: the dashboards log the user out on any 401.
    pub async fn new_hash(self, stored: Option<String>, count_attempt: impl FnOnce() -> Result<()>) -> Result<String> {
        check_new_password(self.new_password.expose_secret())
            .map_err(|reason| AppError::invalid_field("new_password", reason))?;
        count_attempt()?;
        if !verify_password(self.current_password, stored).await? {
            return Err(AppError::BadRequest("current password is incorrect".into()));
        }
        Ok(hash_password(self.new_password).await?)
    }
}

/// A changed password, with a fresh token: tokens issued before the change no longer work.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasswordChanged {
    /// "Password changed".
    pub message: &'static str,
    /// A token of the account's new generation, to use from now on.
    pub access_token: String,
}

impl PasswordChanged {
    /// The answer carrying `access_token`.
    pub fn new(access_token: String) -> Self {
        PasswordChanged { message: "Password changed", access_token }
    }
}
