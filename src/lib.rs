//! DeskRinger: an AI receptionist that answers the phone for small businesses.
//!
//! The library holds everything; `main.rs` only parses the command line.

pub mod auth;
pub mod booking;
pub mod cli;
pub mod clients;
pub mod config;
pub mod db;
pub mod http;
pub mod jobs;
pub mod markup;
pub mod numbers;
pub mod phone_country;
pub mod profile;
pub mod receptionist;
pub mod secrets;
pub mod speech;
pub mod telemetry;

/// Brings a database up to date: the application's tables ([`db::migrate`]), then the job
/// queue's ([`jobs::migrate`]).
pub async fn migrate(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    db::migrate(pool).await?;
    jobs::migrate(pool).await
}
