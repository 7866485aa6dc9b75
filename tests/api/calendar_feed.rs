//! The private calendar feed: its URL in the portal, rotation, and the iCalendar it serves,
//! parsed back with the same iCalendar crate a calendar app would be modelled on.

use axum::http::{Method, StatusCode, header};
use chrono::{DateTime, Duration, DurationRound, Utc};
use deskringer::auth::Role;
use icalendar::{Calendar, CalendarDateTime, Component, DatePerhapsTime, Event, EventStatus};
use serde_json::Value;

use crate::helpers::{TestApp, TestResponse, keys};

/// An appointment to put straight into the diary.
struct Booking<'a> {
    customer_id: i64,
    service: &'a str,
    starts_at: DateTime<Utc>,
    minutes: i64,
    caller_name: &'a str,
    caller_phone: Option<&'a str>,
    notes: Option<&'a str>,
    cancelled: bool,
    sequence: i32,
}

impl Booking<'_> {
    fn at(customer_id: i64, starts_at: DateTime<Utc>) -> Self {
        Booking {
            customer_id,
            service: "Haircut",
            starts_at,
            minutes: 30,
            caller_name: "Ann Lee",
            caller_phone: Some("+14155550100"),
            notes: None,
            cancelled: false,
            sequence: 0,
        }
    }
}

async fn insert(app: &TestApp, booking: Booking<'_>) -> i64 {
    let ends_at = booking.starts_at + Duration::minutes(booking.minutes);
    sqlx::query_scalar(
        "INSERT INTO appointments (customer_id, service, minutes, starts_at, ends_at, blocks_until, place, caller_name, \
                                   caller_phone, notes, status, source, sequence, cancelled_at) \
         VALUES ($1, $2, $3, $4, $5, $5, 1, $6, $7, $8, $9, 'call', $10, CASE WHEN $9 = 'cancelled' THEN now() END) \
         RETURNING id",
    )
    .bind(booking.customer_id)
    .bind(booking.service)
    .bind(booking.minutes as i32)
    .bind(booking.starts_at)
    .bind(ends_at)
    .bind(booking.caller_name)
    .bind(booking.caller_phone)
    .bind(booking.notes)
    .bind(if booking.cancelled { "cancelled" } else { "booked" })
    .bind(booking.sequence)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

/// Whole hours, as the feed writes times to the second.
fn hours_from_now(hours: i64) -> DateTime<Utc> {
    (Utc::now() + Duration::hours(hours)).duration_trunc(Duration::hours(1)).unwrap()
}

/// The feed URL the portal gives `token`, checked for shape.
async fn feed_url(app: &TestApp, token: &str) -> String {
    let body = app.get("/api/portal/calendar-feed", token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(keys(&body), ["url"]);
    let url = body["url"].as_str().unwrap().to_owned();
    let token = url
        .strip_prefix("https://deskringer.test/api/calendar/")
        .and_then(|rest| rest.strip_suffix(".ics"))
        .unwrap_or_else(|| panic!("not a feed URL: {url}"));
    assert!(token.len() >= 43 && token.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)), "{url}");
    url
}

/// Fetches a feed URL with no credentials, as a calendar app does.
async fn fetch(app: &TestApp, url: &str) -> TestResponse {
    let path = url.strip_prefix(app.state.config.api_base_url.as_str()).unwrap();
    app.call(Method::GET, path, None, None).await
}

/// A served feed, checked for its headers and parsed.
async fn fetch_calendar(app: &TestApp, url: &str) -> (Calendar, String) {
    let response = fetch(app, url).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let header = |name| response.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert_eq!(header(header::CONTENT_TYPE), "text/calendar; charset=utf-8");
    assert!(header(header::CACHE_CONTROL).contains("no-store"), "{:?}", response.headers);
    let calendar: Calendar = response.text.parse().unwrap_or_else(|e| panic!("{e}\n{}", response.text));
    (calendar, response.text)
}

fn utc(time: Option<DatePerhapsTime>) -> DateTime<Utc> {
    match time {
        Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(at))) => at,
        other => panic!("not a UTC time: {other:?}"),
    }
}

