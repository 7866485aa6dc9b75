//! The owner's Calls screen (`#/calls`, `#/calls/12`): filters, a call's page with its
//! transcript, handled / archive, bulk archive and the CSV export; callers' words as text.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use super::page::Target;
use super::{Browser, DESKTOP, PHONE, create_owner};
use crate::helpers::{NewCall, TestApp};

const OWNER_EMAIL: &str = "owner@bella.test";
const OWNER_PASSWORD: &str = "portal-pass-1";
/// A caller name that would run script if a screen inserted it as HTML.
const MARKUP: &str = "<img src=x onerror=alert(1)>";
/// The number every seeded call came from (`TestApp::insert_call`).
const CALLER_PHONE: &str = "+14155550199";

/// The seeded calls' ids.
struct Calls {
    maria: i64,
    priya: i64,
    unnamed: i64,
    james: i64,
}

/// A voice call `minutes_ago`, from `caller` (None: only the number), handled or not.
async fn seed_call(app: &TestApp, business: i64, caller: Option<&str>, summary: &str, minutes_ago: i64) -> i64 {
    let id = app
        .insert_call(NewCall {
            summary: Some(summary),
            created_at: Utc::now() - Duration::minutes(minutes_ago),
            duration_seconds: Some(95),
            ..NewCall::completed(business)
        })
        .await;
    sqlx::query("UPDATE calls SET caller_name = $2, channel = 'voice', ended_at = created_at + interval '95 seconds' WHERE id = $1")
        .bind(id)
        .bind(caller)
        .execute(&app.db)
        .await
        .unwrap();
    id
}

/// Four voice calls, newest first: Maria (with a transcript), Priya, one from a number only,
/// and James's, already handled a day ago.
async fn seed_calls(app: &TestApp, business: i64) -> Calls {
    let maria = seed_call(app, business, Some("Maria Lopez"), "Wants a cut and colour on Friday afternoon.", 30).await;
    let start = Utc::now() - Duration::minutes(30);
    let lines = [
        ("ai", "Thanks for calling Bella Hair, how can I help?"),
        ("caller", "Hi, could I book a cut and colour for Friday afternoon?"),
        ("ai", "Of course. Can I take your name?"),
        ("caller", "Maria Lopez."),
    ];
    for (n, (speaker, message)) in lines.into_iter().enumerate() {
        app.insert_log(maria, speaker, message, start + Duration::seconds(5 * n as i64)).await;
    }
    let priya = seed_call(app, business, Some("Priya Shah"), "Asked whether you are open on Sunday.", 60).await;
    let unnamed = seed_call(app, business, None, "Left a message about an umbrella left behind.", 120).await;
    let james = seed_call(app, business, Some("James Ward"), "Cancelled his Tuesday appointment.", 60 * 24).await;
    sqlx::query("UPDATE calls SET handled = true, handled_at = now() WHERE id = $1")
        .bind(james)
        .execute(&app.db)
        .await
        .unwrap();
    Calls { maria, priya, unnamed, james }
}

/// The callers the list shows, top to bottom.
async fn listed_callers(browser: &Browser) -> Vec<String> {
    let names = browser
        .js(
            "return [...document.querySelectorAll('#view table.calls tbody tr td:nth-child(2) a')].map((a) => a.textContent)",
            vec![],
        )
        .await;
    serde_json::from_value(names).unwrap()
}

/// Waits until the list shows exactly `expected`, in that order.
async fn wait_for_callers(browser: &Browser, expected: &[&str]) {
    browser
        .eventually(
            || format!("the calls of {expected:?}"),
            || async { Ok((listed_callers(browser).await == expected).then_some(())) },
        )
        .await
}

/// `(handled, archived)` of call `id`.
async fn flags(app: &TestApp, id: i64) -> (bool, bool) {
    sqlx::query_as("SELECT handled, archived FROM calls WHERE id = $1").bind(id).fetch_one(&app.db).await.unwrap()
}

