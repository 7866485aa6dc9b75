//! The appointments screen (`#/appointments`): an owner books, moves and cancels by hand (and
//! sees the API's fresh times when a time was taken meanwhile), plans time off, connects
//! Google Calendar through the stand-in and chooses its calendars, and replaces the feed URL.
//! The business books in New York while the browser runs in the machine's zone (UTC on CI), so
//! a time shown in the wrong zone is hours off.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::page::Target;
use super::{Browser, DESKTOP, PHONE};
use crate::calendars::{ACCESS_TOKEN, mock_calendar_list, mock_code_exchange, setup_with, takes_bookings};
use crate::helpers::TestApp;
use crate::texts::{BUSINESS_NUMBER, Salon, Sms, label, salon};

const ZONE: Tz = chrono_tz::America::New_York;
const OWNER_EMAIL: &str = "owner@bella.test";
const OWNER_PASSWORD: &str = "portal-pass-1";
const ANA: &str = "+14155550142";

/// Gives the business `id` the owner's portal password.
async fn give_password(app: &TestApp, id: i64) {
    let hash = deskringer::auth::password::hash_password(OWNER_PASSWORD.to_owned().into()).await.unwrap();
    sqlx::query("UPDATE customers SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .execute(&app.db)
        .await
        .unwrap();
}

/// The salon of the texts tests (open 08:00-20:00 every day in New York, a 45-minute
/// Haircut, Twilio and SendGrid stand-ins), with a portal password and no reminders.
async fn bella() -> Salon {
    let salon = salon(json!({"reminder_hours": 0})).await;
    give_password(&salon.app, salon.id).await;
    salon
}

/// Opens a browser at `size` on `app`, signed in as the owner, on the appointments screen
/// (`route` below it, such as `appointments?view=day&date=...`).
async fn open(app: &TestApp, size: super::page::Size, route: &str) -> Option<Browser> {
    let browser = Browser::open(app, size).await?;
    browser.sign_in_as_owner(OWNER_EMAIL, OWNER_PASSWORD).await;
    browser.go(route).await;
    browser.wait_for_heading("Appointments").await;
    Some(browser)
}

/// A local date `n` days from today in New York.
fn days_ahead(n: u64) -> NaiveDate {
    Utc::now().with_timezone(&ZONE).date_naive() + Days::new(n)
}

/// The instant of `hour:minute` on `date` in New York.
fn at(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    ZONE.from_local_datetime(&date.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap()))
        .unwrap()
        .with_timezone(&Utc)
}

/// Books a Haircut at `start` through the API, as a call or another owner's tab would.
async fn book(salon: &Salon, start: DateTime<Utc>, name: &str, phone: &str, notes: &str) -> i64 {
    let body = json!({"service": "Haircut", "starts_at": start.to_rfc3339(), "caller_name": name,
                      "caller_phone": phone, "notes": notes});
    let created = salon.app.post("/api/portal/appointments", &salon.token, body).await;
    created.assert_ok(axum::http::StatusCode::CREATED)["id"].as_i64().unwrap()
}

