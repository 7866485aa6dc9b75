//! Integration tests: the whole application against a real PostgreSQL.

mod admin;
mod auth;


mod helpers;
mod service;