#[tokio::test]
async fn an_owner_filters_reads_handles_archives_and_exports_calls() {
    // Arrange
    let app = TestApp::spawn().await;
    let business = create_owner(&app, "Bella Hair", OWNER_EMAIL, OWNER_PASSWORD).await;
    let calls = seed_calls(&app, business).await;
    let Some(browser) = Browser::open(&app, DESKTOP).await else { return };
    browser.sign_in_as_owner(OWNER_EMAIL, OWNER_PASSWORD).await;

    // The list: every call, newest first.
    browser.click_link("Calls").await;
    browser.wait_for_heading("Calls").await;
    wait_for_callers(&browser, &["Maria Lopez", "Priya Shah", CALLER_PHONE, "James Ward"]).await;
    browser.check_accessibility("calls list").await;
    browser.screenshot("calls-desktop").await;

    // Filters.
    browser.click_link("Handled").await;
    browser.wait_for_route("calls?status=handled").await;
    wait_for_callers(&browser, &["James Ward"]).await;
    browser.click_link("Unhandled").await;
    browser.wait_for_route("calls?status=unhandled").await;
    wait_for_callers(&browser, &["Maria Lopez", "Priya Shah", CALLER_PHONE]).await;
    browser.click_link("All").await;
    browser.wait_for_route("calls").await;
    wait_for_callers(&browser, &["Maria Lopez", "Priya Shah", CALLER_PHONE, "James Ward"]).await;

    // Maria's call: the transcript in the order it was spoken, and the summary.
    browser.click_link("Maria Lopez").await;
    browser.wait_for_heading("Call from Maria Lopez").await;
    browser.wait_for_text("This call booked no appointment.").await;
    let transcript = browser
        .js(
            "return [...document.querySelectorAll('#view ol.transcript li')]
                .map((li) => li.childNodes[0].textContent + li.childNodes[1].textContent)",
            vec![],
        )
        .await;
    assert_eq!(
        transcript,
        json!([
            "Receptionist: Thanks for calling Bella Hair, how can I help?",
            "Caller: Hi, could I book a cut and colour for Friday afternoon?",
            "Receptionist: Of course. Can I take your name?",
            "Caller: Maria Lopez.",
        ])
    );
    assert_eq!(
        browser.text_of_css("#view section[aria-labelledby=call-summary] p").await,
        "Wants a cut and colour on Friday afternoon."
    );
    browser.check_accessibility("call detail").await;
    browser.resize(PHONE).await;
    browser.screenshot("call-detail-phone").await;
    browser.resize(DESKTOP).await;

    // Mark it handled.
    browser.click_button("Mark handled").await;
    browser.button("Mark unhandled").await;
    assert_eq!(browser.notice_text().await, "Call marked as handled");
    assert_eq!(flags(&app, calls.maria).await, (true, false));

    // Archive it (after confirming): back on the list, without it.
    browser.click_button("Archive").await;
    browser.click_button("Yes, archive").await;
    browser.wait_for_route("calls").await;
    wait_for_callers(&browser, &["Priya Shah", CALLER_PHONE, "James Ward"]).await;
    assert_eq!(flags(&app, calls.maria).await, (true, true));

    // Bulk archive two.
    browser.click(Target::Css(&format!("#call-{}", calls.priya))).await;
    browser.click(Target::Css(&format!("#call-{}", calls.unnamed))).await;
    browser.click_button("Archive selected (2)").await;
    browser.click_button("Yes, archive 2 calls").await;
    wait_for_callers(&browser, &["James Ward"]).await;
    assert_eq!(browser.notice_text().await, "2 calls archived");
    assert_eq!(flags(&app, calls.priya).await, (false, true));
    assert_eq!(flags(&app, calls.unnamed).await, (false, true));
    assert_eq!(flags(&app, calls.james).await, (true, false));

    // The CSV export, archived calls included.
    let exported = download_csv(&browser).await;
    assert_eq!(exported["name"], "calls.csv");
    let token = app.token(deskringer::auth::Role::Customer, business);
    let from_api = app.get("/api/portal/calls/export.csv?status=all", &token).await;
    assert_eq!(exported["text"].as_str().unwrap(), from_api.text, "the page saves what the API exports");
    let csv = from_api.text;
    assert!(
        csv.starts_with(r#""date","caller","duration_seconds","status","intent","summary","handled","archived""#),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 5, "{csv}");
    for caller in ["Maria Lopez", "Priya Shah", "James Ward"] {
        assert!(csv.contains(caller), "{caller} in {csv}");
    }
    assert_eq!(browser.notice_text().await, "Your export has been downloaded.");
    browser.close().await;
}

#[tokio::test]
async fn a_caller_name_with_markup_is_shown_as_text_on_the_list_and_the_calls_page() {
    // Arrange: a caller whose name (as the receptionist heard it, or caller ID gave it) is
    // markup that would run script if inserted as HTML.
    let app = TestApp::spawn().await;
    let business = create_owner(&app, "Bella Hair", OWNER_EMAIL, OWNER_PASSWORD).await;
    seed_call(&app, business, Some(MARKUP), "Asked whether you are open on Sunday.", 60).await;
    let Some(browser) = Browser::open(&app, PHONE).await else { return };
    browser.sign_in_as_owner(OWNER_EMAIL, OWNER_PASSWORD).await;

    // Act and assert: the list, then the call's page (heading and facts).
    browser.go("calls").await;
    wait_for_callers(&browser, &[MARKUP]).await;
    assert_no_markup_ran(&browser).await;
    browser.click_link(MARKUP).await;
    browser.wait_for_heading(&format!("Call from {MARKUP}")).await;
    assert_eq!(browser.text_of_css("#view dl.facts dd").await, MARKUP);
    assert_no_markup_ran(&browser).await;
    // Home's "calls needing attention" lists it too.
    browser.click_link("Home").await;
    browser.wait_for_heading("Home").await;
    browser.find(Target::Role("link", Some(MARKUP))).await;
    assert_no_markup_ran(&browser).await;
    browser.close().await;
}

/// No element was made from the markup caller name (had one been, its `onerror` would have
/// opened an alert, which fails every later WebDriver command), and its text is on the page.
async fn assert_no_markup_ran(browser: &Browser) {
    assert_eq!(browser.js("return document.querySelectorAll('#view img, img[src=x]').length", vec![]).await, 0);
    assert_eq!(browser.js("return document.body.innerText.includes(arguments[0])", vec![json!(MARKUP)]).await, true);
}

/// Clicks "Download CSV" and answers `{name, text}`: the file the page saved.
///
/// Why not the downloaded file itself: a headless Chromium saves downloads to a folder
/// WebDriver neither sets nor reports, and when it is done is not observable. The page makes
/// the file itself: it fetches the export with the owner's token and hands the browser a Blob
/// through a link with a `download` name. So the test records that hand-over (the Blob given
/// to `URL.createObjectURL`, and the link clicked with its `download` name) and reads the
/// Blob: exactly the bytes the page fetched, and the name the browser saves them under. Only
/// the last step, Chromium writing the Blob to disk, is not exercised.
async fn download_csv(browser: &Browser) -> Value {
    browser
        .js(
            "window.__downloads = [];
             const blobs = new Map();
             const create = URL.createObjectURL.bind(URL);
             URL.createObjectURL = (blob) => { const url = create(blob); blobs.set(url, blob); return url; };
             const click = HTMLAnchorElement.prototype.click;
             HTMLAnchorElement.prototype.click = function () {
               if (this.hasAttribute('download') && blobs.has(this.href)) {
                 window.__downloads.push({ name: this.download, blob: blobs.get(this.href) });
                 return;
               }
               return click.call(this);
             };",
            vec![],
        )
        .await;
    browser.click_button("Download CSV").await;
    browser
        .eventually(
            || "the page to save the export".to_owned(),
            || async { Ok((browser.js("return window.__downloads.length", vec![]).await == 1).then_some(())) },
        )
        .await;
    browser
        .js_async(
            "const done = arguments[arguments.length - 1];
             const { name, blob } = window.__downloads[0];
             blob.text().then((text) => done({ name, type: blob.type, text }));",
            vec![],
        )
        .await
}
