//! The owner's Settings screen (`#/settings`): changes that stick after a reload, the API's
//! errors next to the controls they name, and a password change that keeps the session.

use axum::http::StatusCode;
use deskringer::auth::Role;
use serde_json::{Value, json};

use super::page::Target;
use super::{Browser, DESKTOP, create_owner};
use crate::helpers::TestApp;

const OWNER_EMAIL: &str = "owner@bella.test";
const OWNER_PASSWORD: &str = "portal-pass-1";
const GREETING: &str = "Thanks for calling Bella Hair Studio, this is Ava. How can I help?";

/// A business whose owner has filled in the settings (the portal's own save body).
async fn business_with_settings(app: &TestApp) -> i64 {
    let id = create_owner(app, "Bella Hair Studio", OWNER_EMAIL, OWNER_PASSWORD).await;
    let mut settings: Value =
        serde_json::from_str(include_str!("../../fixtures/client-bodies/portal-settings-save-filled.json")).unwrap();
    settings["notification_email"] = json!("bella@bella.test");
    settings["timezone"] = json!("America/New_York");
    let token = app.token(Role::Customer, id);
    app.put("/api/portal/settings", &token, settings).await.assert_ok(StatusCode::OK);
    id
}

/// Sets the control named `name` (an API field path, for controls whose label repeats, as
/// each day's "Opens") the way typing would.
async fn set_named(browser: &Browser, name: &str, value: &str) {
    let control = browser.find(Target::Css(&format!("[name=\"{name}\"]"))).await;
    browser
        .js(
            "const [el, value] = arguments; el.value = value;
             el.dispatchEvent(new Event('input', {bubbles: true}));
             el.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![serde_json::to_value(&control).unwrap(), json!(value)],
        )
        .await;
}

/// The current value of the control named `name` (a checkbox answers whether it is checked).
async fn value_of(browser: &Browser, name: &str) -> Value {
    browser
        .js(
            "const el = document.querySelector(`[name=\"${CSS.escape(arguments[0])}\"]`);
             return el.type === 'checkbox' ? el.checked : el.value;",
            vec![json!(name)],
        )
        .await
}

/// What the screen shows next to the control named `name`: `[aria-invalid, the error
/// message after it, the text of what describes it last]`.
async fn error_next_to(browser: &Browser, name: &str) -> Value {
    browser
        .eventually(
            || format!("an error next to {name}"),
            || async {
                let shown = browser
                    .js(
                        "const el = document.querySelector(`[name=\"${CSS.escape(arguments[0])}\"]`);
                         const next = el.nextElementSibling;
                         if (!next || !next.classList.contains('field-error')) return null;
                         const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
                         const described = document.getElementById(ids[ids.length - 1]);
                         return [el.getAttribute('aria-invalid'), next.textContent, described && described.textContent];",
                        vec![json!(name)],
                    )
                    .await;
                Ok((!shown.is_null()).then_some(shown))
            },
        )
        .await
}