fn event(calendar: &Calendar, appointment_id: i64) -> &Event {
    let uid = format!("appointment-{appointment_id}@deskringer.test");
    calendar.events().find(|e| e.get_uid() == Some(uid.as_str())).unwrap_or_else(|| panic!("no event {uid}"))
}

fn uids(calendar: &Calendar) -> Vec<String> {
    let mut uids: Vec<String> = calendar.events().map(|e| e.get_uid().unwrap().to_owned()).collect();
    uids.sort();
    uids
}

#[tokio::test]
async fn the_feed_shows_each_appointment_with_its_uid_utc_times_status_and_sequence() {
    // Arrange: a booked, a cancelled and a moved appointment in the window; one too old and
    // one too far ahead outside it.
    let app = TestApp::spawn().await;
    let business = app.insert_customer("Bella's Hair; Nails, & Spa", "owner@bella.test", "active").await;
    let token = app.token(Role::Customer, business);
    let booked_at = hours_from_now(48);
    let booked = insert(
        &app,
        Booking { notes: Some("Fringe only, please; no wash\nPrefers Sam"), ..Booking::at(business, booked_at) },
    )
    .await;
    let cancelled = insert(
        &app,
        Booking { caller_name: "Bo Chen", cancelled: true, sequence: 1, ..Booking::at(business, hours_from_now(50)) },
    )
    .await;
    let moved_at = hours_from_now(-72);
    let moved = insert(
        &app,
        Booking {
            service: "Colour",
            minutes: 90,
            caller_name: "Cy Diaz",
            caller_phone: None,
            sequence: 2,
            ..Booking::at(business, moved_at)
        },
    )
    .await;
    insert(&app, Booking::at(business, hours_from_now(-24 * 40))).await;
    insert(&app, Booking::at(business, hours_from_now(24 * 400))).await;

    // Act
    let url = feed_url(&app, &token).await;
    let (calendar, text) = fetch_calendar(&app, &url).await;

    // Assert: the calendar's own properties.
    assert_eq!(calendar.property_value("VERSION"), Some("2.0"));
    assert_eq!(calendar.property_value("PRODID"), Some("-//DeskRinger//Appointments//EN"));
    assert_eq!(calendar.property_value("CALSCALE"), Some("GREGORIAN"));
    assert_eq!(calendar.property_value("METHOD"), Some("PUBLISH"));
    assert_eq!(calendar.get_name(), Some("Bella's Hair; Nails, & Spa"));
    assert!(text.contains("X-WR-CALNAME:Bella's Hair\\; Nails\\, & Spa\r\n"), "{text}");
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "a line over 75 octets: {line}");
    }
    // Exactly the three in the window.
    let mut expected: Vec<String> =
        [booked, cancelled, moved].iter().map(|id| format!("appointment-{id}@deskringer.test")).collect();
    expected.sort();
    assert_eq!(uids(&calendar), expected);

    let booked_event = event(&calendar, booked);
    assert_eq!(utc(booked_event.get_start()), booked_at);
    assert_eq!(utc(booked_event.get_end()), booked_at + Duration::minutes(30));
    assert_eq!(booked_event.get_status(), Some(EventStatus::Confirmed));
    assert_eq!(booked_event.get_sequence(), Some(0));
    assert_eq!(booked_event.get_summary(), Some("Haircut - Ann Lee"));
    let description = booked_event.get_description().unwrap();
    assert!(description.contains("Phone: +14155550100"), "{description}");
    assert!(description.contains("Notes: Fringe only, please; no wash\nPrefers Sam"), "{description}");
    assert!(booked_event.get_timestamp().is_some());
    let updated_at: DateTime<Utc> = sqlx::query_scalar("SELECT updated_at FROM appointments WHERE id = $1")
        .bind(booked)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(booked_event.get_last_modified(), Some(updated_at.duration_trunc(Duration::seconds(1)).unwrap()));

    let cancelled_event = event(&calendar, cancelled);
    assert_eq!(cancelled_event.get_status(), Some(EventStatus::Cancelled));
    assert_eq!(cancelled_event.get_sequence(), Some(1));
    assert_eq!(cancelled_event.get_summary(), Some("Cancelled: Haircut - Bo Chen"));

    let moved_event = event(&calendar, moved);
    assert_eq!(utc(moved_event.get_start()), moved_at);
    assert_eq!(utc(moved_event.get_end()), moved_at + Duration::minutes(90));
    assert_eq!(moved_event.get_sequence(), Some(2));
    assert_eq!(moved_event.get_summary(), Some("Colour - Cy Diaz"));
    assert!(!moved_event.get_description().unwrap().contains("Phone"));
    // Times are written in UTC.
    assert!(text.contains(&format!("DTSTART:{}\r\n", moved_at.format("%Y%m%dT%H%M%SZ"))), "{text}");
}

