//! The diary: the portal's routes under the booking rules, double booking refused by the
//! database under concurrency, and the receptionist's tools in both voice modes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use chrono::{Days, NaiveDate, TimeZone, Utc};
use deskringer::auth::Role;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, ResponseTemplate};

use deskringer::receptionist::tools::CallDesk;

use crate::helpers::{Mocks, TestApp};

const NY: chrono_tz::Tz = chrono_tz::America::New_York;
const NUMBER: &str = "+14155550111";
const CALLER: &str = "+14155550199";

/// A business that books: open 09:00-17:00 every day in New York, one 60-minute service.
async fn booking_business(app: &TestApp, capacity: u16) -> i64 {
    let every_day: serde_json::Map<String, Value> =
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
            .iter()
            .map(|day| (day.to_string(), json!({"open": "09:00", "close": "17:00"})))
            .collect();
    let booking = json!({"services": [{"name": "Haircut", "minutes": 60, "price": 25}], "capacity": capacity,
                         "min_notice_minutes": 60});
    sqlx::query_scalar(
        "INSERT INTO customers (business_name, email, deskringer_number, subscription_status, timezone, \
         appointment_handling, business_hours, booking, ai_instructions) \
         VALUES ('Bella Hair', 'owner@bella.test', $1, 'active', 'America/New_York', 'book', $2::json, $3::json, \
                 'You are the receptionist for Bella Hair.') RETURNING id",
    )
    .bind(NUMBER)
    .bind(Value::Object(every_day).to_string())
    .bind(booking.to_string())
    .fetch_one(&app.db)
    .await
    .unwrap()
}

/// A call from `from` to the booking business, answered by `voice`, and the desk its tools
/// run at (as the webhooks build it).
async fn call_desk(app: &TestApp, customer_id: i64, sid: &str, from: &str) -> CallDesk {
    app.twilio("/api/webhooks/twilio/voice", &[("CallSid", sid), ("From", from), ("To", NUMBER)]).await;
    let call_id: i64 = sqlx::query_scalar("SELECT id FROM calls WHERE twilio_call_sid = $1")
        .bind(sid)
        .fetch_one(&app.db)
        .await
        .unwrap();
    CallDesk {
        db: app.db.clone(),
        customer: deskringer::db::customers::find(&app.db, customer_id).await.unwrap().unwrap(),
        call_id,
        caller: deskringer::receptionist::tools::caller_number(Some(from)),
        notify: deskringer::http::webhooks::twilio::call_notices(),
        outside: None,
        channel: deskringer::db::calls::Channel::Voice,
        texter: deskringer::http::webhooks::twilio::texter(&app.state),
    }
}

/// Runs tool `name` at `desk` and reads its output.
async fn run_tool(desk: &CallDesk, name: &str, arguments: Value) -> Value {
    let call = deskringer::clients::ToolCall { id: "c".into(), name: name.into(), arguments: arguments.to_string() };
    serde_json::from_str(&desk.run(&call, Utc::now()).await.output).unwrap()
}

/// A local date some days ahead in New York.
fn days_ahead(n: u64) -> NaiveDate {
    Utc::now().with_timezone(&NY).date_naive() + Days::new(n)
}

fn local(date: NaiveDate, hour: u32) -> String {
    format!("{date}T{hour:02}:00")
}

async fn booked_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM appointments WHERE status = 'booked'").fetch_one(&app.db).await.unwrap()
}

