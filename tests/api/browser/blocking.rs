//! Unwanted calls and languages in the web app: the owner blocks a caller from a call's page,
//! manages Settings > Blocked numbers and sets the receptionist's languages and missed-call
//! text; staff keep the numbers blocked for every business on the Numbers screen.

use axum::http::StatusCode;
use deskringer::auth::Role;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::page::Target;
use super::{Browser, DESKTOP, PHONE, create_owner, create_staff};
use crate::helpers::{NewCall, TestApp};
use crate::numbers::{ACCOUNT, account_page, app_with_twilio};

const OWNER_EMAIL: &str = "owner@bella.test";
const OWNER_PASSWORD: &str = "portal-pass-1";
const STAFF_EMAIL: &str = "ops@deskringer.test";
const STAFF_PASSWORD: &str = "staff-password-1";
/// The number every seeded call came from (`TestApp::insert_call`).
const CALLER_PHONE: &str = "+14155550199";
/// What Twilio puts in `From` for a caller who withheld their number.
const WITHHELD: &str = "+266696687";
const MISSED_CALL_TEXT: &str = "Sorry we missed your call at Bella Hair! Reply here or book at bellahair.test/book.";

/// A voice call from `caller` ten minutes ago.
async fn seed_call(app: &TestApp, business: i64, caller: &str, summary: &str) -> i64 {
    let id = app
        .insert_call(NewCall {
            summary: Some(summary),
            created_at: chrono::Utc::now() - chrono::Duration::minutes(10),
            ..NewCall::completed(business)
        })
        .await;
    sqlx::query("UPDATE calls SET caller_phone = $2, channel = 'voice' WHERE id = $1")
        .bind(id)
        .bind(caller)
        .execute(&app.db)
        .await
        .unwrap();
    id
}

/// The business's blocked numbers in the database: `(number, note)`, oldest first.
async fn blocked_of(app: &TestApp, business: Option<i64>) -> Vec<(String, Option<String>)> {
    sqlx::query_as("SELECT number, note FROM blocked_numbers WHERE customer_id IS NOT DISTINCT FROM $1 ORDER BY id")
        .bind(business)
        .fetch_all(&app.db)
        .await
        .unwrap()
}

/// Waits for the live region to say `text`.
async fn wait_for_notice(browser: &Browser, text: &str) {
    browser
        .eventually(
            || format!("the notice {text:?}"),
            || async { Ok((browser.text_of_css("#notice").await == text).then_some(())) },
        )
        .await
}

/// The current value of the control named `name` (a checkbox answers whether it is checked).
async fn value_of(browser: &Browser, name: &str) -> Value {
    browser
        .js(
            "const el = document.querySelector(`[name=\"${CSS.escape(arguments[0])}\"]`);
             return el ? (el.type === 'checkbox' ? el.checked : el.value) : null;",
            vec![json!(name)],
        )
        .await
}

/// The error shown right after the control named `name`, when the control is marked
/// invalid and described by it (what a screen reader reads with it).
async fn error_next_to(browser: &Browser, name: &str) -> Value {
    browser
        .eventually(
            || format!("an error next to {name}"),
            || async {
                let shown = browser
                    .js(
                        "const el = document.querySelector(`[name=\"${CSS.escape(arguments[0])}\"]`);
                         const next = el && el.nextElementSibling;
                         if (!next || !next.classList.contains('field-error')) return null;
                         const ids = (el.getAttribute('aria-describedby') || '').split(' ');
                         return el.getAttribute('aria-invalid') === 'true' && ids.includes(next.id)
                           ? next.textContent : 'not marked: ' + next.textContent;",
                        vec![json!(name)],
                    )
                    .await;
                Ok((!shown.is_null()).then_some(shown))
            },
        )
        .await
}

