//! Texting (issue 21) against PostgreSQL and wiremock stand-ins for OpenAI, Twilio and
//! SendGrid: text conversations answered by the model (a booking made by text, redeliveries,
//! the hourly limit, senders never answered, threads and the owner's notices), the call
//! lists' `channel` filter, the `send_text` tool, and the missed-call text-back.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::http::StatusCode;
use chrono::{Days, Utc};
use deskringer::auth::Role;
use deskringer::receptionist::tools::CallDesk;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request as MockRequest, Respond, ResponseTemplate};

use crate::helpers::{Mocks, NewCall, TestApp, Twiml};
use crate::numbers::{ACCOUNT, form, received};

const SMS_PATH: &str = "/api/webhooks/twilio/sms";
const BUSINESS_NUMBER: &str = "+14155550100";
const CALLER: &str = "+14155550199";
const OTHER_CALLER: &str = "+14155550188";
const COST_PER_SMS: f64 = 0.0083;
const LIMIT_LINE: &str = "Thanks for your messages. Someone from the team will reply to you soon.";

/// Answers each request with the next response of a list, then with `then`.
struct InTurn(Mutex<VecDeque<ResponseTemplate>>, ResponseTemplate);

impl Respond for InTurn {
    fn respond(&self, _: &MockRequest) -> ResponseTemplate {
        self.0.lock().unwrap().pop_front().unwrap_or_else(|| self.1.clone())
    }
}

fn chat_reply(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100}
    }))
}

fn tool_call(name: &str, arguments: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": format!("call_{name}"), "type": "function",
                "function": {"name": name, "arguments": arguments.to_string()}}]}}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 20}
    }))
}

/// A salon open every day 08:00-20:00 in New York that books a 45-minute Haircut, answering
/// texts with OpenAI (the model's answers are `replies`, then "Sure."); Twilio and SendGrid
/// accept everything.
struct Salon {
    app: TestApp,
    mocks: Mocks,
    id: i64,
    token: String,
}

async fn salon(replies: Vec<ResponseTemplate>) -> Salon {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(true, true, &[])).await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let day = json!({"open": "08:00", "close": "20:00"});
    let hours = json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day,
                       "saturday": day, "sunday": day});
    sqlx::query(
        "UPDATE customers SET booking = $2::json, business_hours = $3::json, timezone = 'America/New_York', \
         deskringer_number = $4, appointment_handling = 'book', ai_instructions = 'You are the receptionist for Bella Hair.' \
         WHERE id = $1",
    )
    .bind(id)
    .bind(json!({"services": [{"name": "Haircut", "minutes": 45}]}))
    .bind(hours)
    .bind(BUSINESS_NUMBER)
    .execute(&app.db)
    .await
    .unwrap();
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(InTurn(Mutex::new(replies.into()), chat_reply("Sure.")))
        .mount(&mocks.openai)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/Messages.json")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM0001"})))
        .mount(&mocks.twilio)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&mocks.sendgrid)
        .await;
    let token = app.token(Role::Customer, id);
    Salon { app, mocks, id, token }
}

impl Salon {
    /// A text from `from` to the business's number, signed as Twilio signs it.
    async fn text_in(&self, sid: &str, from: &str, body: &str) -> Twiml {
        let params = [("MessageSid", sid), ("From", from), ("To", BUSINESS_NUMBER), ("Body", body)];
        Twiml::from(&self.app.twilio(SMS_PATH, &params).await)
    }

    /// Requests the model received, as their JSON bodies.
    async fn model_requests(&self) -> Vec<Value> {
        received(&self.mocks.openai, "POST", "/chat/completions")
            .await
            .iter()
            .map(|request| serde_json::from_slice(&request.body).unwrap())
            .collect()
    }

    /// Texts Twilio was asked to send, as (from, to, body).
    async fn texts_out(&self) -> Vec<(String, String, String)> {
        received(&self.mocks.twilio, "POST", &format!("{ACCOUNT}/Messages.json"))
            .await
            .iter()
            .map(|request| {
                let fields = form(request);
                let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
                (field("From"), field("To"), field("Body"))
            })
            .collect()
    }