/// The appointment booked for `name`: its start and status.
async fn appointment_of(app: &TestApp, name: &str) -> (DateTime<Utc>, String) {
    sqlx::query_as("SELECT starts_at, status::text FROM appointments WHERE caller_name = $1")
        .bind(name)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// The texts of the `<option>`s of the select labelled `label`.
async fn options_of(browser: &Browser, label: &str) -> Vec<String> {
    let select = browser.field(label).await;
    let texts = browser.js("return Array.from(arguments[0].options, (o) => o.text)", vec![json!(select)]).await;
    serde_json::from_value(texts).unwrap()
}

/// The diary's days as shown (each day's block, whitespace collapsed).
async fn shown_days(browser: &Browser) -> Vec<String> {
    let days = browser
        .js(
            "return Array.from(document.querySelectorAll('.appt-days .appt-day'), \
             (day) => day.innerText.replace(/\\s+/g, ' ').trim())",
            vec![],
        )
        .await;
    serde_json::from_value(days).unwrap()
}

/// Waits until the diary shows `text`.
async fn wait_for_diary(browser: &Browser, text: &str) {
    let wanted = text.to_owned();
    browser
        .eventually(
            || format!("the diary to show {wanted:?}"),
            || async { Ok(browser.text_of_css(".appt-days").await.contains(&wanted).then_some(())) },
        )
        .await
}

/// Waits for a notice starting with `start` (an earlier one may still show) and answers it.
async fn wait_for_notice(browser: &Browser, start: &str) -> String {
    browser
        .eventually(
            || format!("a notice starting {start:?}"),
            || async {
                let notice = browser.text_of_css("#notice").await;
                Ok(notice.starts_with(start).then_some(notice))
            },
        )
        .await
}

/// Opens the day view of `date` with the diary's own controls.
async fn show_day(browser: &Browser, date: NaiveDate) {
    browser.click_button("Day").await;
    browser.fill("Go to date", &date.to_string()).await;
    browser.wait_for_route(&format!("appointments?view=day&date={date}")).await;
    // Loaded: one day's block, not the week's (whose load may have finished first).
    browser
        .eventually(
            || format!("the day view of {date}"),
            || async {
                let state = browser
                    .js(
                        "const days = document.querySelector('.appt-days'); \
                         return days && !days.hasAttribute('aria-busy') && !days.classList.contains('appt-week')",
                        vec![],
                    )
                    .await;
                Ok((state == true).then_some(()))
            },
        )
        .await;
}

#[tokio::test]
async fn an_owner_books_moves_and_cancels_an_appointment_by_hand() {
    // Arrange: a day two days ahead that already has two appointments.
    let salon = bella().await;
    let day = days_ahead(2);
    book(&salon, at(day, 9, 0), "Maria Garcia", "+14155550131", "").await;
    book(&salon, at(day, 15, 30), "Tom Baker", "", "Beard trim too").await;
    let Some(browser) = open(&salon.app, PHONE, "appointments").await else { return };

    // Act: book 10:00 New York time for Ana.
    browser.select("Service", "Haircut (45 min)").await;
    browser.fill("Date", &day.to_string()).await;
    browser.select("Free times", "10:00 AM – 10:45 AM").await;
    browser.fill("Caller name", "Ana Lima").await;
    browser.fill("Phone", ANA).await;
    browser.fill("Notes", "First visit").await;
    browser.click_button("Book appointment").await;

    // Assert: told, stored at the right instant (15:00 UTC in winter, 14:00 in summer), and
    // shown in the day view at 10:00 local time between the other two.
    let notice = browser.notice_text().await;
    assert!(notice.starts_with("Booked: Haircut for Ana Lima,"), "{notice}");
    assert!(notice.ends_with("10:00 AM."), "{notice}");
    assert_eq!(appointment_of(&salon.app, "Ana Lima").await, (at(day, 10, 0), "booked".to_owned()));
    show_day(&browser, day).await;
    wait_for_diary(&browser, "Ana Lima").await;
    assert_eq!(
        shown_days(&browser).await,
        [format!(
            "09:00 AM – 09:45 AM Haircut Maria Garcia · +14155550131 Added here \
             Move or change (Maria Garcia, 09:00 AM – 09:45 AM) Cancel (Maria Garcia, 09:00 AM – 09:45 AM) \
             10:00 AM – 10:45 AM Haircut Ana Lima · {ANA} First visit Added here \
             Move or change (Ana Lima, 10:00 AM – 10:45 AM) Cancel (Ana Lima, 10:00 AM – 10:45 AM) \
             03:30 PM – 04:15 PM Haircut Tom Baker Beard trim too Added here \
             Move or change (Tom Baker, 03:30 PM – 04:15 PM) Cancel (Tom Baker, 03:30 PM – 04:15 PM)"
        )]
    );
    browser.check_accessibility("appointments, day view").await;
    browser.screenshot("appointments-day-phone").await;

    // Act: move it to 13:00.
    browser.click_button("Move or change (Ana Lima, 10:00 AM – 10:45 AM)").await;
    browser.select("New time", "01:00 PM – 01:45 PM").await;
    browser.check_accessibility("appointments, moving one").await;
    browser.click_button("Save changes").await;

    // Assert
    let notice = wait_for_notice(&browser, "Saved:").await;
    assert!(notice.starts_with("Saved: Haircut for Ana Lima,") && notice.ends_with("01:00 PM."), "{notice}");
    assert_eq!(appointment_of(&salon.app, "Ana Lima").await, (at(day, 13, 0), "booked".to_owned()));
    wait_for_diary(&browser, "01:00 PM – 01:45 PM Haircut Ana Lima").await;
    assert!(!browser.text_of_css(".appt-days").await.contains("10:00 AM"));

    // Act: cancel it, texting Ana.
    salon.app.run_jobs().await;
    let texts_before = salon.texts().await.len();
    browser.click_button("Cancel (Ana Lima, 01:00 PM – 01:45 PM)").await;
    browser.set_checked(&format!("Text {ANA} that it is cancelled"), true).await;
    browser.check_accessibility("appointments, cancelling one").await;
    browser.click_button("Cancel appointment").await;

    // Assert: gone from the diary, cancelled in the database, and Ana got the text.
    let notice = wait_for_notice(&browser, "Cancelled:").await;
    assert!(notice.starts_with("Cancelled: Haircut for Ana Lima,"), "{notice}");
    browser
        .eventually(
            || "the diary without Ana".to_owned(),
            || async { Ok((!browser.text_of_css(".appt-days").await.contains("Ana Lima")).then_some(())) },
        )
        .await;
    assert_eq!(appointment_of(&salon.app, "Ana Lima").await, (at(day, 13, 0), "cancelled".to_owned()));
    salon.app.run_jobs().await;
    assert_eq!(
        salon.texts().await[texts_before..],
        [Sms {
            from: BUSINESS_NUMBER.into(),
            to: ANA.into(),
            body: format!("Bella Hair: your Haircut on {} is cancelled.", label(at(day, 13, 0))),
        }]
    );
    // "Show cancelled" brings it back, marked.
    browser.set_checked("Show cancelled", true).await;
    wait_for_diary(&browser, "01:00 PM – 01:45 PM Haircut Cancelled Ana Lima").await;
    browser.close().await;
}

#[tokio::test]
async fn a_time_taken_meanwhile_is_refused_and_the_apis_fresh_times_are_offered() {
    // Arrange: the owner has chosen 11:00 ...
    let salon = bella().await;
    let day = days_ahead(3);
    let Some(browser) = open(&salon.app, DESKTOP, "appointments").await else { return };
    browser.fill("Date", &day.to_string()).await;
    browser.select("Free times", "11:00 AM – 11:45 AM").await;
    browser.fill("Caller name", "Ana Lima").await;
    // ... when a caller books it on the phone.
    book(&salon, at(day, 11, 0), "Maria Garcia", "+14155550131", "").await;
    let body = json!({"service": "Haircut", "starts_at": at(day, 11, 0).to_rfc3339(), "caller_name": "Ana Lima"});
    let refused = salon.app.post("/api/portal/appointments", &salon.token, body).await;
    let message = refused.assert_error(axum::http::StatusCode::CONFLICT).to_owned();
    let fresh: Vec<String> = refused.body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| slot["label"].as_str().unwrap().to_owned())
        .collect();
    assert!(!fresh.is_empty());

    // Act
    browser.click_button("Book appointment").await;

    // Assert: the API's words, and its fresh times in place of the day's.
    assert_eq!(browser.alert_text().await, message);
    browser.wait_for_text("These times near the one you chose are free.").await;
    assert_eq!(options_of(&browser, "Free times").await, fresh);
    let names: Vec<String> =
        sqlx::query_scalar("SELECT caller_name FROM appointments").fetch_all(&salon.app.db).await.unwrap();
    assert_eq!(names, ["Maria Garcia"]);
    // One of them books.
    browser.select("Free times", &fresh[0]).await;
    browser.click_button("Book appointment").await;
    let notice = wait_for_notice(&browser, "Booked:").await;
    assert!(notice.starts_with("Booked: Haircut for Ana Lima,"), "{notice}");
    let start = refused.body["slots"][0]["start"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    assert_eq!(appointment_of(&salon.app, "Ana Lima").await, (start, "booked".to_owned()));
    browser.close().await;
}

#[tokio::test]
async fn the_week_view_shows_the_weeks_appointments_in_the_business_time_zone() {
    // Arrange: next week's diary, and a closed Friday afternoon.
    let salon = bella().await;
    let later = days_ahead(7);
    let monday = later - Days::new(u64::from(later.weekday().num_days_from_monday()));
    let day = |n: u64| monday + Days::new(n);
    book(&salon, at(day(0), 9, 0), "Maria Garcia", "+14155550131", "").await;
    book(&salon, at(day(0), 14, 30), "Tom Baker", "+14155550132", "Beard trim too").await;
    book(&salon, at(day(1), 10, 0), "Priya Patel", "+14155550133", "").await;
    book(&salon, at(day(3), 16, 0), "Sam Lee", "", "Colour consultation").await;
    book(&salon, at(day(5), 11, 15), "Ana Lima", ANA, "").await;
    let off = json!({"starts_at": at(day(4), 13, 0).to_rfc3339(), "ends_at": at(day(5), 0, 0).to_rfc3339(),
                     "note": "Staff training"});
    salon.app.post("/api/portal/time-off", &salon.token, off).await.assert_ok(axum::http::StatusCode::CREATED);

    // Act
    let route = format!("appointments?view=week&date={}", day(2));
    let Some(browser) = open(&salon.app, DESKTOP, &route).await else { return };
    wait_for_diary(&browser, "Ana Lima").await;

    // Assert: every appointment on its local day, at its local time.
    let days = shown_days(&browser).await;
    assert_eq!(days.len(), 7, "{days:?}");
    let short = |date: NaiveDate| date.format("%a, %b %-d").to_string();
    assert!(days[0].starts_with(&short(day(0))), "{days:?}");
    assert!(days[0].contains("09:00 AM – 09:45 AM Haircut Maria Garcia"), "{}", days[0]);
    assert!(days[0].contains("02:30 PM – 03:15 PM Haircut Tom Baker · +14155550132 Beard trim too"), "{}", days[0]);
    assert!(days[1].contains("10:00 AM – 10:45 AM Haircut Priya Patel"), "{}", days[1]);
    assert!(days[2].ends_with("Nothing booked."), "{}", days[2]);
    assert!(days[3].contains("04:00 PM – 04:45 PM Haircut Sam Lee Colour consultation"), "{}", days[3]);
    assert!(days[4].contains("Closed 01:00 PM – end of day: Staff training Nothing booked."), "{}", days[4]);
    assert!(days[5].contains("11:15 AM – 12:00 PM Haircut Ana Lima"), "{}", days[5]);
    assert_eq!(browser.text_of_css(".appt-range").await, format!("Week of {}", day(0).format("%A, %B %-d, %Y")));
    browser.check_accessibility("appointments, week view").await;
    browser.screenshot("appointments-week-desktop").await;

    // The next week is empty; the previous one comes back.
    browser.click_button("Next week").await;
    browser.wait_for_route(&format!("appointments?view=week&date={}", day(9))).await;
    browser
        .eventually(
            || "an empty week".to_owned(),
            || async { Ok(shown_days(&browser).await.iter().all(|d| d.ends_with("Nothing booked.")).then_some(())) },
        )
        .await;
    browser.click_button("Previous week").await;
    wait_for_diary(&browser, "Maria Garcia").await;
    browser.close().await;
}

#[tokio::test]
async fn an_owner_adds_time_off_sees_it_and_removes_it() {
    let salon = bella().await;
    let day = days_ahead(4);
    let Some(browser) = open(&salon.app, PHONE, "appointments").await else { return };
    browser.wait_for_text("No time off planned.").await;

    // Act: closed 12:00 to 17:00 New York time.
    browser.fill("Closed from", &format!("{day}T12:00")).await;
    browser.fill("Until", &format!("{day}T17:00")).await;
    browser.fill("Note", "Staff training").await;
    browser.click_button("Add time off").await;

    // Assert: listed, stored as the right instants, shown on the day and its times not offered.
    let notice = browser.notice_text().await;
    assert!(notice.starts_with("Time off added:"), "{notice}");
    let stored: Vec<(DateTime<Utc>, DateTime<Utc>, Option<String>)> =
        sqlx::query_as("SELECT starts_at, ends_at, note FROM time_off").fetch_all(&salon.app.db).await.unwrap();
    assert_eq!(stored, [(at(day, 12, 0), at(day, 17, 0), Some("Staff training".to_owned()))]);
    let listed = browser.text_of_css(".appt-timeoff").await;
    assert!(listed.contains("12:00 PM to") && listed.contains("05:00 PM Staff training"), "{listed}");
    show_day(&browser, day).await;
    wait_for_diary(&browser, "Closed 12:00 PM – 05:00 PM: Staff training").await;
    browser.fill("Date", &day.to_string()).await;
    browser.select("Free times", "08:00 AM – 08:45 AM").await;
    let offered = options_of(&browser, "Free times").await;
    assert!(offered.contains(&"05:00 PM – 05:45 PM".to_owned()), "{offered:?}");
    // Nothing starting 12:00 PM to 04:59 PM.
    let closed = ["12:", "01:", "02:", "03:", "04:"];
    let in_closure = |time: &String| closed.iter().any(|hour| time.starts_with(hour)) && time.get(6..8) == Some("PM");
    assert!(!offered.iter().any(in_closure), "{offered:?}");
    browser.check_accessibility("appointments with time off").await;

    // Act: remove it.
    let name = format!("Remove (time off {})", listed.split(" Staff training").next().unwrap());
    browser.click(Target::Role("button", Some(&name))).await;

    // Assert
    browser.wait_for_text("No time off planned.").await;
    // The diary redraws after the list: wait for the closure to leave the day.
    browser
        .eventually(
            || "the day without its closure".to_owned(),
            || async {
                let days = browser.text_of_css(".appt-days").await;
                Ok((days.contains("Nothing booked.") && !days.contains("Closed")).then_some(()))
            },
        )
        .await;
    assert_eq!(salon.app.count("time_off").await, 0);
    browser.close().await;
}

#[tokio::test]
async fn the_feed_url_is_shown_and_replacing_it_changes_the_token() {
    let salon = bella().await;
    let Some(browser) = open(&salon.app, PHONE, "appointments").await else { return };
    let feed = browser.field("Calendar feed URL").await;
    let url = browser
        .eventually(
            || "the feed URL".to_owned(),
            || async {
                let value = feed.prop("value").await.map_err(|e| e.to_string())?.unwrap_or_default();
                Ok((!value.is_empty()).then_some(value))
            },
        )
        .await;
    let token = || async {
        sqlx::query_scalar::<_, String>("SELECT calendar_feed_token FROM customers WHERE id = $1")
            .bind(salon.id)
            .fetch_one(&salon.app.db)
            .await
            .unwrap()
    };
    let old = token().await;
    assert_eq!(url, format!("https://deskringer.test/api/calendar/{old}.ics"));

    // Act
    browser.click_button("Replace the URL…").await;
    browser.click_button("Replace the URL").await;

    // Assert: a new token, shown; the old one is gone.
    assert_eq!(browser.notice_text().await, "The calendar feed has a new URL. The old one no longer works.");
    let new = token().await;
    assert_ne!(new, old);
    let shown = browser.field("Calendar feed URL").await.prop("value").await.unwrap().unwrap();
    assert_eq!(shown, format!("https://deskringer.test/api/calendar/{new}.ics"));
    browser.close().await;
}

#[tokio::test]
async fn an_owner_connects_google_calendar_and_chooses_its_calendars() {
    // Arrange: the server listens where its API_BASE_URL says, so Google's redirect (to the
    // redirect_uri) and the callback's return (to /app/) reach it; Google is the stand-in of
    // the calendars tests.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let base = format!("http://{address}");
    let s = setup_with(&[("API_BASE_URL", base.as_str())]).await;
    takes_bookings(&s).await;
    give_password(&s.app, s.business).await;
    mock_code_exchange(&s.google).await;
    mock_calendar_list(&s.google).await;
    // The diary's free times read the connected calendar's busy times: none.
    let none = json!({"busy": []});
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .and(wiremock::matchers::header("authorization", format!("Bearer {ACCESS_TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"kind": "calendar#freeBusy", "calendars": {
            "primary": none, "owner@bella.test": none, "staff@group.calendar.google.com": none,
            "holidays@group.v.calendar.google.com": none}})))
        .mount(&s.google)
        .await;
    let limits = deskringer::http::ServerLimits::from_config(&s.app.state.config, u64::MAX);
    tokio::spawn(deskringer::http::serve(
        listener,
        s.app.app.clone(),
        limits,
        std::sync::Arc::default(),
        std::future::pending(),
    ));
    let Some(browser) = Browser::open_at(address, DESKTOP).await else { return };
    browser.sign_in_as_owner(OWNER_EMAIL, OWNER_PASSWORD).await;
    browser.go("appointments").await;
    browser.wait_for_text("Not connected").await;

    // Act: Connect goes to Google's consent page (the stand-in: no page there) ...
    browser.click_button("Connect Google Calendar").await;
    let google = s.google.uri();
    let authorize = browser
        .eventually(
            || format!("the browser to go to {google}"),
            || async {
                let url = browser.client().current_url().await.map_err(|e| e.to_string())?;
                Ok(url.as_str().starts_with(&google).then_some(url))
            },
        )
        .await;
    assert_eq!(authorize.path(), "/o/oauth2/v2/auth");
    let param = |name: &str| authorize.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap();
    let redirect = param("redirect_uri");
    assert_eq!(redirect, format!("{base}/api/calendar/google/callback"));
    // ... and Google, once the owner allows it, sends the browser back with a code.
    let state: String = form_urlencoded::byte_serialize(param("state").as_bytes()).collect();
    browser.client().goto(&format!("{redirect}?code=the-code&state={state}")).await.unwrap();

    // Assert: back on the screen, which says so; the connection is stored.
    browser.wait_for_heading("Appointments").await;
    browser.wait_for_text("Google Calendar is connected.").await;
    let landed = browser.js("return performance.getEntriesByType('navigation')[0].name", vec![]).await;
    assert_eq!(landed, format!("{base}/app/?calendar=connected#/appointments"));
    // The outcome is read once: the address is clean again.
    assert_eq!(browser.js("return location.href", vec![]).await, format!("{base}/app/#/appointments"));
    browser.wait_for_text("Google Calendar: Connected").await;
    let stored: (String, String, Option<String>, Value) = sqlx::query_as(
        "SELECT provider, status, write_calendar_id, busy_calendar_ids FROM calendar_connections \
         WHERE customer_id = $1",
    )
    .bind(s.business)
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert_eq!(stored, ("google".into(), "connected".into(), Some("primary".into()), json!(["primary"])));

    // Act: write bookings to the staff rota, and count the holidays as busy too.
    browser.select("Write bookings to", "Staff rota").await;
    assert_eq!(options_of(&browser, "Write bookings to").await, ["Bella (main)", "Staff rota", "Holidays"]);
    browser.set_checked("Holidays", true).await;
    browser.check_accessibility("appointments, Google Calendar connected").await;
    browser.screenshot("appointments-calendar-desktop").await;
    browser.click_button("Save calendars").await;

    // Assert
    assert_eq!(browser.notice_text().await, "Calendars saved.");
    let chosen: (Option<String>, Value) =
        sqlx::query_as("SELECT write_calendar_id, busy_calendar_ids FROM calendar_connections WHERE customer_id = $1")
            .bind(s.business)
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!(
        chosen,
        (
            Some("staff@group.calendar.google.com".into()),
            json!(["owner@bella.test", "holidays@group.v.calendar.google.com"])
        )
    );
    browser.close().await;
}
