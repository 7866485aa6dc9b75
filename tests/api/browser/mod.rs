//! Browser tests: the web app (`/app/`) in a real headless Chromium, driven over WebDriver
//! (fantoccini + chromedriver) against the real server, database and third-party stand-ins
//! of a [`TestApp`].
//!
//! A journey reads like this:
//! ```ignore
//! let app = TestApp::spawn().await;
//! let owner = create_owner(&app, "Bella Hair", "owner@bella.test", "portal-pass-1").await;
//! let Some(browser) = Browser::open(&app, PHONE).await else { return }; // skipped: no Chromium
//! browser.sign_in_as_owner("owner@bella.test", "portal-pass-1").await;
//! browser.go("settings").await;
//! browser.fill("Greeting", "Hello!").await;
//! browser.click_button("Save").await;
//! assert_eq!(browser.notice_text().await, "Saved.");
//! browser.check_accessibility("settings").await; // phone and desktop widths
//! browser.screenshot("settings-phone").await;     // docs/screenshots/settings-phone.png
//! browser.close().await;                          // fails on JavaScript errors
//! ```
//! One chromedriver serves the whole test process (each test gets its own browser and
//! profile, so tests stay parallel). Without Chromium and chromedriver the tests print
//! "skipped: ..." and pass, except when `CI` is set: then they fail.

// The harness is an API for every screen's journeys; not every helper has a caller yet.
#![allow(dead_code)]

mod axe;
mod driver;
pub mod page;

mod blocking;
mod owner_appointments;
mod owner_calls;
mod owner_home;
mod owner_settings;
mod security;
mod signin;
mod staff;

pub use page::{Browser, DESKTOP, PHONE, Who};

use crate::helpers::TestApp;

/// A business (active subscription) whose owner signs in with `email` and `password`;
/// returns its id.
pub async fn create_owner(app: &TestApp, business_name: &str, email: &str, password: &str) -> i64 {
    let id = app.insert_customer(business_name, email, "active").await;
    let hash = deskringer::auth::password::hash_password(password.to_owned().into()).await.unwrap();
    sqlx::query("UPDATE customers SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .execute(&app.db)
        .await
        .unwrap();
    id
}

/// A DeskRinger staff member (admin) who signs in with `email` and `password`; returns its id.
pub async fn create_staff(app: &TestApp, email: &str, password: &str) -> i64 {
    app.create_admin(email, password).await
}