#[tokio::test]
async fn an_owner_blocks_a_caller_from_its_call_sees_it_in_settings_and_unblocks_it() {
    // Arrange: a call from a known number, one from a withheld number, and two calls refused
    // this month.
    let app = TestApp::spawn().await;
    let id = create_owner(&app, "Bella Hair Studio", OWNER_EMAIL, OWNER_PASSWORD).await;
    let call = seed_call(&app, id, CALLER_PHONE, "Tried to sell an extended car warranty.").await;
    let withheld = seed_call(&app, id, WITHHELD, "Hung up straight away.").await;
    for sid in ["CAblocked1", "CAblocked2"] {
        sqlx::query("INSERT INTO blocked_calls (twilio_call_sid, customer_id, reason) VALUES ($1, $2, 'blocked')")
            .bind(sid)
            .bind(id)
            .execute(&app.db)
            .await
            .unwrap();
    }
    let Some(browser) = Browser::open(&app, DESKTOP).await else { return };
    browser.sign_in_as_owner(OWNER_EMAIL, OWNER_PASSWORD).await;

    // Assert: Home counts the refused calls.
    browser.wait_for_text("Blocked calls (30 days) 2").await;

    // Act: a withheld caller offers no block; the known one is blocked from its call's page.
    browser.go(&format!("calls/{withheld}")).await;
    browser.wait_for_heading(&format!("Call from {WITHHELD}")).await;
    browser.role("button", Some("Mark handled")).await;
    assert!(!browser.is_present(Target::Role("button", Some("Block this caller"))).await);
    browser.go(&format!("calls/{call}")).await;
    browser.wait_for_heading(&format!("Call from {CALLER_PHONE}")).await;
    browser.click_button("Block this caller").await;

    // Assert: the page and the database say it is blocked, noted with the call.
    browser.wait_for_text(&format!("{CALLER_PHONE} is blocked. See your blocked numbers")).await;
    wait_for_notice(&browser, &format!("{CALLER_PHONE} is blocked: calls from it are refused.")).await;
    assert_eq!(
        blocked_of(&app, Some(id)).await,
        vec![(CALLER_PHONE.to_owned(), Some(format!("Caller of call {call}")))]
    );

    // Act: Settings > Blocked numbers lists it; the owner blocks another number by hand.
    browser.click_link("See your blocked numbers").await;
    browser.wait_for_heading("Settings").await;
    browser.wait_for_text(&format!("{CALLER_PHONE} Caller of call {call}")).await;
    browser.fill("Number to block", "+1 (415) 555-0142").await;
    browser.fill("Note", "Sales calls").await;
    browser.click_button("Block number").await;
    wait_for_notice(&browser, "+14155550142 blocked.").await;
    browser.wait_for_text("+14155550142 Sales calls").await;
    assert_eq!(
        blocked_of(&app, Some(id)).await,
        vec![
            (CALLER_PHONE.to_owned(), Some(format!("Caller of call {call}"))),
            ("+14155550142".to_owned(), Some("Sales calls".to_owned())),
        ]
    );
    // The same number again: the API's words, next to the form.
    browser.fill("Number to block", "+14155550142").await;
    browser.click_button("Block number").await;
    assert_eq!(browser.alert_text().await, "+14155550142 is already blocked");
    browser.check_accessibility("settings with languages and blocked numbers").await;

    // Act: unblock the caller.
    browser.click(Target::Role("button", Some(&format!("Unblock {CALLER_PHONE}")))).await;

    // Assert: gone from the screen and from the database; the other stays.
    wait_for_notice(&browser, &format!("{CALLER_PHONE} unblocked.")).await;
    browser.wait_for_text_gone(&format!("Caller of call {call}")).await;
    assert_eq!(blocked_of(&app, Some(id)).await, vec![("+14155550142".to_owned(), Some("Sales calls".to_owned()))]);
    browser.close().await;
}

