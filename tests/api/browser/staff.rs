//! The staff screens (`#/staff/...`): staff find a business, buy it a number and release it,
//! audit and sync the numbers, edit a business's settings, set its portal password, and see
//! the calendar connections; every screen passes the accessibility checks at both widths.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use super::{Browser, DESKTOP, PHONE, create_owner, create_staff};
use crate::helpers::{NewCall, TestApp};
use crate::numbers::{
    ACCOUNT, SMS_URL, STATUS_URL, VOICE_URL, account_page, app_with_twilio, form, incoming, received, stock_and_sell,
    wired,
};

const STAFF_EMAIL: &str = "ops@deskringer.test";
const STAFF_PASSWORD: &str = "staff-password-1";

/// A staff member signed in on `app` at `size`; `None` when browser tests are skipped.
async fn staff_browser(app: &TestApp, size: super::page::Size) -> Option<Browser> {
    create_staff(app, STAFF_EMAIL, STAFF_PASSWORD).await;
    let browser = Browser::open(app, size).await?;
    browser.sign_in_as_staff(STAFF_EMAIL, STAFF_PASSWORD).await;
    Some(browser)
}

/// Waits for the live region to say `text` (a notice stays a while, so the one before may
/// still be there).
async fn wait_for_notice(browser: &Browser, text: &str) {
    browser
        .eventually(
            || format!("the notice {text:?}"),
            || async { Ok((browser.text_of_css("#notice").await == text).then_some(())) },
        )
        .await
}

/// The error shown next to the control named `name` (the API's field path), when it is
/// marked invalid and the error is what a screen reader reads with it.
async fn field_error(browser: &Browser, name: &str) -> Option<Value> {
    let shown = browser
        .js(
            "const control = document.querySelector(`[name=\"${arguments[0]}\"]`); \
             const error = control && control.nextElementSibling; \
             if (!error || !error.classList.contains('field-error')) return null; \
             const describedBy = (control.getAttribute('aria-describedby') || '').split(' '); \
             return control.getAttribute('aria-invalid') === 'true' && describedBy.includes(error.id) \
               ? error.textContent : 'not marked: ' + error.textContent;",
            vec![json!(name)],
        )
        .await;
    (!shown.is_null()).then_some(shown)
}

