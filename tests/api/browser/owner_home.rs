//! The owner's Home screen (`#/home`): the set-up checklist with each step's action in place.
//! An owner in trial subscribes through the Stripe stand-in and comes back, saves the
//! services callers can book, and places the test call.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::{Browser, DESKTOP, PHONE};
use crate::helpers::{NewCall, TestApp};
use crate::numbers::{ACCOUNT, form, received};
use crate::onboarding::onboarding_app;

const OWNER_EMAIL: &str = "owner@bella.test";
const OWNER_PASSWORD: &str = "portal-pass-1";
/// The business's own phone (from the settings fixture): the test call rings it.
const OWNER_PHONE: &str = "+14155550123";

/// A business in trial whose owner filled in the settings page but has not subscribed, set
/// up booking or heard the receptionist yet; its number was attached by staff. Returns its id.
async fn business_in_trial(app: &TestApp) -> i64 {
    let id = super::create_owner(app, "Bella Hair Studio", OWNER_EMAIL, OWNER_PASSWORD).await;
    let mut settings: Value =
        serde_json::from_str(include_str!("../../fixtures/client-bodies/portal-settings-save-filled.json")).unwrap();
    // A receptionist that books: the checklist asks for services to book.
    settings["appointment_handling"] = json!("book");
    settings["notification_email"] = json!("bella@bella.test");
    let token = app.token(deskringer::auth::Role::Customer, id);
    app.put("/api/portal/settings", &token, settings).await.assert_ok(axum::http::StatusCode::OK);
    sqlx::query(
        "UPDATE customers SET subscription_status = 'trial', stripe_subscription_id = NULL, \
         deskringer_number = '+13125550100' WHERE id = $1",
    )
    .bind(id)
    .execute(&app.db)
    .await
    .unwrap();
    // Two calls waiting for the owner, for "Calls needing attention".
    let calls = [
        ("Maria Lopez", "Wants a cut and colour on Friday afternoon; asked for a call back.", 25, true),
        ("James Ward", "Asked whether you are open on Sunday.", 90, false),
    ];
    for (caller, summary, minutes_ago, callback) in calls {
        let call = app
            .insert_call(NewCall {
                summary: Some(summary),
                created_at: Utc::now() - Duration::minutes(minutes_ago),
                callback_requested: callback,
                ..NewCall::completed(id)
            })
            .await;
        sqlx::query("UPDATE calls SET caller_name = $2 WHERE id = $1")
            .bind(call)
            .bind(caller)
            .execute(&app.db)
            .await
            .unwrap();
    }
    id
}

/// The badge of checklist step `key` ("Done" or "To do").
async fn step_badge(browser: &Browser, key: &str) -> String {
    browser.text_of_css(&format!("li[data-step=\"{key}\"] .badge")).await
}