#[tokio::test]
async fn twenty_requests_for_the_last_two_places_book_exactly_two() {
    // Arrange: capacity 2, one slot wanted by 20 clients at once.
    let app = TestApp::spawn().await;
    let id = booking_business(&app, 2).await;
    let token = app.token(Role::Customer, id);
    let start = local(days_ahead(3), 10);

    // Act
    let requests = (0..20).map(|n| {
        let body = json!({"service": "Haircut", "starts_at": start, "caller_name": format!("Caller {n}")});
        app.post("/api/portal/appointments", &token, body)
    });
    let responses = futures_util::future::join_all(requests).await;

    // Assert: two booked, the rest refused with alternatives, nothing else.
    let created = responses.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let refused: Vec<_> = responses.iter().filter(|r| r.status == StatusCode::CONFLICT).collect();
    assert_eq!(created, 2, "{:?}", responses.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_eq!(refused.len(), 18);
    for response in refused {
        let slots = response.body["slots"].as_array().expect("alternatives");
        assert!(!slots.is_empty(), "{}", response.body);
        assert!(slots.iter().all(|slot| slot["label"].as_str().is_some_and(|l| l.contains(" at "))));
    }
    assert_eq!(booked_count(&app).await, 2);
    let places: Vec<i16> =
        sqlx::query_scalar("SELECT place FROM appointments ORDER BY place").fetch_all(&app.db).await.unwrap();
    assert_eq!(places, [1, 2]);
}

#[tokio::test]
async fn the_portal_books_moves_and_cancels_under_the_rules() {
    let app = TestApp::spawn().await;
    let id = booking_business(&app, 1).await;
    let token = app.token(Role::Customer, id);
    let day = days_ahead(2);

    // Availability of a day: 09:00 to 16:00 on the half hour (a 60-minute service ends by 17:00).
    let response = app.get(&format!("/api/portal/availability?service=haircut&date={day}"), &token).await;
    let body = response.assert_ok(StatusCode::OK);
    assert_eq!(body["service"], "Haircut");
    assert_eq!(body["timezone"], "America/New_York");
    let slots = body["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 15, "{body}");
    let first = NY.from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap()).unwrap().with_timezone(&Utc);
    assert_eq!(slots[0]["start"].as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap(), first);
    assert!(slots[0]["label"].as_str().unwrap().ends_with("at 9:00 am"), "{}", slots[0]);

    // Book 10:00 (local time, as a browser's field sends it).
    let body = json!({"service": "Haircut", "starts_at": local(day, 10), "caller_name": "Ana", "caller_phone": "",
                      "notes": ""});
    let response = app.post("/api/portal/appointments", &token, body).await;
    let booked = response.assert_ok(StatusCode::CREATED).clone();
    assert_eq!(booked["source"], "portal");
    assert_eq!(booked["status"], "booked");
    assert_eq!(booked["caller_phone"], Value::Null);
    let ten = NY.from_local_datetime(&day.and_hms_opt(10, 0, 0).unwrap()).unwrap().with_timezone(&Utc);
    assert_eq!(booked["starts_at"].as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap(), ten);

    // 10:30 overlaps it: refused with alternatives, nothing stored.
    let body = json!({"service": "Haircut", "starts_at": local(day, 10).replace(":00", ":30"), "caller_name": "Ben"});
    let response = app.post("/api/portal/appointments", &token, body).await;
    assert_eq!(response.status, StatusCode::CONFLICT, "{}", response.text);
    assert!(!response.body["slots"].as_array().unwrap().is_empty());
    assert_eq!(booked_count(&app).await, 1);

    // A second booking at 14:00, then moving the first onto it is refused and it stands.
    let body = json!({"service": "Haircut", "starts_at": local(day, 14), "caller_name": "Cleo"});
    app.post("/api/portal/appointments", &token, body).await.assert_ok(StatusCode::CREATED);
    let uri = format!("/api/portal/appointments/{}", booked["id"]);
    let response =
        app.call(axum::http::Method::PATCH, &uri, Some(&token), Some(json!({"starts_at": local(day, 14)}))).await;
    assert_eq!(response.status, StatusCode::CONFLICT, "{}", response.text);
    let stands: chrono::DateTime<Utc> = sqlx::query_scalar("SELECT starts_at FROM appointments WHERE id = $1")
        .bind(booked["id"].as_i64())
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stands, ten, "a refused move leaves the appointment where it was");

    // A move to a free time works, with a new sequence, and the notes change.
    let response = app
        .call(
            axum::http::Method::PATCH,
            &uri,
            Some(&token),
            Some(json!({"starts_at": local(day, 11), "notes": "Fringe"})),
        )
        .await;
    let moved = response.assert_ok(StatusCode::OK).clone();
    assert_eq!(moved["notes"], "Fringe");
    let (sequence, starts): (i32, chrono::DateTime<Utc>) =
        sqlx::query_as("SELECT sequence, starts_at FROM appointments WHERE id = $1")
            .bind(booked["id"].as_i64())
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(starts, ten + chrono::Duration::hours(1));
    assert!(sequence >= 1);

    // Cancel; a second cancel is a conflict.
    let cancel = format!("{uri}/cancel");
    let response = app.post(&cancel, &token, json!({"notify_caller": false})).await;
    assert_eq!(response.assert_ok(StatusCode::OK)["status"], "cancelled");
    assert_eq!(app.post(&cancel, &token, json!({})).await.status, StatusCode::CONFLICT);

    // The list: booked by default, all on request.
    let list = app.get(&format!("/api/portal/appointments?from={day}&to={}", day + Days::new(1)), &token).await;
    assert_eq!(list.assert_ok(StatusCode::OK)["total"], 1);
    let list = app.get(&format!("/api/portal/appointments?from={day}&status=all"), &token).await;
    assert_eq!(list.assert_ok(StatusCode::OK)["total"], 2);
}

