//! The sign-in screen (`#/signin`): owners and staff sign in through the real form.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Browser, DESKTOP, PHONE, Who, create_owner, create_staff};
use crate::helpers::TestApp;

const OWNER_EMAIL: &str = "owner@bella.test";
const OWNER_PASSWORD: &str = "portal-pass-1";

#[tokio::test]
async fn a_wrong_password_shows_the_apis_error_in_an_alert() {
    // Arrange
    let app = TestApp::spawn().await;
    create_owner(&app, "Bella Hair", OWNER_EMAIL, OWNER_PASSWORD).await;
    let wrong = json!({"email": OWNER_EMAIL, "password": "not-the-password"});
    let api = app.call(Method::POST, "/api/portal/login", None, Some(wrong)).await;
    let message = api.assert_error(StatusCode::UNAUTHORIZED).to_owned();
    let Some(browser) = Browser::open(&app, PHONE).await else { return };

    // Act
    browser.sign_in(Who::Owner, OWNER_EMAIL, "not-the-password").await;

    // Assert: the API's own words, in an alert, and still signed out on the sign-in screen.
    assert_eq!(browser.alert_text().await, message);
    assert_eq!(browser.route().await, "signin");
    assert_eq!(browser.js("return localStorage.length", vec![]).await, 0);
    browser.close().await;
}

#[tokio::test]
async fn an_owner_signs_in_and_lands_on_home() {
    let app = TestApp::spawn().await;
    create_owner(&app, "Bella Hair", OWNER_EMAIL, OWNER_PASSWORD).await;
    let Some(browser) = Browser::open(&app, PHONE).await else { return };

    browser.sign_in_as_owner(OWNER_EMAIL, OWNER_PASSWORD).await;

    browser.wait_for_heading("Home").await;
    // The business's navigation and name, and a session that survives a reload.
    assert_eq!(browser.text_of_css("#nav").await, "Home Calls Appointments Settings");
    assert_eq!(browser.text_of_css("#account").await, "Bella Hair Sign out");
    browser.reload().await;
    browser.wait_for_heading("Home").await;
    assert_eq!(browser.route().await, "home");
    browser.close().await;
}

#[tokio::test]
async fn staff_sign_in_and_land_on_the_staff_dashboard() {
    let app = TestApp::spawn().await;
    create_staff(&app, "staff@deskringer.test", "staff-password-1").await;
    let Some(browser) = Browser::open(&app, DESKTOP).await else { return };

    browser.sign_in_as_staff("staff@deskringer.test", "staff-password-1").await;

    browser.wait_for_heading("Dashboard").await;
    assert_eq!(browser.text_of_css("#nav").await, "Dashboard Businesses Numbers Calendars");
    browser.close().await;
}

#[tokio::test]
async fn a_401_later_returns_to_sign_in() {
    // Arrange: an owner signed in; then staff set the business a new portal password, which
    // ends every session it had.
    let app = TestApp::spawn().await;
    let owner = create_owner(&app, "Bella Hair", OWNER_EMAIL, OWNER_PASSWORD).await;
    let Some(browser) = Browser::open(&app, PHONE).await else { return };
    browser.sign_in_as_owner(OWNER_EMAIL, OWNER_PASSWORD).await;
    // Home has finished its requests (it draws once all have answered): the 401 comes from
    // the click below, not from a request of Home's still on its way.
    browser.wait_for_text("Calls needing attention").await;
    let staff = app.admin_token().await;
    let reset = format!("/api/customers/{owner}/set-password");
    app.post(&reset, &staff, json!({"password": "a-new-password-2"})).await.assert_ok(StatusCode::OK);

    // Act: the owner opens another screen; its first API request answers 401.
    browser.click_link("Calls").await;

    // Assert: back on sign-in, told why, the stale token forgotten.
    browser.wait_for_route("signin").await;
    browser.wait_for_heading("Sign in to DeskRinger").await;
    assert_eq!(browser.alert_text().await, "Your session has ended. Please sign in again.");
    assert_eq!(browser.js("return localStorage.getItem('deskringer.session')", vec![]).await, serde_json::Value::Null);
    assert_eq!(browser.text_of_css("#nav").await, "");
    browser.close().await;
}

#[tokio::test]
async fn the_sign_in_screen_passes_the_accessibility_checks() {
    let app = TestApp::spawn().await;
    let Some(browser) = Browser::open(&app, PHONE).await else { return };
    browser.go("signin").await;
    browser.wait_for_heading("Sign in to DeskRinger").await;

    browser.check_accessibility("sign-in").await;
    browser.screenshot("signin-phone").await;
    browser.resize(DESKTOP).await;
    browser.screenshot("signin-desktop").await;
    // With the API's error showing, too.
    browser.sign_in(Who::Owner, "nobody@bella.test", "not-the-password").await;
    browser.alert_text().await;
    browser.check_accessibility("sign-in with an error").await;
    browser.close().await;
}