#[tokio::test]
async fn an_owner_in_trial_subscribes_saves_services_and_places_the_test_call_from_home() {
    // Arrange: Stripe makes a checkout whose page is the stand-in's own; Twilio places calls.
    let (app, mocks, stripe) = onboarding_app(&[]).await;
    let id = business_in_trial(&app).await;
    let checkout_page = format!("{}/checkout/cs_9", stripe.uri());
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "cus_9"})))
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "cs_9", "url": checkout_page})))
        .mount(&stripe)
        .await;
    Mock::given(method("GET"))
        .and(path("/checkout/cs_9"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<!doctype html><html lang=en><title>Stripe Checkout</title><h1>Pay DeskRinger</h1></html>",
            "text/html",
        ))
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/Calls.json")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "CAtest1", "status": "queued"})))
        .mount(&mocks.twilio)
        .await;
    let Some(browser) = Browser::open(&app, PHONE).await else { return };

    // The checklist, with what is still to do.
    browser.sign_in_as_owner(OWNER_EMAIL, OWNER_PASSWORD).await;
    browser.wait_for_heading("Home").await;
    browser.wait_for_text("Setting up").await;
    for (key, badge) in
        [("business_details", "Done"), ("booking", "To do"), ("subscription", "To do"), ("test_call", "To do")]
    {
        assert_eq!(step_badge(&browser, key).await, badge, "step {key}");
    }

    // Subscribe: the app asks for a checkout that comes back to Home, and goes to Stripe.
    browser.click_button("Subscribe").await;
    let sessions = browser
        .eventually(
            || "Stripe to receive the checkout request".to_owned(),
            || async {
                let sessions = received(&stripe, "POST", "/v1/checkout/sessions").await;
                Ok((!sessions.is_empty()).then_some(sessions))
            },
        )
        .await;
    assert_eq!(sessions.len(), 1);
    let fields = form(&sessions[0]);
    let success_url = fields.iter().find(|(k, _)| k == "success_url").map(|(_, v)| v.clone()).unwrap();
    // API_BASE_URL of the test configuration: the app, as the public sees it.
    let public = "https://deskringer.test";
    assert!(success_url.starts_with(&format!("{public}/app/?checkout=success")), "{success_url}");
    assert!(success_url.ends_with("#/home"), "{success_url}");
    browser
        .eventually(
            || format!("the browser at Stripe's checkout page {checkout_page}"),
            || async { Ok((browser.js("return location.href", vec![]).await == checkout_page.as_str()).then_some(())) },
        )
        .await;

    // Stripe sends the owner back (to this test's server rather than the public address).
    let back = success_url.replacen(public, browser.base_url(), 1).replace("{CHECKOUT_SESSION_ID}", "cs_9");
    browser.client().goto(&back).await.unwrap();
    browser.wait_for_heading("Home").await;
    browser
        .wait_for_text(
            "Thank you: your payment went through. Your subscription starts as soon as Stripe confirms it, usually within a minute.",
        )
        .await;
    // The outcome leaves the address, so a reload does not say it again.
    assert_eq!(browser.js("return location.search", vec![]).await, "");
    assert_eq!(browser.route().await, "home");

    // Services: the step's link opens the settings on the booking section.
    browser.click_link("Add services callers can book").await;
    browser.wait_for_route("settings?section=booking").await;
    browser.wait_for_heading("Settings").await;
    browser.fill("Service name, row 1", "Cut and blow-dry").await;
    browser.fill("Minutes, row 1", "45").await;
    browser.fill("Price, row 1", "55").await;
    browser.click_button("Add a service").await;
    browser.fill("Service name, row 2", "Beard trim").await;
    browser.fill("Minutes, row 2", "20").await;
    browser.click_button("Save services and booking").await;
    assert_eq!(browser.notice_text().await, "Services and booking saved.");
    let booking: Value = sqlx::query_scalar("SELECT booking::jsonb FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        booking["services"],
        json!([{"name": "Cut and blow-dry", "minutes": 45, "price": 55}, {"name": "Beard trim", "minutes": 20, "price": null}])
    );
    browser.click_link("Home").await;
    browser.wait_for_heading("Home").await;
    browser.wait_for_text("Setting up").await;
    assert_eq!(step_badge(&browser, "booking").await, "Done");
    assert_eq!(browser.text_of_css("li[data-step=\"booking\"] a").await, "Change services to book");
    // A fresh page: the "saved" notice from the settings screen is not Home's to show.
    browser.reload().await;
    browser.wait_for_text("Calls needing attention").await;

    // The test call: Twilio is asked to ring the owner, and the screen says so.
    browser.click_button("Place a test call").await;
    let result = "li[data-step=\"test_call\"] .step-result";
    browser
        .eventually(
            || "the test call's result next to its step".to_owned(),
            || async {
                let text = browser.text_of_css(result).await;
                Ok((!text.is_empty()).then_some(text))
            },
        )
        .await;
    assert_eq!(
        browser.text_of_css(result).await,
        format!("Calling {OWNER_PHONE} now: answer to hear your receptionist")
    );
    let placed = received(&mocks.twilio, "POST", &format!("{ACCOUNT}/Calls.json")).await;
    assert_eq!(placed.len(), 1);
    let call = form(&placed[0]);
    assert!(call.contains(&("To".to_owned(), OWNER_PHONE.to_owned())), "{call:?}");
    assert!(call.contains(&("From".to_owned(), "+13125550100".to_owned())), "{call:?}");
    assert_eq!(app.count("test_calls").await, 1);

    // Evidence: the checklist half done, figures, and the calls needing attention.
    browser.wait_for_text("Maria Lopez").await;
    browser.check_accessibility("home").await;
    browser.screenshot("home-phone").await;
    browser.resize(DESKTOP).await;
    browser.screenshot("home-desktop").await;
    browser.close().await;
}

#[tokio::test]
async fn the_skip_link_moves_focus_to_the_content_and_stays_on_the_screen() {
    let app = TestApp::spawn().await;
    super::create_owner(&app, "Bella Hair", OWNER_EMAIL, OWNER_PASSWORD).await;
    let Some(browser) = Browser::open(&app, PHONE).await else { return };
    browser.sign_in_as_owner(OWNER_EMAIL, OWNER_PASSWORD).await;
    browser.go("calls").await;
    browser.wait_for_heading("Calls").await;

    // Act: a keyboard user's first Tab lands on the skip link; Enter follows it.
    browser.js("document.querySelector('.skip-link').focus()", vec![]).await;
    let link = browser.find(super::page::Target::Role("link", Some("Skip to content"))).await;
    link.send_keys("\u{E007}").await.unwrap();

    // Assert: still on Calls (the link is not a route), with focus on the content.
    browser
        .eventually(
            || "focus on the content".to_owned(),
            || async { Ok((browser.js("return document.activeElement.id", vec![]).await == "view").then_some(())) },
        )
        .await;
    assert_eq!(browser.route().await, "calls");
    browser.wait_for_heading("Calls").await;
    browser.close().await;
}