#[tokio::test]
async fn moving_an_appointment_keeps_its_uid_and_raises_its_sequence() {
    let app = TestApp::spawn().await;
    let business = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let token = app.token(Role::Customer, business);
    let id = insert(&app, Booking::at(business, hours_from_now(24))).await;
    let url = feed_url(&app, &token).await;
    let (before, _) = fetch_calendar(&app, &url).await;
    assert_eq!(event(&before, id).get_sequence(), Some(0));

    // Moved through the diary's own query, as the portal and the receptionist move one.
    let new_start = hours_from_now(30);
    let new_end = new_start + Duration::minutes(30);
    deskringer::db::appointments::reschedule(&app.db, id, new_start, new_end, new_end, 1).await.unwrap().unwrap();

    let (after, _) = fetch_calendar(&app, &url).await;
    assert_eq!(uids(&after), uids(&before));
    let moved = event(&after, id);
    assert_eq!(utc(moved.get_start()), new_start);
    assert_eq!(moved.get_sequence(), Some(1));

    deskringer::db::appointments::cancel(&app.db, id).await.unwrap().unwrap();
    let (cancelled, _) = fetch_calendar(&app, &url).await;
    assert_eq!(event(&cancelled, id).get_status(), Some(EventStatus::Cancelled));
    assert_eq!(event(&cancelled, id).get_sequence(), Some(2));
}

#[tokio::test]
async fn the_url_is_made_once_and_rotating_it_retires_the_old_one() {
    let app = TestApp::spawn().await;
    let business = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let token = app.token(Role::Customer, business);
    let id = insert(&app, Booking::at(business, hours_from_now(24))).await;

    let first = feed_url(&app, &token).await;
    assert_eq!(feed_url(&app, &token).await, first, "the URL changes only when rotated");
    fetch_calendar(&app, &first).await;

    let rotated = app.call(Method::POST, "/api/portal/calendar-feed/rotate", Some(&token), None).await;
    let rotated = rotated.assert_ok(StatusCode::OK)["url"].as_str().unwrap().to_owned();
    assert_ne!(rotated, first);
    assert!(rotated.starts_with("https://deskringer.test/api/calendar/") && rotated.ends_with(".ics"));

    assert_eq!(fetch(&app, &first).await.assert_error(StatusCode::NOT_FOUND), "no such calendar feed");
    let (calendar, _) = fetch_calendar(&app, &rotated).await;
    assert_eq!(uids(&calendar), [format!("appointment-{id}@deskringer.test")]);
    assert_eq!(feed_url(&app, &token).await, rotated);
}

