//! Integration tests: the whole application against a real PostgreSQL.

mod admin;
mod appointments;
mod auth;
mod billing;
mod blocked;
mod browser;
mod calendar_feed;
mod calendars;
mod calls;
mod cli;
mod clients;
mod connections;

mod customers;
mod helpers;
mod languages;
mod numbers;
mod onboarding;
mod openapi;
mod outage;
mod portal;
mod realtime;
mod receptionist;
mod service;
mod sms_threads;
mod texts;
mod web_app;
