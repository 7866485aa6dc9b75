//! DeskRinger: an AI receptionist that answers the phone for small businesses.
//!
//! The library holds everything; `main.rs` only parses the command line.

pub mod auth;
pub mod cli;
pub mod clients;
pub mod config;
pub mod db;
pub mod http;
pub mod jobs;
pub mod receptionist;
pub mod telemetry;
pub mod webhooks;
