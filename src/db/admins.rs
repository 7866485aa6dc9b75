//! Queries on `admins` shared by the HTTP layer, the CLI and start-up.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

/// A DeskRinger staff member, as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct Admin {
    /// Row id.
    pub id: i64,
    /// Login email, lower-cased.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// When the admin was created.
    pub created_at: DateTime<Utc>,
    /// Last successful login.
    pub last_login: Option<DateTime<Utc>>,
}

/// The unique index on `lower(email)`; a violation means the email is taken.
pub const EMAIL_UNIQUE_CONSTRAINT: &str = "admins_email_key";

/// Inserts an admin. A taken email fails with a unique violation on
/// [`EMAIL_UNIQUE_CONSTRAINT`], so callers map it without a racy look-up first.
pub async fn insert(
    db: impl PgExecutor<'_>,
    email: &str,
    name: Option<&str>,
    password_hash: &str,
) -> sqlx::Result<Admin> {
    sqlx::query_as!(
        Admin,
        "INSERT INTO admins (email, name, password_hash) VALUES (lower($1), $2, $3) \
         RETURNING id, email, name, created_at, last_login",
        email.trim(),
        name,
        password_hash
    )
    .fetch_one(db)
    .await
}

/// Whether any admin exists (start-up creates the first one in development).
pub async fn any_exists(db: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM admins) AS "exists!""#).fetch_one(db).await
}