#[tokio::test]
async fn every_rule_is_a_422_naming_the_field_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let id = booking_business(&app, 1).await;
    let token = app.token(Role::Customer, id);
    let day = days_ahead(2);
    let yesterday = days_ahead(0) - Days::new(1);
    let far = days_ahead(40);
    for (body, field, words) in [
        (json!({"service": "Massage", "starts_at": local(day, 10), "caller_name": "A"}), "service", "no service"),
        (json!({"service": "Haircut", "starts_at": local(day, 7), "caller_name": "A"}), "starts_at", "not open"),
        (
            json!({"service": "Haircut", "starts_at": local(day, 16).replace(":00", ":30"), "caller_name": "A"}),
            "starts_at",
            "not open",
        ),
        (json!({"service": "Haircut", "starts_at": local(yesterday, 10), "caller_name": "A"}), "starts_at", "passed"),
        (json!({"service": "Haircut", "starts_at": local(far, 10), "caller_name": "A"}), "starts_at", "up to"),
        (json!({"service": "Haircut", "starts_at": "next tuesday", "caller_name": "A"}), "starts_at", "date and time"),
        (json!({"service": "Haircut", "starts_at": local(day, 10), "caller_name": " "}), "caller_name", ""),
        (
            json!({"service": "Haircut", "starts_at": local(day, 10), "caller_name": "A", "caller_phone": "12"}),
            "caller_phone",
            "E.164",
        ),
    ] {
        let response = app.post("/api/portal/appointments", &token, body.clone()).await;
        let message = response.assert_error(StatusCode::UNPROCESSABLE_ENTITY).to_owned();
        assert!(response.body["details"][field].is_string(), "{body}: {}", response.body);
        assert!(message.contains(words), "{body}: {message}");
    }
    // Time off closes the day: nothing is offered and nothing can be booked.
    let response = app
        .post(
            "/api/portal/time-off",
            &token,
            json!({"starts_at": day.to_string(), "ends_at": day.to_string(), "note": "Holiday"}),
        )
        .await;
    let time_off = response.assert_ok(StatusCode::CREATED).clone();
    let slots = app.get(&format!("/api/portal/availability?service=Haircut&date={day}"), &token).await;
    assert_eq!(slots.assert_ok(StatusCode::OK)["slots"], json!([]));
    let body = json!({"service": "Haircut", "starts_at": local(day, 10), "caller_name": "A"});
    let response = app.post("/api/portal/appointments", &token, body).await;
    assert!(response.assert_error(StatusCode::UNPROCESSABLE_ENTITY).contains("closed"));
    assert_eq!(app.count("appointments").await, 0);
    // Removing the time off opens it again.
    app.delete(&format!("/api/portal/time-off/{}", time_off["id"]), &token).await.assert_ok(StatusCode::OK);
    let slots = app.get(&format!("/api/portal/availability?service=Haircut&date={day}"), &token).await;
    assert_eq!(slots.assert_ok(StatusCode::OK)["slots"].as_array().unwrap().len(), 15);
}