#[tokio::test]
async fn an_owner_changes_the_greeting_and_hours_and_they_stick_after_a_reload() {
    // Arrange
    let app = TestApp::spawn().await;
    let id = business_with_settings(&app).await;
    let Some(browser) = Browser::open(&app, DESKTOP).await else { return };
    browser.sign_in_as_owner(OWNER_EMAIL, OWNER_PASSWORD).await;
    browser.click_link("Settings").await;
    browser.wait_for_heading("Settings").await;

    // Act: a new greeting; Tuesday's hours changed, Monday closed.
    browser.fill("Greeting", GREETING).await;
    browser.click_button("Save receptionist").await;
    assert_eq!(browser.notice_text().await, "Receptionist saved.");
    set_named(&browser, "business_hours.tuesday.open", "10:30").await;
    set_named(&browser, "business_hours.tuesday.close", "20:00").await;
    browser.click(Target::Css("[name=\"business_hours.monday.closed\"]")).await;
    browser.click_button("Save opening hours").await;
    browser.wait_for_text("Opening hours saved.").await;

    // Assert: after a reload the screen shows what was saved ...
    browser.reload().await;
    browser.wait_for_heading("Settings").await;
    assert_eq!(browser.field("Greeting").await.prop("value").await.unwrap().as_deref(), Some(GREETING));
    assert_eq!(value_of(&browser, "business_hours.tuesday.open").await, "10:30");
    assert_eq!(value_of(&browser, "business_hours.tuesday.close").await, "20:00");
    assert_eq!(value_of(&browser, "business_hours.monday.closed").await, true);
    assert_eq!(value_of(&browser, "business_hours.wednesday.open").await, "09:00");
    // ... and so does the database.
    let (greeting, hours): (String, Value) =
        sqlx::query_as("SELECT greeting_message, business_hours::jsonb FROM customers WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(greeting, GREETING);
    assert_eq!((&hours["tuesday"]["open"], &hours["tuesday"]["close"]), (&json!("10:30"), &json!("20:00")));
    assert_ne!(hours["tuesday"]["closed"], true);
    assert_eq!(hours["monday"]["closed"], true);
    assert_eq!((&hours["wednesday"]["open"], &hours["wednesday"]["close"]), (&json!("09:00"), &json!("17:00")));

    browser.check_accessibility("settings").await;
    browser.screenshot("settings-desktop").await;
    browser.close().await;
}

#[tokio::test]
async fn a_bad_value_shows_the_apis_message_next_to_its_field() {
    // Arrange: what the API says about the same bad values.
    let app = TestApp::spawn().await;
    let id = business_with_settings(&app).await;
    let token = app.token(Role::Customer, id);
    let bad_service = json!({"booking": {"services": [{"name": "Cut", "minutes": "0", "price": ""}]}});
    let api_service = app.put("/api/portal/settings", &token, bad_service).await;
    let service_message = api_service.assert_error(StatusCode::UNPROCESSABLE_ENTITY).to_owned();
    let service_reason = api_service.body["details"]["booking.services[0].minutes"].clone();
    assert!(service_reason.is_string(), "the API names the row's minutes: {}", api_service.text);
    let api_email = app.put("/api/portal/settings", &token, json!({"notification_email": "bella-at-bella"})).await;
    let email_message = api_email.assert_error(StatusCode::UNPROCESSABLE_ENTITY).to_owned();
    let email_reason = api_email.body["details"]["notification_email"].clone();
    assert!(email_reason.is_string(), "{}", api_email.text);
    let Some(browser) = Browser::open(&app, DESKTOP).await else { return };
    browser.sign_in_as_owner(OWNER_EMAIL, OWNER_PASSWORD).await;
    browser.go("settings").await;
    browser.wait_for_heading("Settings").await;

    // Act: a service of 0 minutes.
    browser.fill("Service name, row 1", "Cut").await;
    browser.fill("Minutes, row 1", "0").await;
    browser.click_button("Save services and booking").await;

    // Assert: the API's words next to the minutes, which are marked invalid and described by
    // them; the summary above the form; nothing stored.
    assert_eq!(
        error_next_to(&browser, "booking.services[0].minutes").await,
        json!(["true", service_reason, service_reason])
    );
    assert_eq!(browser.alert_text().await, service_message);
    let booking: Option<Value> = sqlx::query_scalar("SELECT booking::jsonb FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(booking, None);

    // A bad email, likewise.
    browser.fill("Email for call summaries", "bella-at-bella").await;
    browser.click_button("Save notifications and transfers").await;
    assert_eq!(error_next_to(&browser, "notification_email").await, json!(["true", email_reason, email_reason]));
    let form_alert = browser.text_of_css("section[aria-labelledby=settings-notifications] [role=alert]").await;
    assert_eq!(form_alert, email_message);
    let email: String = sqlx::query_scalar("SELECT notification_email FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(email, "bella@bella.test");

    browser.check_accessibility("settings with errors").await;
    browser.close().await;
}

#[tokio::test]
async fn a_password_change_keeps_the_owner_signed_in_with_the_fresh_token() {
    // Arrange
    let app = TestApp::spawn().await;
    business_with_settings(&app).await;
    let Some(browser) = Browser::open(&app, DESKTOP).await else { return };
    browser.sign_in_as_owner(OWNER_EMAIL, OWNER_PASSWORD).await;
    browser.go("settings?section=password").await;
    browser.wait_for_heading("Settings").await;
    let token = || async {
        let session = browser.js("return JSON.parse(localStorage.getItem('deskringer.session'))", vec![]).await;
        session["token"].as_str().unwrap().to_owned()
    };
    let old_token = token().await;

    // Act
    browser.fill("Current password", OWNER_PASSWORD).await;
    browser.fill("New password", "a-new-password-2").await;
    browser.click_button("Change password").await;

    // Assert: said so; the page carries on with a fresh token, the old one is refused.
    browser.wait_for_text("Other devices will need to sign in again.").await;
    let new_token = token().await;
    assert_ne!(new_token, old_token);
    app.get("/api/portal/me", &old_token).await.assert_error(StatusCode::UNAUTHORIZED);
    app.get("/api/portal/me", &new_token).await.assert_ok(StatusCode::OK);
    browser.reload().await;
    browser.wait_for_heading("Settings").await;
    browser.wait_for_text("Business details").await;
    assert_eq!(browser.route().await, "settings?section=password");
    browser.click_link("Calls").await;
    browser.wait_for_heading("Calls").await;
    // The new password is the one that signs in now.
    let login = json!({"email": OWNER_EMAIL, "password": "a-new-password-2"});
    app.call(axum::http::Method::POST, "/api/portal/login", None, Some(login)).await.assert_ok(StatusCode::OK);
    browser.close().await;
}