#[tokio::test]
async fn a_feed_never_shows_another_business_diary() {
    let app = TestApp::spawn().await;
    let mine = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let theirs = app.insert_customer("Joe's Diner", "joe@diner.test", "active").await;
    let empty = app.insert_customer("Quiet Dentist", "dr@quiet.test", "active").await;
    let at = hours_from_now(24);
    let my_id = insert(&app, Booking { caller_name: "Mine Person", ..Booking::at(mine, at) }).await;
    let their_id = insert(&app, Booking { caller_name: "Their Person", ..Booking::at(theirs, at) }).await;

    let my_url = feed_url(&app, &app.token(Role::Customer, mine)).await;
    let their_url = feed_url(&app, &app.token(Role::Customer, theirs)).await;
    let empty_url = feed_url(&app, &app.token(Role::Customer, empty)).await;
    assert_ne!(my_url, their_url);

    let (my_calendar, my_text) = fetch_calendar(&app, &my_url).await;
    assert_eq!(uids(&my_calendar), [format!("appointment-{my_id}@deskringer.test")]);
    assert!(!my_text.contains("Their Person") && !my_text.contains("Joe's Diner"));
    let (their_calendar, their_text) = fetch_calendar(&app, &their_url).await;
    assert_eq!(uids(&their_calendar), [format!("appointment-{their_id}@deskringer.test")]);
    assert!(!their_text.contains("Mine Person") && !their_text.contains("Bella Hair"));
    // A business with no appointments still publishes a valid, empty calendar.
    let (empty_calendar, _) = fetch_calendar(&app, &empty_url).await;
    assert_eq!(empty_calendar.events().count(), 0);
    assert_eq!(empty_calendar.get_name(), Some("Quiet Dentist"));

    // Rotating one business's feed leaves the other's alone.
    app.call(Method::POST, "/api/portal/calendar-feed/rotate", Some(&app.token(Role::Customer, mine)), None)
        .await
        .assert_ok(StatusCode::OK);
    fetch_calendar(&app, &their_url).await;
}

#[tokio::test]
async fn unknown_malformed_and_closed_feeds_are_404_in_the_error_shape() {
    let app = TestApp::spawn().await;
    let business = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    insert(&app, Booking::at(business, hours_from_now(24))).await;
    let url = feed_url(&app, &app.token(Role::Customer, business)).await;
    let path = url.strip_prefix("https://deskringer.test").unwrap().to_owned();
    let bare = path.strip_suffix(".ics").unwrap().to_owned();

    for uri in [
        "/api/calendar/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ics".to_owned(),
        "/api/calendar/garbage.ics".to_owned(),
        "/api/calendar/.ics".to_owned(),
        format!("/api/calendar/{}.ics", "x".repeat(200)),
        bare.clone(),
        format!("{bare}.ICS"),
        format!("{path}.ics"),
        format!("{bare}x.ics"),
    ] {
        let response = app.call(Method::GET, &uri, None, None).await;
        assert_eq!(response.assert_error(StatusCode::NOT_FOUND), "no such calendar feed", "{uri}");
    }
    app.call(Method::GET, "/api/calendar", None, None).await.assert_error(StatusCode::NOT_FOUND);
    app.call(Method::GET, "/api/calendar/", None, None).await.assert_error(StatusCode::NOT_FOUND);
    // The feed is read-only.
    app.call(Method::POST, &path, None, None).await.assert_error(StatusCode::METHOD_NOT_ALLOWED);

    // A business that has left DeskRinger no longer publishes its diary.
    sqlx::query("UPDATE customers SET subscription_status = 'cancelled' WHERE id = $1")
        .bind(business)
        .execute(&app.db)
        .await
        .unwrap();
    fetch(&app, &url).await.assert_error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_portal_feed_routes_need_a_customer_token() {
    let app = TestApp::spawn().await;
    let business = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let admin = app.admin_token().await;
    let expired = app
        .state
        .jwt
        .issue_with_expiry(
            deskringer::auth::Principal { role: Role::Customer, id: business, generation: 0 },
            Utc::now() - Duration::hours(1),
        )
        .unwrap();
    for (method, uri) in
        [(Method::GET, "/api/portal/calendar-feed"), (Method::POST, "/api/portal/calendar-feed/rotate")]
    {
        app.call(method.clone(), uri, None, None).await.assert_error(StatusCode::UNAUTHORIZED);
        app.call(method.clone(), uri, Some(&expired), None).await.assert_error(StatusCode::UNAUTHORIZED);
        app.call(method.clone(), uri, Some("not-a-token"), None).await.assert_error(StatusCode::UNAUTHORIZED);
        app.call(method, uri, Some(&admin), None).await.assert_error(StatusCode::FORBIDDEN);
    }
    // None of them made or changed a token.
    let token: Option<String> = sqlx::query_scalar("SELECT calendar_feed_token FROM customers WHERE id = $1")
        .bind(business)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(token, None);
    // The token never shows on the business itself.
    let me: Value = app.get("/api/portal/me", &app.token(Role::Customer, business)).await.body;
    assert!(me.get("calendar_feed_token").is_none(), "{me}");
}