#[tokio::test]
async fn another_business_appointment_is_not_found_and_the_roles_hold() {
    let app = TestApp::spawn().await;
    let id = booking_business(&app, 1).await;
    let token = app.token(Role::Customer, id);
    let other = app.insert_customer("Other", "other@example.test", "active").await;
    let other_token = app.token(Role::Customer, other);
    let body = json!({"service": "Haircut", "starts_at": local(days_ahead(2), 10), "caller_name": "Ana"});
    let booked = app.post("/api/portal/appointments", &token, body).await.assert_ok(StatusCode::CREATED).clone();
    let uri = format!("/api/portal/appointments/{}", booked["id"]);

    // Another business: 404, never a peek, and nothing changes.
    let response = app.post(&format!("{uri}/cancel"), &other_token, json!({})).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    let response = app.call(axum::http::Method::PATCH, &uri, Some(&other_token), Some(json!({"notes": "x"}))).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    let list = app.get("/api/portal/appointments", &other_token).await;
    assert_eq!(list.assert_ok(StatusCode::OK)["total"], 0);
    // A business without services: booking is not set up.
    let response =
        app.get(&format!("/api/portal/availability?service=Haircut&date={}", days_ahead(2)), &other_token).await;
    assert_eq!(response.status, StatusCode::CONFLICT);
    assert_eq!(response.body["slots"], json!([]), "every 409 of the diary has one shape");
    // No token, an admin token.
    assert_eq!(
        app.call(axum::http::Method::GET, "/api/portal/appointments", None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let admin = app.admin_token().await;
    assert_eq!(app.get("/api/portal/appointments", &admin).await.status, StatusCode::FORBIDDEN);
    assert_eq!(booked_count(&app).await, 1);
    // Staff read a business's diary; a business cannot read it through the admin route.
    let list = app.get(&format!("/api/customers/{id}/appointments"), &admin).await;
    assert_eq!(list.assert_ok(StatusCode::OK)["appointments"][0]["caller_name"], "Ana");
    assert_eq!(app.get(&format!("/api/customers/{id}/appointments"), &token).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/customers/999999/appointments", &admin).await.status, StatusCode::NOT_FOUND);
    // The portal's figures count the diary.
    let stats = app.get("/api/portal/stats", &token).await;
    assert_eq!(stats.assert_ok(StatusCode::OK)["appointments_upcoming"], 1);
    assert_eq!(stats.body["appointments_booked_by_phone"], 0);
    // A business that books needs services on its checklist.
    let steps = app.get("/api/portal/onboarding", &token).await;
    let booking_step = steps.body["steps"].as_array().unwrap().iter().find(|s| s["key"] == "booking").cloned();
    assert_eq!(booking_step.unwrap()["done"], true);
    let steps = app.get("/api/portal/onboarding", &other_token).await;
    assert!(steps.body["steps"].as_array().unwrap().iter().all(|s| s["key"] != "booking"));
}

#[tokio::test]
async fn booking_settings_are_saved_from_the_portal_and_bad_values_named() {
    let app = TestApp::spawn().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let token = app.token(Role::Customer, id);
    let body = json!({"appointment_handling": "book", "booking": {"services": [{"name": "Cut", "minutes": "45", "price": ""}],
                      "slot_step_minutes": "15", "capacity": "2"}});
    let response = app.put("/api/portal/settings", &token, body).await;
    let customer = &response.assert_ok(StatusCode::OK)["customer"];
    assert_eq!(customer["appointment_handling"], "book");
    assert_eq!(customer["booking"]["services"], json!([{"name": "Cut", "minutes": 45, "price": null}]));
    assert_eq!(customer["booking"]["slot_step_minutes"], 15);
    assert_eq!(customer["booking"]["reminder_hours"], 24);
    // A client that sends no booking leaves it as it is.
    let response = app.put("/api/portal/settings", &token, json!({"pricing_info": "Cuts $45"})).await;
    assert_eq!(response.assert_ok(StatusCode::OK)["customer"]["booking"]["capacity"], 2);
    // A bad value names its field; nothing changes.
    let body = json!({"booking": {"services": [{"name": "Cut", "minutes": 500}]}});
    let response = app.put("/api/portal/settings", &token, body).await;
    response.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response.body["details"].as_object().unwrap().keys().any(|k| k.contains("booking.services[0].minutes")),
        "{}",
        response.body
    );
    let stored: Value = sqlx::query_scalar("SELECT booking::jsonb FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored["services"][0]["minutes"], 45);
}

/// A chat-completions stand-in that books: it asks for availability, books the first slot
/// it was offered (twice, as a model that repeats itself would), then says it is done.
struct BookingModel {
    rounds: Arc<AtomicUsize>,
}

fn tool_call(id: &str, name: &str, arguments: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
            {"id": id, "type": "function", "function": {"name": name, "arguments": arguments.to_string()}}
        ]}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10}
    }))
}

fn says(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10}
    }))
}