#[tokio::test]
async fn an_owner_sets_languages_a_missed_call_text_and_refusing_unverified_callers_and_they_stick() {
    // Arrange
    let app = TestApp::spawn().await;
    let id = create_owner(&app, "Bella Hair Studio", OWNER_EMAIL, OWNER_PASSWORD).await;
    let Some(browser) = Browser::open(&app, PHONE).await else { return };
    browser.sign_in_as_owner(OWNER_EMAIL, OWNER_PASSWORD).await;
    browser.go("settings?section=languages").await;
    browser.wait_for_heading("Settings").await;
    assert_eq!(value_of(&browser, "languages[0]").await, "en-US");
    // The only language cannot be removed (the API needs one).
    assert!(!browser.is_present(Target::Role("button", Some("Remove language 1"))).await);

    // Act: Spanish (US) as the second language; a missed-call text; refuse spoofed calls.
    browser.click_button("Add a language").await;
    browser.select("Language 2", "Spanish (US) (es-US)").await;
    browser.click_button("Save languages").await;
    wait_for_notice(&browser, "Languages saved.").await;
    browser.fill("Text to a caller who hung up", MISSED_CALL_TEXT).await;
    browser.set_checked("Refuse calls whose caller ID failed verification (likely spoofed robocalls)", true).await;
    browser.click_button("Save missed and unwanted calls").await;
    wait_for_notice(&browser, "Missed and unwanted calls saved.").await;

    // Assert: after a reload the screen shows what was saved, and so does the database.
    browser.reload().await;
    browser.wait_for_heading("Settings").await;
    browser.role("button", Some("Save languages")).await;
    assert_eq!(value_of(&browser, "languages[0]").await, "en-US");
    assert_eq!(value_of(&browser, "languages[1]").await, "es-US");
    assert_eq!(value_of(&browser, "languages[2]").await, Value::Null);
    assert_eq!(value_of(&browser, "missed_call_text").await, MISSED_CALL_TEXT);
    assert_eq!(value_of(&browser, "reject_unverified_callers").await, true);
    let (languages, text, reject): (Vec<String>, String, bool) =
        sqlx::query_as("SELECT languages, missed_call_text, reject_unverified_callers FROM customers WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(languages, ["en-US", "es-US"]);
    assert_eq!(text, MISSED_CALL_TEXT);
    assert!(reject);
    browser.close().await;
}

#[tokio::test]
async fn a_refused_language_shows_the_apis_message_next_to_its_row() {
    // Arrange: what the API says about Spanish twice.
    let app = TestApp::spawn().await;
    let id = create_owner(&app, "Bella Hair Studio", OWNER_EMAIL, OWNER_PASSWORD).await;
    let token = app.token(Role::Customer, id);
    let api = app.put("/api/portal/settings", &token, json!({"languages": ["en-US", "es-US", "es-MX"]})).await;
    let message = api.assert_error(StatusCode::UNPROCESSABLE_ENTITY).to_owned();
    let reason = api.body["details"]["languages[2]"].clone();
    assert!(reason.is_string(), "the API names the third entry: {}", api.text);
    let Some(browser) = Browser::open(&app, DESKTOP).await else { return };
    browser.sign_in_as_owner(OWNER_EMAIL, OWNER_PASSWORD).await;
    browser.go("settings").await;
    browser.wait_for_heading("Settings").await;

    // Act: English, Spanish (US), and Spanish (Mexico) as a third.
    browser.click_button("Add a language").await;
    browser.select("Language 2", "Spanish (US) (es-US)").await;
    browser.click_button("Add a language").await;
    browser.select("Language 3", "Spanish (Mexico) (es-MX)").await;
    browser.click_button("Save languages").await;

    // Assert: the API's message at the top and its reason next to the third row; nothing saved.
    assert_eq!(browser.alert_text().await, message);
    assert_eq!(error_next_to(&browser, "languages[2]").await, reason);
    let languages: Vec<String> =
        sqlx::query_scalar("SELECT languages FROM customers WHERE id = $1").bind(id).fetch_one(&app.db).await.unwrap();
    assert_eq!(languages, ["en-US"]);
    browser.close().await;
}

#[tokio::test]
async fn staff_block_a_number_for_every_business_on_numbers_and_remove_it() {
    // Arrange: an empty Twilio account (the audit on the same screen asks it).
    let (app, mocks) = app_with_twilio(&[]).await;
    Mock::given(method("GET"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_page(vec![], None)))
        .mount(&mocks.twilio)
        .await;
    create_staff(&app, STAFF_EMAIL, STAFF_PASSWORD).await;
    let Some(browser) = Browser::open(&app, DESKTOP).await else { return };
    browser.sign_in_as_staff(STAFF_EMAIL, STAFF_PASSWORD).await;
    browser.go("staff/numbers").await;
    browser.wait_for_heading("Numbers").await;
    browser.wait_for_text("No number is blocked for every business.").await;

    // Act
    browser.fill("Number to block", "+1 900-555-0100").await;
    browser.fill("Note", "Robocaller reported by three businesses").await;
    browser.click_button("Block number").await;

    // Assert: listed, and stored for every business (no business of its own).
    wait_for_notice(&browser, "+19005550100 blocked.").await;
    browser.wait_for_text("+19005550100 Robocaller reported by three businesses").await;
    assert_eq!(
        blocked_of(&app, None).await,
        vec![("+19005550100".to_owned(), Some("Robocaller reported by three businesses".to_owned()))]
    );
    browser.check_accessibility("numbers with the blocked list").await;

    // Act: remove it.
    browser.click(Target::Role("button", Some("Unblock +19005550100"))).await;

    // Assert
    wait_for_notice(&browser, "+19005550100 unblocked.").await;
    browser.wait_for_text("No number is blocked for every business.").await;
    assert!(blocked_of(&app, None).await.is_empty());
    browser.close().await;
}

#[tokio::test]
async fn staff_filter_a_businesss_calls_to_texts_and_set_its_languages() {
    // Arrange: a voice call and a text conversation.
    let app = TestApp::spawn().await;
    let id = create_owner(&app, "Bella Hair Studio", OWNER_EMAIL, OWNER_PASSWORD).await;
    seed_call(&app, id, CALLER_PHONE, "Tried to sell an extended car warranty.").await;
    let thread = seed_call(&app, id, "+14155550123", "Asked whether Saturday is open.").await;
    sqlx::query("UPDATE calls SET channel = 'sms' WHERE id = $1").bind(thread).execute(&app.db).await.unwrap();
    create_staff(&app, STAFF_EMAIL, STAFF_PASSWORD).await;
    let Some(browser) = Browser::open(&app, DESKTOP).await else { return };
    browser.sign_in_as_staff(STAFF_EMAIL, STAFF_PASSWORD).await;
    browser.go(&format!("staff/businesses/{id}")).await;
    browser.wait_for_text("2 conversations, newest first.").await;

    // Act: texts only.
    browser.select("Kind", "Texts only").await;

    // Assert: only the text conversation is listed.
    browser.wait_for_text("1 conversation, newest first.").await;
    let listed = browser.text_of_css("table.staff-stack tbody").await;
    assert!(listed.contains("Asked whether Saturday is open.") && listed.contains("Text"), "{listed}");
    assert!(!listed.contains("car warranty"), "{listed}");

    // Act: French (Canada) as a second language, saved from the receptionist settings.
    browser.click_button("Add a language").await;
    browser.select("Language 2", "French (Canada) (fr-CA)").await;
    browser.click_button("Save receptionist settings").await;

    // Assert: stored, the main language first.
    browser
        .eventually(
            || "the languages to be saved".to_owned(),
            || async {
                let languages: Vec<String> = sqlx::query_scalar("SELECT languages FROM customers WHERE id = $1")
                    .bind(id)
                    .fetch_one(&app.db)
                    .await
                    .unwrap();
                Ok((languages == ["en-US", "fr-CA"]).then_some(()))
            },
        )
        .await;
    browser.close().await;
}