    /// Subjects of the emails SendGrid was asked to send.
    async fn email_subjects(&self) -> Vec<String> {
        received(&self.mocks.sendgrid, "POST", "/v3/mail/send")
            .await
            .iter()
            .map(|request| {
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                body["subject"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    /// The text threads of the business, oldest first, as (id, caller_phone, status).
    async fn threads(&self) -> Vec<(i64, String, String)> {
        sqlx::query_as(
            "SELECT id, caller_phone, status FROM calls WHERE channel = 'sms' AND customer_id = $1 ORDER BY id",
        )
        .bind(self.id)
        .fetch_all(&self.app.db)
        .await
        .unwrap()
    }

    /// A thread's lines in order, as (speaker, message).
    async fn lines(&self, call_id: i64) -> Vec<(String, String)> {
        sqlx::query_as("SELECT speaker, message FROM call_logs WHERE call_id = $1 ORDER BY timestamp, id")
            .bind(call_id)
            .fetch_all(&self.app.db)
            .await
            .unwrap()
    }

    async fn queued(&self, identifier: &str) -> usize {
        self.app.queued_jobs().await.iter().filter(|job| *job == identifier).count()
    }
}

/// The `<Message>` texts of an answer.
fn messages(twiml: &Twiml) -> Vec<String> {
    twiml.all("Message").into_iter().map(|(_, text)| text).collect()
}

fn owned(lines: &[(&str, &str)]) -> Vec<(String, String)> {
    lines.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[tokio::test]
async fn a_text_thread_books_by_text_keeps_its_messages_in_order_and_costs_like_a_call() {
    // Arrange: the model checks tomorrow at 15:00 for the first text and books it for the second.
    let zone = chrono_tz::America::New_York;
    let tomorrow = Utc::now().with_timezone(&zone).date_naive() + Days::new(1);
    let salon = salon(vec![
        tool_call(
            "check_availability",
            json!({"service": "Haircut", "date": tomorrow.to_string(), "earliest": "15:00"}),
        ),
        chat_reply("I have 3pm tomorrow. What name shall I book it under?"),
        tool_call("book_appointment", json!({"slot_id": "S1", "caller_name": "Jo Smith"})),
        chat_reply("You're booked for a haircut tomorrow at 3pm, Jo!"),
    ])
    .await;

    // Act
    let first = salon.text_in("SM1", CALLER, "Can I get a haircut tomorrow afternoon?").await;
    let second = salon.text_in("SM2", CALLER, "Yes please, I'm Jo Smith").await;

    // Assert: each text is answered in TwiML with the model's words.
    assert_eq!(messages(&first), ["I have 3pm tomorrow. What name shall I book it under?"]);
    assert_eq!(messages(&second), ["You're booked for a haircut tomorrow at 3pm, Jo!"]);
    // One open thread, for the sender, its messages in order.
    let threads = salon.threads().await;
    assert_eq!(threads.len(), 1);
    let (thread, sender, status) = threads[0].clone();
    assert_eq!((sender.as_str(), status.as_str()), (CALLER, "in_progress"));
    let lines = salon.lines(thread).await;
    assert_eq!(
        lines[..3],
        owned(&[
            ("caller", "Can I get a haircut tomorrow afternoon?"),
            ("ai", "I have 3pm tomorrow. What name shall I book it under?"),
            ("caller", "Yes please, I'm Jo Smith"),
        ])[..]
    );
    assert!(lines[3].1.starts_with("[Booked: Haircut on "), "{lines:?}");
    assert_eq!(lines[4], ("ai".to_owned(), "You're booked for a haircut tomorrow at 3pm, Jo!".to_owned()));
    assert_eq!(lines.len(), 5);
    // The booking is the sender's, made by text, linked to the thread.
    let (phone, source, call_id, starts_at): (String, String, i64, chrono::DateTime<Utc>) = sqlx::query_as(
        "SELECT caller_phone, source, call_id, starts_at FROM appointments WHERE customer_id = $1 AND status = 'booked'",
    )
    .bind(salon.id)
    .fetch_one(&salon.app.db)
    .await
    .unwrap();
    assert_eq!((phone.as_str(), source.as_str(), call_id), (CALLER, "sms", thread));
    assert_eq!(starts_at.with_timezone(&zone).date_naive(), tomorrow);
    // Costs: four texts (two in, two out) and four model requests.
    let (twilio_cost, openai_cost): (f64, f64) =
        sqlx::query_as("SELECT twilio_cost, openai_cost FROM calls WHERE id = $1")
            .bind(thread)
            .fetch_one(&salon.app.db)
            .await
            .unwrap();
    assert!((twilio_cost - 4.0 * COST_PER_SMS).abs() < 1e-9, "{twilio_cost}");
    assert!(openai_cost > 0.0);
    // The model had the business's instructions, the texting rules and only the booking tools.
    let requests = salon.model_requests().await;
    assert_eq!(requests.len(), 4);
    let system = requests[0]["messages"][0]["content"].as_str().unwrap();
    assert!(system.starts_with("You are the receptionist for Bella Hair."), "{system}");
    assert!(system.contains("by text message") && system.contains("if it is one of en-US"), "{system}");
    let tools: Vec<&str> =
        requests[0]["tools"].as_array().unwrap().iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
    assert_eq!(
        tools,
        ["check_availability", "book_appointment", "find_appointments", "reschedule_appointment", "cancel_appointment"]
    );
    let last = requests[2]["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["content"], "Yes please, I'm Jo Smith");
    // The portal shows the thread with its channel and lines; the owner heard of it once.
    let detail = salon.app.get(&format!("/api/portal/calls/{thread}"), &salon.token).await;
    let detail = detail.assert_ok(StatusCode::OK);
    assert_eq!(detail["channel"], "sms");
    assert_eq!(detail["transcript"].as_array().unwrap().len(), 5);
    assert_eq!(salon.queued("email_owner_of_thread").await, 1);
    assert_eq!(salon.queued("text_owner_of_thread").await, 1);
    salon.app.run_jobs().await;
    let subjects = salon.email_subjects().await;
    let thread_emails: Vec<&String> = subjects.iter().filter(|s| s.starts_with("New text conversation")).collect();
    assert_eq!(thread_emails, [&format!("New text conversation from {CALLER} - Bella Hair")]);
}

#[tokio::test]
async fn a_redelivered_message_sid_changes_nothing_and_asks_nothing() {
    // Arrange
    let salon = salon(vec![chat_reply("We're open until 8pm today.")]).await;
    let first = salon.text_in("SM1", CALLER, "How late are you open?").await;
    let jobs = salon.app.queued_jobs().await;

    // Act: Twilio delivers the same message again.
    let again = salon.text_in("SM1", CALLER, "How late are you open?").await;

    // Assert: the same answer, and no second model call, line, thread or notice.
    assert_eq!(messages(&first), ["We're open until 8pm today."]);
    assert_eq!(messages(&again), messages(&first));
    assert_eq!(salon.model_requests().await.len(), 1);
    let threads = salon.threads().await;
    assert_eq!(threads.len(), 1);
    assert_eq!(salon.lines(threads[0].0).await.len(), 2);
    assert_eq!(salon.app.queued_jobs().await, jobs);
    assert!(salon.texts_out().await.is_empty(), "answers go in the TwiML, nothing through the REST API");
}

#[tokio::test]
async fn a_sender_gets_ten_answers_an_hour_then_one_line_then_silence() {
    // Arrange: the model answers "Sure." to everything.
    let salon = salon(vec![]).await;

    // Act + Assert: ten answers.
    for n in 1..=10 {
        let answer = salon.text_in(&format!("SM{n}"), CALLER, &format!("Question {n}?")).await;
        assert_eq!(messages(&answer), ["Sure."], "text {n}");
    }
    // The eleventh gets the one line, the twelfth nothing, and the model is not asked.
    assert_eq!(messages(&salon.text_in("SM11", CALLER, "Hello?").await), [LIMIT_LINE]);
    assert_eq!(messages(&salon.text_in("SM12", CALLER, "Anyone?").await), Vec::<String>::new());
    assert_eq!(salon.model_requests().await.len(), 10);
    // Another sender is not limited by this one.
    assert_eq!(messages(&salon.text_in("SM13", OTHER_CALLER, "Hi").await), ["Sure."]);
    // Every message is kept in the thread, the limit line too.
    let thread = salon.threads().await[0].0;
    let lines = salon.lines(thread).await;
    assert_eq!(lines.len(), 10 * 2 + 2 + 1);
    assert_eq!(lines.last().unwrap(), &("caller".to_owned(), "Anyone?".to_owned()));

    // Act: an hour later the sender is answered again.
    sqlx::query("UPDATE inbound_texts SET received_at = received_at - interval '61 minutes'")
        .execute(&salon.app.db)
        .await
        .unwrap();
    assert_eq!(messages(&salon.text_in("SM14", CALLER, "Back again").await), ["Sure."]);
}

#[tokio::test]
async fn opted_out_short_code_and_alphanumeric_senders_are_never_answered() {
    // Arrange: the caller opts out.
    let salon = salon(vec![]).await;
    assert_eq!(messages(&salon.text_in("SM1", CALLER, "STOP").await), Vec::<String>::new());

    // Act
    let opted_out = salon.text_in("SM2", CALLER, "Are you open tomorrow?").await;
    let short_code = salon.text_in("SM3", "898211", "Your code is 1234").await;
    let seven_digits = salon.text_in("SM4", "+1234567", "Win a prize").await;
    let alphanumeric = salon.text_in("SM5", "BellaHair", "Hello").await;

    // Assert: nothing answered, no model call, no thread, nothing sent.
    for answer in [&opted_out, &short_code, &seven_digits, &alphanumeric] {
        assert_eq!(messages(answer), Vec::<String>::new(), "{}", answer.xml);
    }
    assert!(salon.model_requests().await.is_empty());
    assert!(salon.threads().await.is_empty());
    assert!(salon.app.queued_jobs().await.is_empty());
    // Opting back in lets the conversation start.
    salon.text_in("SM6", CALLER, "START").await;
    assert_eq!(messages(&salon.text_in("SM7", CALLER, "Are you open tomorrow?").await), ["Sure."]);
}

#[tokio::test]
async fn a_thread_idle_for_a_day_is_closed_and_the_owner_hears_at_most_once_an_hour_per_thread() {
    // Arrange
    let salon = salon(vec![]).await;
    salon.text_in("SM1", CALLER, "Hi, do you do colour?").await;
    salon.text_in("SM2", CALLER, "And highlights?").await;
    let first = salon.threads().await[0].0;
    // A new thread is one notice; a second text within the hour is none.
    assert_eq!(salon.queued("email_owner_of_thread").await, 1);

    // Act: more than an hour after the notice, the thread gets a second one.
    sqlx::query("UPDATE sms_threads SET owner_notified_at = now() - interval '61 minutes'")
        .execute(&salon.app.db)
        .await
        .unwrap();
    salon.text_in("SM3", CALLER, "Also, parking?").await;
    assert_eq!(salon.queued("email_owner_of_thread").await, 2);
    assert_eq!(salon.threads().await.len(), 1);

    // Act: the thread sits idle for more than a day; the next text starts another.
    sqlx::query("UPDATE sms_threads SET last_message_at = now() - interval '25 hours'")
        .execute(&salon.app.db)
        .await
        .unwrap();
    salon.text_in("SM4", CALLER, "Hello again").await;

    // Assert: the first thread is completed with its transcript; the new one is open and
    // notified of.
    let threads = salon.threads().await;
    assert_eq!(threads.len(), 2);
    assert_eq!(threads[0], (first, CALLER.to_owned(), "completed".to_owned()));
    assert_eq!(threads[1].2, "in_progress");
    let transcript: Option<String> = sqlx::query_scalar("SELECT transcript FROM calls WHERE id = $1")
        .bind(first)
        .fetch_one(&salon.app.db)
        .await
        .unwrap();
    assert!(transcript.unwrap().starts_with("Caller: Hi, do you do colour?\nAI: Sure.\nCaller: And highlights?"));
    assert_eq!(salon.lines(threads[1].0).await.len(), 2);
    assert_eq!(salon.queued("email_owner_of_thread").await, 3);
    assert_eq!(salon.queued("text_owner_of_thread").await, 3);
}

#[tokio::test]
async fn both_call_lists_filter_by_channel_and_name_a_bad_one() {
    // Arrange: a phone call and a text thread.
    let salon = salon(vec![]).await;
    let voice = salon.app.insert_call(NewCall::completed(salon.id)).await;
    salon.text_in("SM1", CALLER, "Hi").await;
    let sms = salon.threads().await[0].0;
    let admin = salon.app.admin_token().await;
    let ids = |body: &Value| -> Vec<(i64, String)> {
        body["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["id"].as_i64().unwrap(), c["channel"].as_str().unwrap().to_owned()))
            .collect()
    };

    // Act + Assert: the admin's list.
    for (query, expected) in [
        ("", vec![(sms, "sms"), (voice, "voice")]),
        ("?channel=all", vec![(sms, "sms"), (voice, "voice")]),
        ("?channel=sms", vec![(sms, "sms")]),
        ("?channel=voice", vec![(voice, "voice")]),
        (&format!("?channel=sms&customer_id={}", salon.id), vec![(sms, "sms")]),
        ("?channel=voice&status=completed", vec![(voice, "voice")]),
    ] {
        let response = salon.app.get(&format!("/api/calls/{query}"), &admin).await;
        let body = response.assert_ok(StatusCode::OK);
        let expected: Vec<(i64, String)> = expected.into_iter().map(|(id, c)| (id, c.to_owned())).collect();
        assert_eq!(ids(body), expected, "{query}");
        assert_eq!(body["total"], expected.len(), "{query}");
    }
    // The portal's list.
    for (query, expected) in [("", vec![sms, voice]), ("?channel=sms", vec![sms]), ("?channel=voice", vec![voice])] {
        let response = salon.app.get(&format!("/api/portal/calls{query}"), &salon.token).await;
        let body = response.assert_ok(StatusCode::OK);
        assert_eq!(ids(body).into_iter().map(|(id, _)| id).collect::<Vec<_>>(), expected, "{query}");
        assert_eq!(body["total"], expected.len(), "{query}");
    }
    // Anything else is a 422 naming `channel`.
    for uri in ["/api/calls/?channel=fax", "/api/portal/calls?channel=SMS"] {
        let token = if uri.starts_with("/api/portal") { &salon.token } else { &admin };
        let response = salon.app.get(uri, token).await;
        response.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.body["details"]["channel"], "must be voice, sms or all", "{uri}");
    }
}

/// A call from `from` to the salon, answered by `voice`, and the desk its tools run at.
async fn call_desk(salon: &Salon, sid: &str, from: &str) -> CallDesk {
    salon.app.twilio("/api/webhooks/twilio/voice", &[("CallSid", sid), ("From", from), ("To", BUSINESS_NUMBER)]).await;
    let call_id: i64 = sqlx::query_scalar("SELECT id FROM calls WHERE twilio_call_sid = $1")
        .bind(sid)
        .fetch_one(&salon.app.db)
        .await
        .unwrap();
    CallDesk {
        db: salon.app.db.clone(),
        customer: deskringer::db::customers::find(&salon.app.db, salon.id).await.unwrap().unwrap(),
        call_id,
        caller: deskringer::receptionist::tools::caller_number(Some(from)),
        notify: deskringer::http::webhooks::twilio::call_notices(),
        outside: None,
        channel: deskringer::db::calls::Channel::Voice,
        texter: deskringer::http::webhooks::twilio::texter(&salon.app.state),
    }
}

async fn send_text(desk: &CallDesk, arguments: Value) -> Value {
    let call =
        deskringer::clients::ToolCall { id: "c".into(), name: "send_text".into(), arguments: arguments.to_string() };
    serde_json::from_str(&desk.run(&call, Utc::now()).await.output).unwrap()
}

#[tokio::test]
async fn send_text_texts_the_caller_from_the_business_number_at_most_twice_a_call() {
    // Arrange
    let salon = salon(vec![]).await;
    let desk = call_desk(&salon, "CA1", CALLER).await;

    // Act
    let first = send_text(&desk, json!({"message": "Bella Hair: 12 Main St, Springfield."})).await;
    let second = send_text(&desk, json!({"message": "Book online: bella.example"})).await;
    let third = send_text(&desk, json!({"message": "One more"})).await;

    // Assert: two texts to the caller only, from the business's number; the third refused.
    assert_eq!(first, json!({"sent": true, "texts_left": 1}));
    assert_eq!(second, json!({"sent": true, "texts_left": 0}));
    assert!(third["error"].as_str().unwrap().starts_with("Two texts have already been sent"), "{third}");
    assert_eq!(
        salon.texts_out().await,
        [
            (BUSINESS_NUMBER.to_owned(), CALLER.to_owned(), "Bella Hair: 12 Main St, Springfield.".to_owned()),
            (BUSINESS_NUMBER.to_owned(), CALLER.to_owned(), "Book online: bella.example".to_owned()),
        ]
    );
    // The transcript records them and the call's cost includes them.
    let lines = salon.lines(desk.call_id).await;
    let texted: Vec<&str> = lines.iter().filter(|(_, m)| m.starts_with("[Texted")).map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        texted,
        [
            "[Texted the caller: Bella Hair: 12 Main St, Springfield.]",
            "[Texted the caller: Book online: bella.example]"
        ]
    );
    let twilio_cost: f64 = sqlx::query_scalar("SELECT twilio_cost FROM calls WHERE id = $1")
        .bind(desk.call_id)
        .fetch_one(&salon.app.db)
        .await
        .unwrap();
    assert!((twilio_cost - 2.0 * COST_PER_SMS).abs() < 1e-9, "{twilio_cost}");
}

#[tokio::test]
async fn send_text_refuses_other_numbers_withheld_callers_long_texts_and_opted_out_callers() {
    // Arrange
    let salon = salon(vec![]).await;
    let desk = call_desk(&salon, "CA1", CALLER).await;
    let withheld = call_desk(&salon, "CA2", "anonymous").await;

    // Act + Assert: each refusal is a sentence for the model, and nothing is sent.
    let other = send_text(&desk, json!({"message": "Hi", "to": OTHER_CALLER})).await;
    assert!(other["error"].as_str().unwrap().contains("cannot text any other number"), "{other}");
    let hidden = send_text(&withheld, json!({"message": "Hi"})).await;
    assert!(hidden["error"].as_str().unwrap().contains("withheld"), "{hidden}");
    let long = send_text(&desk, json!({"message": "x".repeat(321)})).await;
    assert!(long["error"].as_str().unwrap().contains("more than the 320 allowed"), "{long}");
    let empty = send_text(&desk, json!({"message": "  "})).await;
    assert_eq!(empty["error"], "Give message: the text to send.");
    sqlx::query("INSERT INTO sms_opt_outs (customer_id, phone) VALUES ($1, $2)")
        .bind(salon.id)
        .bind(CALLER)
        .execute(&salon.app.db)
        .await
        .unwrap();
    let opted_out = send_text(&desk, json!({"message": "Hi"})).await;
    assert!(opted_out["error"].as_str().unwrap().contains("opted out"), "{opted_out}");
    assert!(salon.texts_out().await.is_empty());
    assert_eq!(salon.app.count("call_texts").await, 0);
    // A refusal used none of the two texts: 320 characters exactly still goes.
    sqlx::query("DELETE FROM sms_opt_outs").execute(&salon.app.db).await.unwrap();
    assert_eq!(send_text(&desk, json!({"message": "x".repeat(320)})).await["sent"], true);
}

/// Twilio reports call `sid` ended with `status` after `seconds`.
async fn call_ends(salon: &Salon, sid: &str, status: &str) {
    let response = salon
        .app
        .twilio("/api/webhooks/twilio/status", &[("CallSid", sid), ("CallStatus", status), ("CallDuration", "3")])
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
}

/// A call from `from`, greeted, that ends with `status` before the caller says anything.
async fn missed_call(salon: &Salon, sid: &str, from: &str, status: &str) {
    salon.app.twilio("/api/webhooks/twilio/voice", &[("CallSid", sid), ("From", from), ("To", BUSINESS_NUMBER)]).await;
    call_ends(salon, sid, status).await;
}

#[tokio::test]
async fn a_missed_caller_is_texted_back_once_a_day_never_when_withheld_opted_out_or_they_spoke() {
    // Arrange: the owner writes the text in the portal.
    let salon = salon(vec![chat_reply("We're open until 8pm.")]).await;
    let text = "Sorry we missed you! Reply here or book at bella.example.";
    let saved = salon.app.put("/api/portal/settings", &salon.token, json!({"missed_call_text": text})).await;
    assert_eq!(saved.assert_ok(StatusCode::OK)["customer"]["missed_call_text"], text);

    // Act: hung up during the greeting, then busy the same day, then another number with no answer.
    missed_call(&salon, "CA1", CALLER, "completed").await;
    missed_call(&salon, "CA2", CALLER, "busy").await;
    missed_call(&salon, "CA3", OTHER_CALLER, "no-answer").await;
    // Never: withheld, opted out, or a caller who spoke.
    missed_call(&salon, "CA4", "anonymous", "failed").await;
    let opted_out = "+14155550177";
    sqlx::query("INSERT INTO sms_opt_outs (customer_id, phone) VALUES ($1, $2)")
        .bind(salon.id)
        .bind(opted_out)
        .execute(&salon.app.db)
        .await
        .unwrap();
    missed_call(&salon, "CA5", opted_out, "completed").await;
    let spoke = "+14155550166";
    salon
        .app
        .twilio("/api/webhooks/twilio/voice", &[("CallSid", "CA6"), ("From", spoke), ("To", BUSINESS_NUMBER)])
        .await;
    salon
        .app
        .twilio("/api/webhooks/twilio/gather", &[("CallSid", "CA6"), ("SpeechResult", "When do you close?")])
        .await;
    call_ends(&salon, "CA6", "completed").await;
    salon.app.run_jobs().await;

    // Assert: one text each to the two numbers that may have one, from the business's number.
    let mut texts: Vec<(String, String, String)> =
        salon.texts_out().await.into_iter().filter(|(_, _, body)| body == text).collect();
    texts.sort();
    assert_eq!(
        texts,
        [
            (BUSINESS_NUMBER.to_owned(), OTHER_CALLER.to_owned(), text.to_owned()),
            (BUSINESS_NUMBER.to_owned(), CALLER.to_owned(), text.to_owned()),
        ]
    );
    assert_eq!(salon.app.queued_jobs().await.iter().filter(|j| *j == "text_missed_caller").count(), 0);

    // Act: a day later the same number misses another call.
    sqlx::query("UPDATE missed_call_texts SET sent_at = sent_at - interval '25 hours'")
        .execute(&salon.app.db)
        .await
        .unwrap();
    missed_call(&salon, "CA7", CALLER, "canceled").await;
    salon.app.run_jobs().await;
    let to_caller = salon.texts_out().await.into_iter().filter(|(_, to, body)| to == CALLER && body == text).count();
    assert_eq!(to_caller, 2);

    // Turned off (""), nothing is queued.
    salon.app.put("/api/portal/settings", &salon.token, json!({"missed_call_text": ""})).await;
    missed_call(&salon, "CA8", "+14155550155", "busy").await;
    assert!(!salon.app.queued_jobs().await.contains(&"text_missed_caller".to_owned()));
}

#[tokio::test]
async fn missed_call_text_is_off_by_default_and_validated_wherever_the_ai_settings_are_set() {
    // Arrange
    let salon = salon(vec![]).await;
    let admin = salon.app.admin_token().await;
    let me = salon.app.get("/api/portal/me", &salon.token).await;
    let me = me.assert_ok(StatusCode::OK);
    let shown = if me["customer"].is_object() { &me["customer"]["missed_call_text"] } else { &me["missed_call_text"] };
    assert_eq!(shown, "");

    // Act + Assert: too long is a 422 naming the field, in the portal and both admin edits.
    let long = json!({"missed_call_text": "x".repeat(321)});
    for (uri, token) in [
        ("/api/portal/settings".to_owned(), &salon.token),
        (format!("/api/customers/{}", salon.id), &admin),
        (format!("/api/customers/{}/settings", salon.id), &admin),
    ] {
        let response = salon.app.put(&uri, token, long.clone()).await;
        response.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.body["details"]["missed_call_text"], "must be at most 320 characters", "{uri}");
        let wrong_type = salon.app.put(&uri, token, json!({"missed_call_text": 5})).await;
        wrong_type.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(wrong_type.body["details"]["missed_call_text"].is_string(), "{uri}: {}", wrong_type.text);
    }
    // The admin sets it; 320 characters fit.
    let fits = "y".repeat(320);
    let response =
        salon.app.put(&format!("/api/customers/{}", salon.id), &admin, json!({"missed_call_text": fits})).await;
    assert_eq!(response.assert_ok(StatusCode::OK)["customer"]["missed_call_text"], fits);
    let stored: String = sqlx::query_scalar("SELECT missed_call_text FROM customers WHERE id = $1")
        .bind(salon.id)
        .fetch_one(&salon.app.db)
        .await
        .unwrap();
    assert_eq!(stored, fits);
}

#[tokio::test]
async fn a_redelivery_while_the_model_answers_waits_for_the_first_answer() {
    // Arrange: the model takes a second to answer.
    let salon = salon(vec![chat_reply("Yes, we do.").set_delay(std::time::Duration::from_secs(1))]).await;

    // Act: Twilio delivers the text twice at once.
    let (first, second) = tokio::join!(
        salon.text_in("SM1", CALLER, "Do you do beards?"),
        salon.text_in("SM1", CALLER, "Do you do beards?")
    );

    // Assert: both answers are the one answer; the model was asked once.
    assert_eq!(messages(&first), ["Yes, we do."]);
    assert_eq!(messages(&second), ["Yes, we do."]);
    assert_eq!(salon.model_requests().await.len(), 1);
    assert_eq!(salon.lines(salon.threads().await[0].0).await.len(), 2);
}

#[tokio::test]
async fn the_standard_voice_flow_texts_the_caller_when_the_model_calls_send_text() {
    // Arrange
    let salon = salon(vec![
        tool_call("send_text", json!({"message": "Bella Hair: 12 Main St, Springfield."})),
        chat_reply("I've texted you our address."),
    ])
    .await;
    Mock::given(method("POST"))
        .and(path("/audio/speech"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(b"ID3fake".to_vec(), "audio/mpeg"))
        .mount(&salon.mocks.openai)
        .await;
    salon
        .app
        .twilio("/api/webhooks/twilio/voice", &[("CallSid", "CA1"), ("From", CALLER), ("To", BUSINESS_NUMBER)])
        .await;

    // Act
    let answer = salon
        .app
        .twilio("/api/webhooks/twilio/gather", &[("CallSid", "CA1"), ("SpeechResult", "Can you text me the address?")])
        .await;

    // Assert: the caller got the text, and the transcript says so before the spoken answer.
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        salon.texts_out().await,
        [(BUSINESS_NUMBER.to_owned(), CALLER.to_owned(), "Bella Hair: 12 Main St, Springfield.".to_owned())]
    );
    let call_id: i64 = sqlx::query_scalar("SELECT id FROM calls WHERE twilio_call_sid = 'CA1'")
        .fetch_one(&salon.app.db)
        .await
        .unwrap();
    let lines = salon.lines(call_id).await;
    let tail: Vec<&str> = lines.iter().rev().take(2).rev().map(|(_, m)| m.as_str()).collect();
    assert_eq!(tail, ["[Texted the caller: Bella Hair: 12 Main St, Springfield.]", "I've texted you our address."]);
}