impl wiremock::Respond for BookingModel {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.rounds.fetch_add(1, Ordering::SeqCst);
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let messages = body["messages"].as_array().unwrap();
        let last = messages.last().unwrap();
        match last["role"].as_str() {
            Some("user") => tool_call("c1", "check_availability", json!({"service": "Haircut"})),
            Some("tool") => {
                let output: Value = serde_json::from_str(last["content"].as_str().unwrap()).unwrap();
                if let Some(slots) = output["slots"].as_array().filter(|_| output.get("booked").is_none()) {
                    let slot = slots[0]["slot_id"].as_str().unwrap();
                    tool_call("c2", "book_appointment", json!({"slot_id": slot, "caller_name": "Ana Lima"}))
                } else if output["booked"] == true && !messages.iter().any(|m| m["tool_call_id"] == "c3") {
                    let slot = "S1";
                    tool_call("c3", "book_appointment", json!({"slot_id": slot, "caller_name": "Ana Lima"}))
                } else {
                    says(&format!("You're booked for {}.", output["label"].as_str().unwrap_or("then")))
                }
            }
            _ => says("Sorry?"),
        }
    }
}

#[tokio::test]
async fn a_caller_books_by_phone_in_the_standard_mode_once_even_when_the_model_repeats_itself() {
    let mocks = Mocks::start().await;
    let rounds = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(BookingModel { rounds: rounds.clone() })
        .mount(&mocks.openai)
        .await;
    Mock::given(method("POST"))
        .and(path("/audio/speech"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&mocks.openai)
        .await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    booking_business(&app, 1).await;
    app.twilio("/api/webhooks/twilio/voice", &[("CallSid", "CA_book"), ("From", CALLER), ("To", NUMBER)]).await;

    // Act: the caller asks to book.
    let response = app
        .twilio(
            "/api/webhooks/twilio/gather",
            &[("CallSid", "CA_book"), ("From", CALLER), ("To", NUMBER), ("SpeechResult", "Can I book a haircut?")],
        )
        .await;

    // Assert: one booking, for the number calling, linked to the call; the caller hears it.
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert!(response.text.contains("booked for"), "{}", response.text);
    assert_eq!(rounds.load(Ordering::SeqCst), 4, "check, book, book again, then speak");
    let rows: Vec<(String, String, Option<String>, bool)> = sqlx::query_as(
        "SELECT a.source, a.caller_name, a.caller_phone, a.call_id = c.id FROM appointments a \
         JOIN calls c ON c.twilio_call_sid = 'CA_book'",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(rows, [("call".into(), "Ana Lima".into(), Some(CALLER.into()), true)]);
    // The transcript and the call's record say what it booked.
    let lines: Vec<String> =
        sqlx::query_scalar("SELECT message FROM call_logs ORDER BY id").fetch_all(&app.db).await.unwrap();
    assert!(lines.iter().any(|line| line.starts_with("[Booked: Haircut on ")), "{lines:?}");
    let actions: i64 = sqlx::query_scalar("SELECT count(*) FROM call_appointments WHERE action = 'booked'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(actions, 1);
    // Whatever day the test runs, the model was told the local dates.
    let requests = mocks.openai.received_requests().await.unwrap();
    let chat = requests.iter().find(|r| r.url.path() == "/chat/completions").unwrap();
    let prompt: Value = serde_json::from_slice(&chat.body).unwrap();
    let system = prompt["messages"][0]["content"].as_str().unwrap();
    let today = Utc::now().with_timezone(&NY).date_naive();
    assert!(system.contains(&format!("{} {today} (today)", today.format("%A"))), "{system}");
}

#[tokio::test]
async fn a_withheld_number_must_give_a_callback_number_and_cannot_find_appointments() {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    let id = booking_business(&app, 1).await;
    let desk = call_desk(&app, id, "CA_anon", "anonymous").await;
    let run = |name: &'static str, arguments: Value| {
        let desk = desk.clone();
        async move { run_tool(&desk, name, arguments).await }
    };
    let offered = run(
        "check_availability",
        json!({"service": "Haircut", "date": days_ahead(2).to_string(), "earliest": "10:00"}),
    )
    .await;
    let slots = offered["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 3, "{offered}");
    assert!(slots[0]["label"].as_str().unwrap().ends_with("at 10:00 am"), "{offered}");
    let slot = slots[0]["slot_id"].as_str().unwrap();

    let refused = run("book_appointment", json!({"slot_id": slot, "caller_name": "Ana"})).await;
    assert_eq!(refused["booked"], false);
    assert!(refused["reason"].as_str().unwrap().contains("callback_phone"), "{refused}");
    let found = run("find_appointments", json!({})).await;
    assert!(found["error"].as_str().unwrap().contains("withheld"), "{found}");
    // A slot never offered cannot be booked; a bad date is a sentence, not a crash.
    let unknown =
        run("book_appointment", json!({"slot_id": "S99", "caller_name": "Ana", "callback_phone": "+14155550177"}))
            .await;
    assert_eq!(unknown["booked"], false);
    let bad = run("check_availability", json!({"service": "Haircut", "date": "Tuesday"})).await;
    assert!(bad["error"].as_str().unwrap().contains("YYYY-MM-DD"), "{bad}");

    let booked =
        run("book_appointment", json!({"slot_id": slot, "caller_name": "Ana", "callback_phone": "+1 415 555 0177"}))
            .await;
    assert_eq!(booked["booked"], true, "{booked}");
    let phone: Option<String> =
        sqlx::query_scalar("SELECT caller_phone FROM appointments").fetch_one(&app.db).await.unwrap();
    assert_eq!(phone.as_deref(), Some("+14155550177"));
}

#[tokio::test]
async fn a_caller_moves_and_cancels_only_their_own_appointments() {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    let id = booking_business(&app, 1).await;
    let token = app.token(Role::Customer, id);
    // The caller's appointment, and someone else's.
    let mine = json!({"service": "Haircut", "starts_at": local(days_ahead(2), 10), "caller_name": "Ana", "caller_phone": CALLER});
    let mine =
        app.post("/api/portal/appointments", &token, mine).await.assert_ok(StatusCode::CREATED)["id"].as_i64().unwrap();
    let theirs = json!({"service": "Haircut", "starts_at": local(days_ahead(2), 12), "caller_name": "Bo", "caller_phone": "+14155550100"});
    let theirs = app.post("/api/portal/appointments", &token, theirs).await.assert_ok(StatusCode::CREATED)["id"]
        .as_i64()
        .unwrap();
    let desk = call_desk(&app, id, "CA_move", CALLER).await;
    let run = |name: &'static str, arguments: Value| {
        let desk = desk.clone();
        async move { run_tool(&desk, name, arguments).await }
    };

    let found = run("find_appointments", json!({})).await;
    assert_eq!(found["appointments"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["appointments"][0]["appointment_id"], mine);
    // Someone else's appointment is out of reach.
    let other = run("cancel_appointment", json!({"appointment_id": theirs})).await;
    assert!(other["error"].is_string(), "{other}");
    // Moving onto a taken time fails and the old time stands; a free one works (and again).
    let offered = run(
        "check_availability",
        json!({"service": "Haircut", "date": days_ahead(3).to_string(), "earliest": "15:00"}),
    )
    .await;
    let slot = offered["slots"][0]["slot_id"].as_str().unwrap().to_owned();
    let moved = run("reschedule_appointment", json!({"appointment_id": mine, "slot_id": slot})).await;
    assert_eq!(moved["booked"], true, "{moved}");
    let again = run("reschedule_appointment", json!({"appointment_id": mine.to_string(), "slot_id": slot})).await;
    assert_eq!(again["appointment_id"], mine);
    let starts: chrono::DateTime<Utc> = sqlx::query_scalar("SELECT starts_at FROM appointments WHERE id = $1")
        .bind(mine)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(starts.with_timezone(&NY).date_naive(), days_ahead(3));
    let cancelled = run("cancel_appointment", json!({"appointment_id": mine})).await;
    assert_eq!(cancelled["cancelled"], true);
    assert_eq!(run("cancel_appointment", json!({"appointment_id": mine})).await["cancelled"], true, "cancelling twice");
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM call_appointments ORDER BY id").fetch_all(&app.db).await.unwrap();
    assert_eq!(actions, ["moved", "cancelled"]);
    let status: String = sqlx::query_scalar("SELECT status FROM appointments WHERE id = $1")
        .bind(theirs)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "booked");
}

#[tokio::test]
async fn the_nearest_free_times_are_found_past_a_long_closure() {
    let app = TestApp::spawn().await;
    let id = booking_business(&app, 1).await;
    let token = app.token(Role::Customer, id);
    let day = days_ahead(2);
    // Closed for ten days from `day`: the search reads the diary a week at a time.
    let closure = json!({"starts_at": day.to_string(), "ends_at": (day + Days::new(9)).to_string()});
    app.post("/api/portal/time-off", &token, closure).await.assert_ok(StatusCode::CREATED);
    let desk = call_desk(&app, id, "CA_far", CALLER).await;
    let wanted = json!({"service": "Haircut", "date": day.to_string(), "earliest": "10:00"});
    let answer = run_tool(&desk, "check_availability", wanted).await;
    assert_eq!(answer["note"], "Nothing is free on the day asked for; these are the nearest free times.", "{answer}");
    let labels: Vec<&str> = answer["slots"].as_array().unwrap().iter().map(|s| s["label"].as_str().unwrap()).collect();
    let first_open = day + Days::new(10);
    let expected_day = first_open.format("%A %-d %B").to_string();
    assert_eq!(
        labels,
        [
            format!("{expected_day} at 9:00 am"),
            format!("{expected_day} at 9:30 am"),
            format!("{expected_day} at 10:00 am")
        ]
    );
}

#[tokio::test]
async fn a_model_failure_after_the_diary_was_used_gets_an_apology_and_takes_details() {
    let mocks = Mocks::start().await;
    // The model checks the diary, then fails on its next round.
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(|request: &Request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            match body["messages"].as_array().unwrap().last().unwrap()["role"].as_str() {
                Some("user") => tool_call("c1", "check_availability", json!({"service": "Haircut"})),
                _ => ResponseTemplate::new(500),
            }
        })
        .mount(&mocks.openai)
        .await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    booking_business(&app, 1).await;
    app.twilio("/api/webhooks/twilio/voice", &[("CallSid", "CA_fail"), ("From", CALLER), ("To", NUMBER)]).await;
    let response = app
        .twilio(
            "/api/webhooks/twilio/gather",
            &[("CallSid", "CA_fail"), ("From", CALLER), ("To", NUMBER), ("SpeechResult", "Book me in please")],
        )
        .await;
    assert!(
        response.text.contains("can&apos;t reach the diary") || response.text.contains("can't reach the diary"),
        "{}",
        response.text
    );
    assert!(response.text.contains("your name, your phone number"), "{}", response.text);
    assert_eq!(app.count("appointments").await, 0);
}

#[tokio::test]
async fn a_calls_page_lists_only_the_appointments_that_call_booked() {
    // Arrange: two calls of one business; the first booked two appointments (one since
    // cancelled), the second one, and the owner added one by hand.
    let app = TestApp::spawn().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let token = app.token(Role::Customer, id);
    let first = app.insert_call(crate::helpers::NewCall::completed(id)).await;
    let second = app.insert_call(crate::helpers::NewCall::completed(id)).await;
    let start = Utc::now() + chrono::Duration::days(2);
    let mut ids = Vec::new();
    for (hour, call_id, status) in
        [(0, Some(first), "booked"), (2, Some(first), "cancelled"), (4, Some(second), "booked"), (6, None, "booked")]
    {
        let starts_at = start + chrono::Duration::hours(hour);
        let ends_at = starts_at + chrono::Duration::minutes(30);
        let appointment: i64 = sqlx::query_scalar(
            "INSERT INTO appointments (customer_id, call_id, service, minutes, starts_at, ends_at, blocks_until, place, \
                                       caller_name, status, source, cancelled_at) \
             VALUES ($1, $2, 'Haircut', 30, $3, $4, $4, 1, 'Ann Lee', $5, CASE WHEN $2 IS NULL THEN 'portal' ELSE 'call' END, \
                     CASE WHEN $5 = 'cancelled' THEN now() END) RETURNING id",
        )
        .bind(id)
        .bind(call_id)
        .bind(starts_at)
        .bind(ends_at)
        .bind(status)
        .fetch_one(&app.db)
        .await
        .unwrap();
        ids.push(appointment);
    }
    let list = |query: String| {
        let app = &app;
        let token = &token;
        async move {
            let body =
                app.get(&format!("/api/portal/appointments?{query}"), token).await.assert_ok(StatusCode::OK).clone();
            body["appointments"].as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect::<Vec<_>>()
        }
    };

    // Act
    let of_first = list(format!("status=all&call_id={first}")).await;
    let of_first_booked = list(format!("call_id={first}")).await;
    let of_second = list(format!("status=all&call_id={second}")).await;
    let everything = list("status=all".into()).await;

    // Assert
    assert_eq!(of_first, [ids[0], ids[1]]);
    assert_eq!(of_first_booked, [ids[0]]);
    assert_eq!(of_second, [ids[2]]);
    assert_eq!(everything, ids);
}