/// Rows of the tables on the screen now.
async fn table_rows(browser: &Browser) -> Vec<String> {
    let rows =
        browser.js("return [...document.querySelectorAll('#view tbody tr')].map((tr) => tr.innerText)", vec![]).await;
    rows.as_array()
        .into_iter()
        .flatten()
        .map(|row| row.as_str().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The first column (the business's name) of each row on the screen now.
async fn business_names(browser: &Browser) -> Vec<String> {
    let names =
        browser.js("return [...document.querySelectorAll('#view tbody tr a')].map((a) => a.textContent)", vec![]).await;
    names.as_array().into_iter().flatten().map(|name| name.as_str().unwrap_or_default().to_owned()).collect()
}

/// A business with `status`, created `minutes_ago` (the list is newest first).
async fn business(app: &TestApp, name: &str, email: &str, status: &str, minutes_ago: i64) -> i64 {
    let id = app.insert_customer(name, email, status).await;
    sqlx::query("UPDATE customers SET created_at = now() - make_interval(mins => $2::int) WHERE id = $1")
        .bind(id)
        .bind(minutes_ago as i32)
        .execute(&app.db)
        .await
        .unwrap();
    id
}

async fn number_of(app: &TestApp, id: i64) -> (Option<String>, Option<String>) {
    sqlx::query_as("SELECT deskringer_number, twilio_number_sid FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn give_number(app: &TestApp, id: i64, number: &str, sid: &str) {
    sqlx::query("UPDATE customers SET deskringer_number = $2, twilio_number_sid = $3 WHERE id = $1")
        .bind(id)
        .bind(number)
        .bind(sid)
        .execute(&app.db)
        .await
        .unwrap();
}

/// A few calls and a booking, so a business's page shows what a real one does.
async fn some_history(app: &TestApp, id: i64) {
    let now = Utc::now();
    for (minutes_ago, summary, status) in [
        (25, "Asked whether Saturday has space for a colour; booked 10:00.", "completed"),
        (190, "Wanted the price of a cut and blow-dry; told $45.", "completed"),
        (1500, "Hung up before speaking.", "no-answer"),
    ] {
        app.insert_call(NewCall {
            created_at: now - Duration::minutes(minutes_ago),
            summary: Some(summary),
            status,
            duration_seconds: Some(if status == "completed" { 95 } else { 0 }),
            ..NewCall::completed(id)
        })
        .await;
    }
    let starts = now + Duration::days(2);
    sqlx::query(
        "INSERT INTO appointments (customer_id, service, minutes, starts_at, ends_at, blocks_until, place, caller_name, \
                                   caller_phone, notes, status, source) \
         VALUES ($1, 'Colour', 90, $2, $3, $3, 1, 'Dana Whitfield', '+14155550142', 'First visit', 'booked', 'call')",
    )
    .bind(id)
    .bind(starts)
    .bind(starts + Duration::minutes(90))
    .execute(&app.db)
    .await
    .unwrap();
}

/// Bella Hair's details and receptionist settings as an owner fills them in (through the API,
/// which checks them).
async fn a_filled_in_profile(app: &TestApp, admin: &str, id: i64) {
    let details =
        json!({"contact_name": "Maria Rossi", "phone": "+14155550123", "notification_email": "maria@bella.test"});
    app.put(&format!("/api/customers/{id}"), admin, details).await.assert_ok(StatusCode::OK);
    let open = json!({"open": "09:00", "close": "18:00"});
    let settings = json!({
        "business_type": "hair salon",
        "greeting_message": "Thanks for calling Bella Hair! How can I help?",
        "services_offered": "Cuts, colour and blow-dries for everyone.",
        "business_hours": {"monday": open, "tuesday": open, "wednesday": open, "thursday": open,
                           "friday": open, "saturday": {"open": "10:00", "close": "16:00"},
                           "sunday": {"open": "", "close": "", "closed": true}},
        "appointment_handling": "book",
        "booking": {"services": [{"name": "Cut and blow-dry", "minutes": 60, "price": 45},
                                 {"name": "Colour", "minutes": 90, "price": 85}]},
        "faqs": [{"question": "Do you take walk-ins?", "answer": "Yes, when a chair is free."}],
    });
    app.put(&format!("/api/customers/{id}/settings"), admin, settings).await.assert_ok(StatusCode::OK);
}

// --- 1. Finding a business ------------------------------------------------------------------

/// Towns and trades for businesses that read like real ones.
const TOWNS: &[&str] = &["Oakland", "Berkeley", "Alameda", "Fremont", "Hayward", "Marin", "Sonoma", "Napa", "Dublin"];
const TRADES: &[&str] = &["Plumbing", "Dental", "Auto Repair"];

#[tokio::test]
async fn staff_find_a_business_by_name_email_and_status_page_through_them_and_open_it() {
    // Arrange: 27 businesses from the bay (active), and three to find, the newest first.
    let app = TestApp::spawn().await;
    let mut minutes_ago = 1000;
    for town in TOWNS {
        for trade in TRADES {
            let email = format!("office@{}-{}.test", town.to_lowercase(), trade.to_lowercase().replace(' ', "-"));
            business(&app, &format!("{town} {trade}"), &email, "active", minutes_ago).await;
            minutes_ago -= 10;
        }
    }
    let bella = business(&app, "Bella Hair", "owner@bella.test", "trial", 30).await;
    business(&app, "Corner Smiles", "front-desk@cornersmiles.test", "past_due", 20).await;
    business(&app, "Harbor Yoga", "hello@harboryoga.test", "past_due", 10).await;
    let Some(browser) = staff_browser(&app, PHONE).await else { return };

    // Act: every business, newest first, 25 a page.
    browser.go("staff/businesses").await;
    browser.wait_for_heading("Businesses").await;
    browser.wait_for_text("30 businesses.").await;

    // Assert
    let first = business_names(&browser).await;
    assert_eq!(first.len(), 25, "{first:?}");
    assert_eq!(first[..3], ["Harbor Yoga", "Corner Smiles", "Bella Hair"]);
    browser.wait_for_text("Page 1 of 2").await;
    browser.check_accessibility("staff businesses").await;

    // Page 2: the five oldest, the first ones created.
    browser.click_button("Next").await;
    browser.wait_for_route("staff/businesses?page=2").await;
    browser.wait_for_text("Page 2 of 2").await;
    let second = business_names(&browser).await;
    assert_eq!(
        second,
        ["Berkeley Dental", "Berkeley Plumbing", "Oakland Auto Repair", "Oakland Dental", "Oakland Plumbing"]
    );
    assert!(first.iter().all(|name| !second.contains(name)), "no business on both pages");

    // By part of the name (any case).
    browser.fill("Name or email", "BELLA").await;
    browser.click_button("Search").await;
    browser.wait_for_route("staff/businesses?q=BELLA").await;
    browser.wait_for_text("1 business.").await;
    assert_eq!(business_names(&browser).await, ["Bella Hair"]);
    wait_for_notice(&browser, "1 business matches.").await;

    // By part of the email.
    browser.fill("Name or email", "cornersmiles").await;
    browser.click_button("Search").await;
    browser.wait_for_route("staff/businesses?q=cornersmiles").await;
    browser.wait_for_text("1 business.").await;
    assert_eq!(business_names(&browser).await, ["Corner Smiles"]);
    let row = table_rows(&browser).await.join(" | ");
    assert!(row.contains("front-desk@cornersmiles.test") && row.contains("past due"), "{row}");

    // By status only.
    browser.fill("Name or email", "").await;
    browser.select("Status", "Past due").await;
    browser.click_button("Search").await;
    browser.wait_for_route("staff/businesses?status=past_due").await;
    browser.wait_for_text("2 businesses.").await;
    assert_eq!(business_names(&browser).await, ["Harbor Yoga", "Corner Smiles"]);
    wait_for_notice(&browser, "2 businesses match.").await;
    browser.check_accessibility("staff businesses, filtered").await;
    browser.screenshot("staff-businesses-phone").await;

    // A search that finds nothing says so.
    browser.fill("Name or email", "nobody-by-this-name").await;
    browser.click_button("Search").await;
    browser.wait_for_text("No business matches this search.").await;

    // Open a business's page from the list.
    browser.go("staff/businesses?q=bella").await;
    browser.wait_for_text("1 business.").await;
    browser.click_link("Bella Hair").await;
    browser.wait_for_route(&format!("staff/businesses/{bella}")).await;
    browser.wait_for_heading("Bella Hair").await;
    browser.wait_for_text("owner@bella.test").await;
    browser.close().await;
}

// --- 2. Buying a number and releasing it ----------------------------------------------------

#[tokio::test]
async fn staff_buy_a_business_a_number_by_area_code_and_release_it() {
    // Arrange: Twilio (the stand-in) offers +13125550100 in area code 312 and sells it.
    let (app, mocks) = app_with_twilio(&[]).await;
    stock_and_sell(&mocks.twilio, Some("312"), "+13125550100", "PN100").await;
    Mock::given(method("DELETE"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers/PN100.json")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&mocks.twilio)
        .await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    some_history(&app, id).await;
    let admin = app.admin_token().await;
    a_filled_in_profile(&app, &admin, id).await;
    let Some(browser) = staff_browser(&app, DESKTOP).await else { return };
    browser.go(&format!("staff/businesses/{id}")).await;
    browser.wait_for_heading("Bella Hair").await;
    browser.wait_for_text("This business has no number yet.").await;
    browser.check_accessibility("a business's page, no number").await;

    // A bad area code: the API's words by the field, nothing bought.
    let refused = app.post(&format!("/api/customers/{id}/phone-number"), &admin, json!({"area_code": "31"})).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    browser.fill("Area code", "31").await;
    browser.click_button("Buy a number").await;
    assert_eq!(browser.alert_text().await, refused.body["error"].as_str().unwrap());
    let reason = refused.body["details"]["area_code"].clone();
    browser
        .eventually(|| "the area code's error".into(), || async { Ok(field_error(&browser, "area_code").await) })
        .await;
    assert_eq!(field_error(&browser, "area_code").await, Some(reason));
    assert!(received(&mocks.twilio, "POST", &format!("{ACCOUNT}/IncomingPhoneNumbers.json")).await.is_empty());

    // Act: buy one in area code 312.
    browser.fill("Area code", "312").await;
    browser.click_button("Buy a number").await;

    // Assert: the page shows it, the database holds it, and Twilio was asked to buy exactly
    // that number wired to this server.
    wait_for_notice(&browser, "Bought +13125550100.").await;
    browser.wait_for_text("Callers reach the receptionist on +13125550100.").await;
    assert!(browser.text_of_css(".staff-facts").await.contains("Number +13125550100"));
    assert_eq!(number_of(&app, id).await, (Some("+13125550100".into()), Some("PN100".into())));
    let searched = received(&mocks.twilio, "GET", &format!("{ACCOUNT}/AvailablePhoneNumbers/US/Local.json")).await;
    assert_eq!(searched.len(), 1);
    assert!(searched[0].url.query_pairs().any(|(k, v)| k == "AreaCode" && v == "312"), "{}", searched[0].url);
    let bought = received(&mocks.twilio, "POST", &format!("{ACCOUNT}/IncomingPhoneNumbers.json")).await;
    assert_eq!(bought.len(), 1);
    let fields = form(&bought[0]);
    for (name, value) in [
        ("PhoneNumber", "+13125550100"),
        ("VoiceUrl", VOICE_URL),
        ("VoiceMethod", "POST"),
        ("StatusCallback", STATUS_URL),
        ("SmsUrl", SMS_URL),
    ] {
        assert!(fields.contains(&(name.to_owned(), value.to_owned())), "{name}={value} in {fields:?}");
    }
    browser.wait_for_text("Dana Whitfield").await;
    browser.wait_for_text("Wanted the price of a cut and blow-dry; told $45.").await;
    browser.check_accessibility("a business's page").await;
    browser.screenshot("staff-business-desktop").await;

    // Act: release it; the first press only asks.
    browser.click_button("Release this number").await;
    browser.wait_for_text("Release +13125550100? It goes back to Twilio").await;
    assert!(received(&mocks.twilio, "DELETE", &format!("{ACCOUNT}/IncomingPhoneNumbers/PN100.json")).await.is_empty());
    browser.click_button("Yes, release +13125550100").await;

    // Assert: gone from the page and the database, and given back to Twilio.
    wait_for_notice(&browser, "+13125550100 was released").await;
    browser.wait_for_text("This business has no number yet.").await;
    assert!(browser.text_of_css(".staff-facts").await.contains("Number None yet"));
    assert_eq!(number_of(&app, id).await, (None, None));
    assert_eq!(received(&mocks.twilio, "DELETE", &format!("{ACCOUNT}/IncomingPhoneNumbers/PN100.json")).await.len(), 1);
    browser.close().await;
}

// --- 3. The numbers audit and sync ----------------------------------------------------------

/// The account's numbers as Twilio lists them: +13125550002 points at Twilio's demo until it
/// is rewired (then it lists wired, as Twilio would).
struct AccountNumbers {
    rewired: Arc<AtomicBool>,
}

impl Respond for AccountNumbers {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let second = if self.rewired.load(Ordering::SeqCst) {
            wired("PN2", "+13125550002")
        } else {
            incoming("PN2", "+13125550002", "https://demo.twilio.com/welcome/voice/", "POST", STATUS_URL)
        };
        let numbers = vec![
            wired("PN1", "+13125550001"),
            second,
            incoming("PN9", "+13125550009", "https://old.example/voice", "POST", ""),
        ];
        ResponseTemplate::new(200).set_body_json(account_page(numbers, None))
    }
}

/// Twilio rewiring +13125550002.
struct Rewire {
    rewired: Arc<AtomicBool>,
}

impl Respond for Rewire {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.rewired.store(true, Ordering::SeqCst);
        ResponseTemplate::new(200).set_body_json(wired("PN2", "+13125550002"))
    }
}

#[tokio::test]
async fn staff_see_a_miswired_number_with_its_problem_and_sync_rewires_it() {
    // Arrange: Bella's number is wired right, Corner Smiles' rings Twilio's demo, one number
    // belongs to nobody, and Harbor Yoga's number is not on the account at all.
    let (app, mocks) = app_with_twilio(&[]).await;
    let bella = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let corner = app.insert_customer("Corner Smiles", "front-desk@cornersmiles.test", "active").await;
    let harbor = app.insert_customer("Harbor Yoga", "hello@harboryoga.test", "active").await;
    give_number(&app, bella, "+13125550001", "PN1").await;
    give_number(&app, corner, "+13125550002", "PN2").await;
    give_number(&app, harbor, "+13125550004", "PN4").await;
    let rewired = Arc::new(AtomicBool::new(false));
    Mock::given(method("GET"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers.json")))
        .respond_with(AccountNumbers { rewired: rewired.clone() })
        .mount(&mocks.twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers/PN2.json")))
        .respond_with(Rewire { rewired: rewired.clone() })
        .mount(&mocks.twilio)
        .await;
    let problem = format!("voice URL is https://demo.twilio.com/welcome/voice/, not {VOICE_URL}");
    let Some(browser) = staff_browser(&app, DESKTOP).await else { return };

    // Act
    browser.go("staff/numbers").await;

    // Assert: each number, its business, and what is wrong in words.
    browser.wait_for_heading("Numbers").await;
    browser.wait_for_text("3 numbers, 1 wired to this server.").await;
    let rows = table_rows(&browser).await;
    let row = |number: &str| rows.iter().find(|row| row.contains(number)).cloned().unwrap_or_default();
    assert!(row("+13125550001").contains("Bella Hair") && row("+13125550001").contains("wired"), "{rows:?}");
    assert!(row("+13125550002").contains("Corner Smiles"), "{rows:?}");
    assert!(row("+13125550002").contains(&format!("not wired {problem}")), "{rows:?}");
    assert!(row("+13125550009").contains("No business"), "{rows:?}");
    assert!(row("+13125550004").contains("Harbor Yoga"), "the missing number is listed: {rows:?}");
    browser.check_accessibility("numbers").await;
    browser.screenshot("staff-numbers-desktop").await;

    // Act: sync.
    browser.click_button("Sync every number").await;

    // Assert: the report says what was rewired and why; Twilio was asked to rewire exactly
    // that number to this server; the audit now finds it wired.
    browser.wait_for_text("Sync done: 1 rewired, 0 failed, 1 already right.").await;
    browser.wait_for_text(&format!("+13125550002 (business {corner}) was rewired. It was wrong in: {problem}")).await;
    let posts = received(&mocks.twilio, "POST", &format!("{ACCOUNT}/IncomingPhoneNumbers/PN2.json")).await;
    assert_eq!(posts.len(), 1);
    let fields = form(&posts[0]);
    for (name, value) in [("VoiceUrl", VOICE_URL), ("VoiceMethod", "POST"), ("StatusCallback", STATUS_URL)] {
        assert!(fields.contains(&(name.to_owned(), value.to_owned())), "{name}={value} in {fields:?}");
    }
    for sid in ["PN1", "PN9"] {
        let path = format!("{ACCOUNT}/IncomingPhoneNumbers/{sid}.json");
        assert!(received(&mocks.twilio, "POST", &path).await.is_empty(), "{sid} left alone");
    }
    browser.wait_for_text("3 numbers, 2 wired to this server.").await;
    browser.check_accessibility("numbers after a sync").await;
    browser.close().await;
}

// --- 4. Settings, portal password, calendars --------------------------------------------------

#[tokio::test]
async fn staff_save_a_businesss_settings_see_errors_by_their_fields_and_set_its_portal_password() {
    let app = TestApp::spawn().await;
    let id = create_owner(&app, "Bella Hair", "owner@bella.test", "old-portal-pass-1").await;
    // What the API says of the bad forward number, to find it word for word on the page.
    let admin = app.admin_token().await;
    let settings = format!("/api/customers/{id}/settings");
    let refused = app.put(&settings, &admin, json!({"forward_to_number": "call my cell"})).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    let (message, reason) = (refused.body["error"].clone(), refused.body["details"]["forward_to_number"].clone());
    assert!(reason.is_string(), "{}", refused.text);
    let Some(browser) = staff_browser(&app, DESKTOP).await else { return };
    browser.go(&format!("staff/businesses/{id}")).await;
    browser.wait_for_heading("Bella Hair").await;

    // One setting saved.
    let greeting = "Thanks for calling Bella Hair, this is the front desk. How can I help?";
    browser.fill("Greeting", greeting).await;
    browser.click_button("Save receptionist settings").await;
    wait_for_notice(&browser, "Settings updated").await;
    let stored: Option<String> = sqlx::query_scalar("SELECT greeting_message FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored.as_deref(), Some(greeting));
    // And it is what the page shows after a reload.
    browser.reload().await;
    browser.wait_for_heading("Bella Hair").await;
    let shown = browser.field("Greeting").await.prop("value").await.unwrap();
    assert_eq!(shown.as_deref(), Some(greeting));

    // One bad value: the API's words next to its field, and nothing stored.
    browser.fill("Forward number", "call my cell").await;
    browser.click_button("Save receptionist settings").await;
    let alert = browser.alert_text().await;
    assert_eq!(Value::String(alert), message);
    let shown = field_error(&browser, "forward_to_number").await;
    assert_eq!(shown, Some(reason));
    let forward: Option<String> = sqlx::query_scalar("SELECT forward_to_number FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(forward, None);
    browser.check_accessibility("a business's page with a field error").await;

    // A portal password too short, then one the owner can sign in with.
    let short = app.post(&format!("/api/customers/{id}/set-password"), &admin, json!({"password": "short"})).await;
    short.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    browser.fill("New portal password", "short").await;
    browser.click_button("Set the password").await;
    let reason = short.body["details"]["password"].clone();
    browser
        .eventually(|| "the password's error".into(), || async { Ok(field_error(&browser, "password").await) })
        .await;
    assert_eq!(field_error(&browser, "password").await, Some(reason));
    browser.fill("New portal password", "new-portal-pass-7").await;
    browser.click_button("Set the password").await;
    wait_for_notice(&browser, "Portal password set for owner@bella.test.").await;
    let login = |password: &str| json!({"email": "owner@bella.test", "password": password});
    let signed_in = app.call(Method::POST, "/api/portal/login", None, Some(login("new-portal-pass-7"))).await;
    assert!(signed_in.assert_ok(StatusCode::OK)["access_token"].is_string());
    let old = app.call(Method::POST, "/api/portal/login", None, Some(login("old-portal-pass-1"))).await;
    old.assert_error(StatusCode::UNAUTHORIZED);
    browser.close().await;
}

#[tokio::test]
async fn staff_see_each_calendar_connection_with_its_last_error() {
    // Arrange: two connections seeded as tests/api/calendars.rs does; Corner Smiles' Google
    // grant was refused.
    let mocks = crate::helpers::Mocks::start().await;
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
    let app = TestApp::spawn_with(mocks.config(false, false, &[("CALENDAR_TOKEN_KEY", key.as_str())])).await;
    let bella = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let corner = app.insert_customer("Corner Smiles", "front-desk@cornersmiles.test", "active").await;
    let error = "Google refused the grant (Token has been expired or revoked.): connect the calendar again";
    let sealed = app.state.config.calendar.token_key.clone().unwrap().seal(b"1//refresh-token").unwrap();
    for (customer, status, last_error) in [(bella, "connected", None), (corner, "needs_reconnect", Some(error))] {
        sqlx::query(
            "INSERT INTO calendar_connections (customer_id, provider, status, secret, write_calendar_id, \
                                               busy_calendar_ids, last_error, last_error_at) \
             VALUES ($1, 'google', $2, $3, 'primary', '[\"primary\"]', $4, CASE WHEN $4 IS NOT NULL THEN now() END)",
        )
        .bind(customer)
        .bind(status)
        .bind(&sealed)
        .bind(last_error)
        .execute(&app.db)
        .await
        .unwrap();
    }
    let Some(browser) = staff_browser(&app, PHONE).await else { return };

    // Act
    browser.go("staff/calendars").await;

    // Assert: the one with a problem first, with its error in the server's words.
    browser.wait_for_heading("Calendars").await;
    browser.wait_for_text("2 connections, 1 with a problem.").await;
    let rows = table_rows(&browser).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[0].contains("Corner Smiles") && rows[0].contains("needs reconnect"), "{rows:?}");
    assert!(rows[0].contains(error), "{rows:?}");
    assert!(rows[1].contains("Bella Hair") && rows[1].contains("connected"), "{rows:?}");
    assert!(rows[1].contains("Google Calendar"), "{rows:?}");
    browser.check_accessibility("calendar connections").await;
    browser.click_link("Corner Smiles").await;
    browser.wait_for_route(&format!("staff/businesses/{corner}")).await;
    browser.wait_for_heading("Corner Smiles").await;
    browser.close().await;
}

// --- The dashboard ----------------------------------------------------------------------------

#[tokio::test]
async fn the_staff_dashboard_shows_the_figures_trials_and_latest_calls() {
    let app = TestApp::spawn().await;
    let bella = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let corner = app.insert_customer("Corner Smiles", "front-desk@cornersmiles.test", "trial").await;
    app.insert_customer("Harbor Yoga", "hello@harboryoga.test", "trial").await;
    some_history(&app, bella).await;
    app.insert_call(NewCall {
        summary: Some("New patient asking about a cleaning next week; wants a call back."),
        callback_requested: true,
        ..NewCall::completed(corner)
    })
    .await;
    let Some(browser) = staff_browser(&app, DESKTOP).await else { return };

    browser.wait_for_heading("Dashboard").await;
    browser.wait_for_text("New patient asking about a cleaning next week; wants a call back.").await;
    browser.wait_for_text("Harbor Yoga").await;
    browser.wait_for_text_gone("Loading…").await;

    let platform = browser.text_of_css("#view section").await;
    assert!(platform.contains("Businesses 3"), "{platform}");
    assert!(platform.contains("On trial 2"), "{platform}");
    assert!(platform.contains("Calls in all 4"), "{platform}");
    browser.check_accessibility("staff dashboard").await;
    browser.screenshot("staff-dashboard-desktop").await;
    browser.close().await;
}
