//! The receptionist end to end: Twilio's signed webhooks against the real app and
//! database, with OpenAI, SendGrid and Twilio's REST API stood in by wiremock.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, Request as MockRequest, Respond, ResponseTemplate};

use crate::helpers::{BASE_URL, Mocks, TestApp, Twiml};

const NUMBER: &str = "+14155550111";
const FORWARD: &str = "+14155550122";
const OWNER_PHONE: &str = "+14155550133";
const CALLER: &str = "+14155550199";
const FAKE_MP3: &[u8] = b"ID3\x04fake-mp3-audio";
/// The whole answer for a call that is over.
const HANG_UP: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Hangup/></Response>";

/// Answers each request with the next response of a list (then 500).
struct InTurn(Mutex<VecDeque<ResponseTemplate>>);

impl InTurn {
    fn new(responses: impl IntoIterator<Item = ResponseTemplate>) -> Self {
        InTurn(Mutex::new(responses.into_iter().collect()))
    }
}

impl Respond for InTurn {
    fn respond(&self, _: &MockRequest) -> ResponseTemplate {
        self.0.lock().unwrap().pop_front().unwrap_or_else(|| ResponseTemplate::new(500))
    }
}

fn chat_reply(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}
    }))
}

fn transfer_reply() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "transfer_to_human", "arguments": "{\"reason\":\"asked for a person\"}"}}]}}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 10}
    }))
}

fn summary_reply() -> ResponseTemplate {
    let summary = json!({
        "summary": "Maria (+14155550199) wants a haircut on Friday afternoon; call her back to confirm.",
        "intent": "appointment",
        "callback_requested": true
    });
    chat_reply(&summary.to_string())
}

/// Mounts the summary answer (recognised by its JSON response format) and TTS audio.
async fn mount_summary_and_speech(mocks: &Mocks) {
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .and(body_string_contains("json_object"))
        .respond_with(summary_reply())
        .with_priority(1)
        .mount(&mocks.openai)
        .await;
    Mock::given(method("POST"))
        .and(path("/audio/speech"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(FAKE_MP3, "audio/mpeg"))
        .mount(&mocks.openai)
        .await;
}

/// A business answering `NUMBER`; returns its id.
async fn business(app: &TestApp, name: &str, forward: Option<&str>) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO customers (business_name, email, deskringer_number, forward_to_number, greeting_message, \
         notification_email, notification_phone, subscription_status, ai_instructions, timezone, business_hours) \
         VALUES ($1, 'owner@bella.test', $2, $3, NULL, 'alerts@bella.test', $4, 'active', \
                 'You are the receptionist for ' || $1 || '.', 'America/New_York', \
                 '{\"monday\": {\"open\": \"09:00\", \"close\": \"17:00\"}}') RETURNING id",
    )
    .bind(name)
    .bind(NUMBER)
    .bind(forward)
    .bind(OWNER_PHONE)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

async fn voice(app: &TestApp, sid: &str) -> Twiml {
    Twiml::from(&app.twilio("/api/webhooks/twilio/voice", &[("CallSid", sid), ("From", CALLER), ("To", NUMBER)]).await)
}

async fn say(app: &TestApp, sid: &str, words: &str) -> Twiml {
    Twiml::from(
        &app.twilio(
            "/api/webhooks/twilio/gather",
            &[("CallSid", sid), ("SpeechResult", words), ("Confidence", "0.92")],
        )
        .await,
    )
}

/// The caller says `words`, answered with whatever the server sends.
async fn say_raw(app: &TestApp, sid: &str, words: &str) -> crate::helpers::TestResponse {
    app.twilio("/api/webhooks/twilio/gather", &[("CallSid", sid), ("SpeechResult", words), ("Confidence", "0.92")])
        .await
}

/// Twilio reports the call `sid` completed after `seconds`.
async fn end_call(app: &TestApp, sid: &str, seconds: &str) -> crate::helpers::TestResponse {
    app.twilio(
        "/api/webhooks/twilio/status",
        &[("CallSid", sid), ("CallStatus", "completed"), ("CallDuration", seconds)],
    )
    .await
}

/// Twilio's Messages API accepts texts; `expected` of them must arrive.
async fn mount_sms(mocks: &Mocks, expected: u64) {
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM1"})))
        .expect(expected)
        .mount(&mocks.twilio)
        .await;
}

/// The text a signed `/tts` URL speaks.
fn spoken_text(url: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "t").unwrap().1.into_owned()
}

async fn lines(app: &TestApp, sid: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT l.speaker, l.message FROM call_logs l JOIN calls c ON c.id = l.call_id \
         WHERE c.twilio_call_sid = $1 ORDER BY l.timestamp, l.id",
    )
    .bind(sid)
    .fetch_all(&app.db)
    .await
    .unwrap()
}

fn pairs(lines: &[(&str, &str)]) -> Vec<(String, String)> {
    lines.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[tokio::test]
async fn a_whole_call_is_answered_summarised_and_reported_to_the_owner() {
    // Arrange: the model answers three turns; email and SMS must each arrive exactly once.
    let mocks = Mocks::start().await;
    mount_summary_and_speech(&mocks).await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .and(header("authorization", "Bearer sk-test"))
        .respond_with(InTurn::new([
            chat_reply("We're open until five today. How can I help?"),
            chat_reply("Friday afternoon works. May I have your name?"),
            chat_reply("Thanks Maria, the team will call you back to confirm."),
        ]))
        .expect(3)
        .mount(&mocks.openai)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(header("authorization", "Bearer SG.test"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&mocks.sendgrid)
        .await;
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM123"})))
        .expect(1)
        .mount(&mocks.twilio)
        .await;
    let app = TestApp::spawn_with(mocks.config(true, true, &[])).await;
    let customer_id = business(&app, "Bella Hair", Some(FORWARD)).await;

    // Act 1: the call arrives.
    let greeting = voice(&app, "CA100").await;

    // Assert: greeting spoken through our signed TTS URL, while listening; second chance; goodbye.
    assert_eq!(greeting.verbs(), ["Gather", "Gather", "Play", "Hangup"]);
    let gathers = greeting.all("Gather");
    assert_eq!(gathers[0].0["action"], format!("{BASE_URL}/api/webhooks/twilio/gather"));
    assert_eq!(gathers[0].0["input"], "speech");
    let plays = greeting.plays();
    assert!(plays[0].starts_with(&format!("{BASE_URL}/api/webhooks/twilio/tts?")), "{plays:?}");
    assert_eq!(spoken_text(&plays[0]), "Thank you for calling Bella Hair. How can I help you today?");
    // Twilio fetches the audio.
    let audio = app.call(Method::GET, plays[0].strip_prefix(BASE_URL).unwrap(), None, None).await;
    assert_eq!(audio.status, StatusCode::OK);
    assert_eq!(audio.headers["content-type"], "audio/mpeg");
    assert_eq!(audio.text.as_bytes(), FAKE_MP3);

    // Act 2: three turns.
    let first = say(&app, "CA100", "Are you open today?").await;
    assert_eq!(spoken_text(&first.plays()[0]), "We're open until five today. How can I help?");
    say(&app, "CA100", "I'd like a haircut on Friday afternoon").await;
    let last = say(&app, "CA100", "It's Maria, please call me back").await;
    assert_eq!(spoken_text(&last.plays()[0]), "Thanks Maria, the team will call you back to confirm.");

    // Act 3: the call ends, then the worker runs.
    let status = end_call(&app, "CA100", "95").await;
    assert_eq!(status.assert_ok(StatusCode::OK)["status"], "recorded");
    app.run_jobs().await;

    // Assert: the ordered lines, the call row, the costs, the summary saved by the job.
    let expected_lines = [
        ("ai", "Thank you for calling Bella Hair. How can I help you today?"),
        ("caller", "Are you open today?"),
        ("ai", "We're open until five today. How can I help?"),
        ("caller", "I'd like a haircut on Friday afternoon"),
        ("ai", "Friday afternoon works. May I have your name?"),
        ("caller", "It's Maria, please call me back"),
        ("ai", "Thanks Maria, the team will call you back to confirm."),
    ];
    assert_eq!(lines(&app, "CA100").await, pairs(&expected_lines));
    #[derive(sqlx::FromRow)]
    struct CallRow {
        customer_id: i64,
        status: String,
        duration_seconds: Option<i32>,
        summary: Option<String>,
        intent: Option<String>,
        callback_requested: bool,
        twilio_cost: f64,
        openai_cost: f64,
        transcript: Option<String>,
        ended: bool,
    }
    let call: CallRow = sqlx::query_as(
        "SELECT customer_id, status, duration_seconds, summary, intent, callback_requested, twilio_cost, openai_cost, \
                transcript, ended_at IS NOT NULL AS ended FROM calls WHERE twilio_call_sid = 'CA100'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(call.customer_id, customer_id);
    assert_eq!((call.status.as_str(), call.duration_seconds), ("completed", Some(95)));
    assert_eq!(
        call.summary.as_deref(),
        Some("Maria (+14155550199) wants a haircut on Friday afternoon; call her back to confirm.")
    );
    assert_eq!(call.intent.as_deref(), Some("appointment"));
    assert!(call.callback_requested);
    assert!((call.twilio_cost - 2.0 * 0.0085).abs() < 1e-9, "two started minutes at $0.0085: {}", call.twilio_cost);
    // Four gpt-4o-mini requests of 1000 input and 100 output tokens: 4 * (0.00015 + 0.00006).
    assert!((call.openai_cost - 4.0 * 0.00021).abs() < 1e-9, "openai cost {}", call.openai_cost);
    let transcript = call.transcript.unwrap();
    assert!(transcript.starts_with("AI: Thank you for calling Bella Hair."));
    assert!(transcript.contains("\nCaller: Are you open today?\nAI: We're open until five today."));
    assert!(call.ended, "ended_at is set");

    // Assert: the owner's email and SMS, as the services received them.
    let emails = mocks.sendgrid.received_requests().await.unwrap();
    let email: Value = serde_json::from_slice(&emails[0].body).unwrap();
    assert_eq!(email["personalizations"][0]["to"][0]["email"], "alerts@bella.test");
    assert_eq!(email["from"]["email"], "calls@deskringer.test");
    assert!(email["subject"].as_str().unwrap().contains(CALLER));
    let html = email["content"][1]["value"].as_str().unwrap();
    assert!(html.contains("wants a haircut on Friday afternoon"));
    assert!(html.contains("Caller: It&apos;s Maria, please call me back"));
    assert!(html.contains("https://portal.deskringer.test/calls/"));
    assert!(email["content"][0]["value"].as_str().unwrap().contains("1m 35s"));
    let texts = mocks.twilio.received_requests().await.unwrap();
    let sms: Vec<(String, String)> = form_urlencoded::parse(&texts[0].body).into_owned().collect();
    let field = |name: &str| sms.iter().find(|(k, _)| k == name).unwrap().1.clone();
    assert_eq!(field("To"), OWNER_PHONE);
    assert_eq!(field("From"), NUMBER);
    assert!(field("Body").contains("wants a haircut on Friday afternoon"));
    assert_eq!(app.count("call_notifications").await, 2);
    assert!(app.queued_jobs().await.is_empty());

    // Twilio retries the status callback and the worker runs again: nothing changes or repeats.
    let again = end_call(&app, "CA100", "95").await;
    assert_eq!(again.assert_ok(StatusCode::OK)["status"], "already recorded");
    app.run_jobs().await;
    assert!(app.queued_jobs().await.is_empty());
    // (The mocks' `expect` counts are checked when they drop.)
}

#[tokio::test]
async fn without_any_keys_a_call_still_works_with_built_in_replies_and_say() {
    let mocks = Mocks::start().await;
    mount_sms(&mocks, 1).await;
    let app = TestApp::spawn_with(mocks.config(false, false, &[])).await;
    let customer_id = business(&app, "Joe's Diner", None).await;
    sqlx::query("UPDATE customers SET services_offered = 'Breakfast and lunch', business_hours = NULL WHERE id = $1")
        .bind(customer_id)
        .execute(&app.db)
        .await
        .unwrap();

    let greeting = voice(&app, "CA200").await;
    assert_eq!(greeting.verbs(), ["Gather", "Gather", "Say", "Hangup"]);
    assert!(greeting.plays().is_empty());
    assert_eq!(greeting.says()[0], "Thank you for calling Joe's Diner. How can I help you today?");

    let reply = say(&app, "CA200", "What services do you offer?").await;
    assert!(reply.says()[0].contains("Breakfast and lunch"), "{:?}", reply.says());

    end_call(&app, "CA200", "30").await.assert_ok(StatusCode::OK);
    app.run_jobs().await;
    let (summary, intent): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT summary, intent FROM calls WHERE twilio_call_sid = 'CA200'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(summary.as_deref(), Some("Caller said: \"What services do you offer?\""));
    assert_eq!(intent.as_deref(), Some("question"));
    // Email is logged, not sent, without SendGrid; the SMS goes through Twilio's REST API.
    assert_eq!(mocks.sendgrid.received_requests().await.unwrap().len(), 0);
    assert_eq!(app.count("call_notifications").await, 2);
}

#[tokio::test]
async fn a_transfer_dials_the_forward_number_and_without_one_offers_a_message() {
    let mocks = Mocks::start().await;
    mount_summary_and_speech(&mocks).await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(transfer_reply())
        .mount(&mocks.openai)
        .await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    let customer_id = business(&app, "Bella Hair", Some(FORWARD)).await;

    voice(&app, "CA300").await;
    let transfer = say(&app, "CA300", "Can I talk to a real person?").await;

    assert_eq!(transfer.verbs(), ["Play", "Dial"]);
    let dial = &transfer.all("Dial")[0].0;
    assert_eq!(dial["callerId"], NUMBER);
    assert_eq!(dial["timeout"], "30");
    assert_eq!(dial["action"], format!("{BASE_URL}/api/webhooks/twilio/gather"));
    assert_eq!(transfer.all("Number")[0].1, FORWARD);

    // Nobody answers: the caller is offered to leave a message.
    let unanswered = Twiml::from(
        &app.twilio("/api/webhooks/twilio/gather", &[("CallSid", "CA300"), ("DialCallStatus", "no-answer")]).await,
    );
    assert_eq!(unanswered.verbs()[0], "Gather");
    assert!(spoken_text(&unanswered.plays()[0]).contains("take a message"));
    // Somebody answered and the transfer ended: hang up.
    let answered = Twiml::from(
        &app.twilio("/api/webhooks/twilio/gather", &[("CallSid", "CA300"), ("DialCallStatus", "completed")]).await,
    );
    assert_eq!(answered.verbs(), ["Hangup"]);

    // Without a forward number there is no <Dial>.
    sqlx::query("UPDATE customers SET forward_to_number = NULL WHERE id = $1")
        .bind(customer_id)
        .execute(&app.db)
        .await
        .unwrap();
    let no_forward = say(&app, "CA300", "Put me through to someone").await;
    assert!(no_forward.all("Dial").is_empty());
    assert!(spoken_text(&no_forward.plays()[0]).contains("take a message"));
}

#[tokio::test]
async fn model_failures_never_reach_the_caller_as_errors() {
    // A slow model (past a 1 s deadline), a 500, and malformed JSON, in that order.
    let mocks = Mocks::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(InTurn::new([
            chat_reply("Too late").set_delay(Duration::from_secs(5)),
            ResponseTemplate::new(500).set_body_string("upstream exploded"),
            ResponseTemplate::new(200).set_body_string("{\"choices\": [tru"),
        ]))
        .mount(&mocks.openai)
        .await;
    // Speech synthesis is down as well: every line falls back to <Say>.
    Mock::given(method("POST"))
        .and(path("/audio/speech"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&mocks.openai)
        .await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[("OPENAI_REPLY_DEADLINE_SECONDS", "1")])).await;
    business(&app, "Bella Hair", None).await;
    voice(&app, "CA400").await;

    for words in ["Hello?", "Are you there?", "Hello again"] {
        let started = std::time::Instant::now();
        let reply = say(&app, "CA400", words).await;
        assert!(started.elapsed() < Duration::from_secs(4), "answered within the deadline");
        assert_eq!(reply.says()[0], "Sorry, could you say that again?", "{}", reply.xml);
        assert_eq!(reply.verbs(), ["Gather", "Gather", "Say", "Hangup"]);
    }
    let cost: f64 = sqlx::query_scalar("SELECT openai_cost FROM calls WHERE twilio_call_sid = 'CA400'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(cost, 0.0);
}

#[tokio::test]
async fn silence_gets_a_gentle_reprompt_without_a_model_call() {
    let mocks = Mocks::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(chat_reply("x"))
        .expect(0)
        .mount(&mocks.openai)
        .await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    business(&app, "Bella Hair", None).await;
    voice(&app, "CA500").await;

    for params in [vec![("CallSid", "CA500"), ("SpeechResult", "   ")], vec![("CallSid", "CA500")]] {
        let reply = Twiml::from(&app.twilio("/api/webhooks/twilio/gather", &params).await);
        // No speech mock is mounted: synthesis fails and every line falls back to <Say>.
        assert_eq!(reply.says()[0], "Sorry, I didn't catch that. Could you say it again?");
        assert_eq!(reply.verbs(), ["Gather", "Gather", "Say", "Hangup"]);
    }
    assert_eq!(lines(&app, "CA500").await.len(), 1, "only the greeting");
}

#[tokio::test]
async fn xml_special_characters_in_settings_and_speech_make_valid_twiml() {
    let mocks = Mocks::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(chat_reply("Bob & Sons say: \"<we're open>\""))
        .mount(&mocks.openai)
        .await;
    Mock::given(method("POST"))
        .and(path("/audio/speech"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&mocks.openai)
        .await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    let id = business(&app, "Bob & Sons <Plumbing>", None).await;
    sqlx::query("UPDATE customers SET greeting_message = 'Hi from Bob & Sons <\"Plumbing\">!' WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();

    let greeting = voice(&app, "CA600").await;
    assert_eq!(greeting.says()[0], "Hi from Bob & Sons <\"Plumbing\">!");
    let reply = say(&app, "CA600", "Is it <true> & \"fast\"? </Say><Hangup/>").await;
    assert_eq!(reply.says()[0], "Bob & Sons say: \"<we're open>\"");
    assert_eq!(reply.verbs(), ["Gather", "Gather", "Say", "Hangup"]);
    assert_eq!(lines(&app, "CA600").await[1].1, "Is it <true> & \"fast\"? </Say><Hangup/>");
}

#[tokio::test]
async fn characters_xml_forbids_in_any_setting_never_break_a_call() {
    // Arrange: every text setting that can reach TwiML carries characters outside XML 1.0's
    // `Char` (noncharacters and control characters), saved through the admin API.
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(false, false, &[])).await;
    let id = business(&app, "Bella Hair", Some(FORWARD)).await;
    let bad = |text: &str| format!("{text}\u{FFFF}\u{FFFE}\u{1}\u{B}\u{1B}\u{7F}!");
    let admin = app.admin_token().await;
    app.put(
        &format!("/api/customers/{id}"),
        &admin,
        json!({
            "business_name": bad("Bella Hair"),
            "business_type": bad("salon"),
            "greeting_message": bad("Ciao"),
            "services_offered": bad("Cuts"),
            "pricing_info": bad("Cuts from $45"),
            "holiday_hours": bad("Closed at Christmas"),
            "special_instructions": bad("Be kind"),
            "notification_instructions": bad("Text me"),
            "faqs": [{"question": bad("Parking?"), "answer": bad("Out back")}],
        }),
    )
    .await
    .assert_ok(StatusCode::OK);

    // Act + Assert: the greeting and each built-in reply are TwiML that parses (`Twiml::from`
    // fails the test otherwise), saying the settings without the forbidden characters.
    let greeting = voice(&app, "CA650").await;
    assert_eq!(greeting.says()[0], "Ciao!");
    let caller = bad("What services do you offer?");
    let services = say(&app, "CA650", &caller).await;
    assert_eq!(services.says()[0], "We offer Cuts!. Would you like to book or leave a message?");
    let prices = say(&app, "CA650", "How much is a cut?").await;
    assert_eq!(prices.says()[0], "Cuts from $45!. Anything else I can help with?");
    let message = say(&app, "CA650", "Tell them I called").await;
    assert!(message.says()[0].contains("the team at Bella Hair! gets your message"), "{:?}", message.says());
    let transfer = say(&app, "CA650", "Can I talk to a person?").await;
    assert_eq!(transfer.all("Number")[0].1, FORWARD);
    let goodbye = say(&app, "CA650", "bye").await;
    assert_eq!(goodbye.says()[0], "Thank you for calling Bella Hair!. Have a great day!");

    // Without a greeting of its own, the default one names the business.
    app.put(&format!("/api/customers/{id}"), &admin, json!({"greeting_message": null})).await.assert_ok(StatusCode::OK);
    let default_greeting = voice(&app, "CA651").await;
    assert_eq!(default_greeting.says()[0], "Thank you for calling Bella Hair!. How can I help you today?");
}

#[tokio::test]
async fn a_huge_speech_result_is_cut_before_it_is_stored_or_sent() {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(false, false, &[])).await;
    business(&app, "Bella Hair", None).await;
    voice(&app, "CA700").await;
    let huge = "blah ".repeat(20_000);
    say(&app, "CA700", &huge).await;
    let stored = &lines(&app, "CA700").await[1].1;
    assert_eq!(stored.chars().count(), 1000);
}

#[tokio::test]
async fn unknown_numbers_and_businesses_out_of_service() {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(false, false, &[])).await;

    let unknown = Twiml::from(
        &app.twilio("/api/webhooks/twilio/voice", &[("CallSid", "CA800"), ("From", CALLER), ("To", "+19995550000")])
            .await,
    );
    assert_eq!(unknown.verbs(), ["Say", "Hangup"]);
    assert!(unknown.says()[0].contains("not in service"));
    assert_eq!(app.count("calls").await, 0);

    let id = business(&app, "Closed Co", None).await;
    for (status, trial_end) in [
        ("cancelled", "now() + interval '1 day'"),
        ("trial_expired", "now() - interval '1 day'"),
        ("trial", "now() - interval '1 minute'"),
    ] {
        let sql =
            format!("UPDATE customers SET subscription_status = '{status}', trial_ends_at = {trial_end} WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).execute(&app.db).await.unwrap();
        let sid = format!("CA-{status}");
        let answer = voice(&app, &sid).await;
        assert_eq!(answer.verbs(), ["Say", "Hangup"], "{status}");
        assert!(answer.says()[0].contains("not in service"), "{status}");
        let recorded: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM calls WHERE twilio_call_sid = $1)")
            .bind(&sid)
            .fetch_one(&app.db)
            .await
            .unwrap();
        assert!(recorded, "the call is still recorded ({status})");
    }
}

#[tokio::test]
async fn a_repeated_call_sid_is_one_call() {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(false, false, &[])).await;
    business(&app, "Bella Hair", None).await;
    voice(&app, "CA900").await;
    let again = voice(&app, "CA900").await;
    assert_eq!(again.verbs(), ["Gather", "Gather", "Say", "Hangup"]);
    assert_eq!(app.count("calls").await, 1);
    assert_eq!(lines(&app, "CA900").await.len(), 1, "one greeting line");
}

#[tokio::test]
async fn bad_signatures_are_refused_and_change_nothing() {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(false, false, &[])).await;
    business(&app, "Bella Hair", None).await;
    let params = [("CallSid", "CA1000"), ("From", CALLER), ("To", NUMBER)];
    let path = "/api/webhooks/twilio/voice";

    app.twilio_with_signature(path, &params, None).await.assert_error(StatusCode::FORBIDDEN);
    app.twilio_with_signature(path, &params, Some("bm90IHRoZSByaWdodCBvbmU="))
        .await
        .assert_error(StatusCode::FORBIDDEN);
    app.twilio_with_signature(path, &params, Some("%%%")).await.assert_error(StatusCode::FORBIDDEN);
    // A genuine signature replayed with a changed parameter.
    let owned: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let genuine = deskringer::http::webhooks::twilio::signature::sign(
        crate::helpers::TWILIO_TOKEN.as_bytes(),
        &format!("{BASE_URL}{path}"),
        &owned,
    );
    let tampered = [("CallSid", "CA1000"), ("From", "+19998887777"), ("To", NUMBER)];
    app.twilio_with_signature(path, &tampered, Some(&genuine)).await.assert_error(StatusCode::FORBIDDEN);
    // The same signature on another webhook.
    app.twilio_with_signature("/api/webhooks/twilio/status", &params, Some(&genuine))
        .await
        .assert_error(StatusCode::FORBIDDEN);
    for path in ["/api/webhooks/twilio/gather", "/api/webhooks/twilio/status"] {
        app.twilio_with_signature(path, &[("CallSid", "CA1000")], None).await.assert_error(StatusCode::FORBIDDEN);
    }
    assert_eq!(app.count("calls").await, 0);

    // The genuine request is accepted.
    app.twilio_with_signature(path, &params, Some(&genuine)).await;
    assert_eq!(app.count("calls").await, 1);
}

#[tokio::test]
async fn unknown_calls_and_missing_fields() {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(false, false, &[])).await;

    let gather = Twiml::from(
        &app.twilio("/api/webhooks/twilio/gather", &[("CallSid", "CA-nope"), ("SpeechResult", "hi")]).await,
    );
    assert_eq!(gather.verbs(), ["Say", "Hangup"]);
    app.twilio("/api/webhooks/twilio/status", &[("CallSid", "CA-nope"), ("CallStatus", "completed")])
        .await
        .assert_error(StatusCode::NOT_FOUND);

    for (path, params) in [
        ("/api/webhooks/twilio/voice", vec![("From", CALLER), ("To", NUMBER)]),
        ("/api/webhooks/twilio/voice", vec![("CallSid", "CA1"), ("From", CALLER)]),
        ("/api/webhooks/twilio/gather", vec![("SpeechResult", "hi")]),
        ("/api/webhooks/twilio/status", vec![("CallSid", "CA1")]),
    ] {
        let message = app.twilio(path, &params).await.assert_error(StatusCode::BAD_REQUEST).to_owned();
        assert!(message.contains("missing form field"), "{path}: {message}");
    }
    business(&app, "Bella Hair", None).await;
    voice(&app, "CA1100").await;
    end_call(&app, "CA1100", "ten").await.assert_error(StatusCode::BAD_REQUEST);
    let ringing = app.twilio("/api/webhooks/twilio/status", &[("CallSid", "CA1100"), ("CallStatus", "ringing")]).await;
    assert_eq!(ringing.assert_ok(StatusCode::OK)["status"], "ignored");
}

#[tokio::test]
async fn calls_without_caller_words_or_not_completed_get_no_summary_job() {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(false, false, &[])).await;
    business(&app, "Bella Hair", None).await;
    voice(&app, "CA1200").await;
    end_call(&app, "CA1200", "4").await.assert_ok(StatusCode::OK);
    voice(&app, "CA1201").await;
    say(&app, "CA1201", "Hello").await;
    app.twilio("/api/webhooks/twilio/status", &[("CallSid", "CA1201"), ("CallStatus", "failed")])
        .await
        .assert_ok(StatusCode::OK);
    assert!(app.queued_jobs().await.is_empty());
    let status: String = sqlx::query_scalar("SELECT status FROM calls WHERE twilio_call_sid = 'CA1201'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "failed");
}

#[tokio::test]
async fn a_sendgrid_outage_delays_the_email_which_then_arrives_exactly_once() {
    let mocks = Mocks::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&mocks.sendgrid)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&mocks.sendgrid)
        .await;
    mount_sms(&mocks, 1).await;
    let app = TestApp::spawn_with(mocks.config(false, true, &[])).await;
    business(&app, "Bella Hair", None).await;
    voice(&app, "CA1300").await;
    say(&app, "CA1300", "Please call me back").await;
    end_call(&app, "CA1300", "20").await.assert_ok(StatusCode::OK);

    // First run: SendGrid fails; the SMS goes out regardless; the email job waits to retry.
    app.run_jobs().await;
    assert_eq!(mocks.sendgrid.received_requests().await.unwrap().len(), 1);
    assert_eq!(app.queued_jobs().await, ["email_owner"]);

    // The retry succeeds; later runs send nothing more.
    app.run_retries().await;
    assert_eq!(mocks.sendgrid.received_requests().await.unwrap().len(), 2);
    assert!(app.queued_jobs().await.is_empty());
    let emails: i64 = sqlx::query_scalar("SELECT count(*) FROM call_notifications WHERE channel = 'email'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(emails, 1);
}

#[tokio::test]
async fn a_restart_between_the_call_ending_and_the_job_loses_nothing() {
    let mocks = Mocks::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&mocks.sendgrid)
        .await;
    mount_sms(&mocks, 1).await;
    let first_life = TestApp::spawn_with(mocks.config(false, true, &[])).await;
    business(&first_life, "Bella Hair", None).await;
    voice(&first_life, "CA1400").await;
    say(&first_life, "CA1400", "Can you book me in for Tuesday?").await;
    end_call(&first_life, "CA1400", "40").await.assert_ok(StatusCode::OK);
    assert_eq!(first_life.queued_jobs().await, ["summarize_call"]);

    // "Restart": a new application state and worker over the same database; the old one is gone.
    let restarted = deskringer::http::AppState::new(first_life.db.clone(), mocks.config(false, true, &[])).unwrap();
    let worker = deskringer::jobs::worker(restarted.job_context(), std::future::pending()).await.unwrap();
    for _ in 0..3 {
        worker.run_once().await.unwrap();
    }

    assert!(first_life.queued_jobs().await.is_empty());
    let intent: Option<String> = sqlx::query_scalar("SELECT intent FROM calls WHERE twilio_call_sid = 'CA1400'")
        .fetch_one(&first_life.db)
        .await
        .unwrap();
    assert_eq!(intent.as_deref(), Some("appointment"));
}

#[tokio::test]
async fn tts_urls_must_be_signed_and_fresh() {
    let mocks = Mocks::start().await;
    mount_summary_and_speech(&mocks).await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;

    let unsigned = app.call(Method::GET, "/api/webhooks/twilio/tts?t=Free%20speech", None, None).await;
    unsigned.assert_error(StatusCode::FORBIDDEN);
    let expired = app.state.speech.signed_url("Hello", chrono::Utc::now().timestamp() - 5);
    app.call(Method::GET, expired.strip_prefix(BASE_URL).unwrap(), None, None)
        .await
        .assert_error(StatusCode::FORBIDDEN);
    let forged = app.state.speech.signed_url("Hello", chrono::Utc::now().timestamp() + 60).replace("Hello", "Goodbye");
    app.call(Method::GET, forged.strip_prefix(BASE_URL).unwrap(), None, None).await.assert_error(StatusCode::FORBIDDEN);

    // A valid URL is synthesized once and then served from the cache.
    let valid = app.state.speech.signed_url("Hello there", chrono::Utc::now().timestamp() + 60);
    for _ in 0..3 {
        let audio = app.call(Method::GET, valid.strip_prefix(BASE_URL).unwrap(), None, None).await;
        assert_eq!(audio.text.as_bytes(), FAKE_MP3);
    }
    let syntheses =
        mocks.openai.received_requests().await.unwrap().iter().filter(|r| r.url.path() == "/audio/speech").count();
    assert_eq!(syntheses, 1);
}

#[tokio::test]
async fn a_failed_synthesis_answers_an_error_quickly() {
    let mocks = Mocks::start().await;
    Mock::given(method("POST"))
        .and(path("/audio/speech"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&mocks.openai)
        .await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    let url = app.state.speech.signed_url("Hello there", chrono::Utc::now().timestamp() + 60);
    let started = std::time::Instant::now();
    let response = app.call(Method::GET, url.strip_prefix(BASE_URL).unwrap(), None, None).await;
    response.assert_error(StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn test_email_needs_sendgrid_and_reports_its_failures() {
    let mocks = Mocks::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(body_string_contains("ops@deskringer.test"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&mocks.sendgrid)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&mocks.sendgrid)
        .await;

    let without = TestApp::spawn_with(mocks.config(false, false, &[])).await;
    let token = without.admin_token().await;
    let refused = without.post("/api/admin/test-email", &token, json!({"email": "ops@deskringer.test"})).await;
    assert!(refused.assert_error(StatusCode::BAD_REQUEST).contains("not configured"));

    let with = TestApp::spawn_with(mocks.config(false, true, &[])).await;
    let token = with.admin_token().await;
    let sent = with.post("/api/admin/test-email", &token, json!({"email": "ops@deskringer.test"})).await;
    assert_eq!(sent.assert_ok(StatusCode::OK)["success"], true);
    let failed = with.post("/api/admin/test-email", &token, json!({"email": "other@deskringer.test"})).await;
    failed.assert_error(StatusCode::BAD_GATEWAY);
    with.post("/api/admin/test-email", &token, json!({"email": "nope"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_new_business_gets_a_welcome_email_with_its_login_unless_told_not_to() {
    let mocks = Mocks::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&mocks.sendgrid)
        .await;
    let app = TestApp::spawn_with(mocks.config(false, true, &[])).await;
    let token = app.admin_token().await;

    let created = app
        .post("/api/customers/", &token, json!({"business_name": "Bella <Hair>", "email": "owner@bella.test"}))
        .await;
    let password = created.assert_ok(StatusCode::CREATED)["temporary_password"].as_str().unwrap().to_owned();
    app.post(
        "/api/customers/",
        &token,
        json!({"business_name": "Quiet", "email": "quiet@x.test", "send_welcome_email": false}),
    )
    .await
    .assert_ok(StatusCode::CREATED);
    app.post(
        "/api/customers/",
        &token,
        json!({"business_name": "Bad", "email": "bad@x.test", "send_welcome_email": "yes"}),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY);

    // The email is a durable job: nothing is sent until the worker runs it, once.
    assert_eq!(app.queued_jobs().await, ["welcome_owner"]);
    app.run_jobs().await;
    app.run_jobs().await;
    let received = mocks.sendgrid.received_requests().await.unwrap();
    assert_eq!(received.len(), 1, "only the business that asked for it");
    let email: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(email["personalizations"][0]["to"][0]["email"], "owner@bella.test");
    assert!(email["content"][0]["value"].as_str().unwrap().contains(&password));
    assert!(email["content"][1]["value"].as_str().unwrap().contains("Bella &lt;Hair&gt;"));
}

#[tokio::test]
async fn a_failing_summary_model_falls_back_to_the_heuristic() {
    let mocks = Mocks::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .and(body_string_contains("json_object"))
        .respond_with(chat_reply("this is not JSON"))
        .with_priority(1)
        .mount(&mocks.openai)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(chat_reply("Sure."))
        .mount(&mocks.openai)
        .await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    let id = business(&app, "Bella Hair", None).await;
    sqlx::query("UPDATE customers SET notification_phone = NULL WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    voice(&app, "CA1500").await;
    say(&app, "CA1500", "I want to complain about my refund").await;
    end_call(&app, "CA1500", "61").await.assert_ok(StatusCode::OK);

    app.run_jobs().await;

    let (summary, intent): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT summary, intent FROM calls WHERE twilio_call_sid = 'CA1500'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(summary.as_deref(), Some("Caller said: \"I want to complain about my refund\""));
    assert_eq!(intent.as_deref(), Some("complaint"));
    // Email is logged (no SendGrid key) and recorded; no SMS without a notification phone.
    assert_eq!(app.queued_jobs().await, Vec::<String>::new());
    let channels: Vec<String> =
        sqlx::query_scalar("SELECT channel FROM call_notifications").fetch_all(&app.db).await.unwrap();
    assert_eq!(channels, ["email"]);
}

#[tokio::test]
async fn a_retried_gather_is_answered_once() {
    // Arrange: the model answers one turn, and only one.
    let mocks = Mocks::start().await;
    mount_summary_and_speech(&mocks).await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(InTurn::new([chat_reply("We're open until five today.")]))
        .expect(1)
        .mount(&mocks.openai)
        .await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    business(&app, "Bella Hair", None).await;
    voice(&app, "CA300").await;
    let turn = [("CallSid", "CA300"), ("SpeechResult", "Are you open today?"), ("Confidence", "0.9")];
    let retry_of = |token: &'static str| [("I-Twilio-Idempotency-Token", token)];

    // Act: Twilio sends the turn, then retries it with the same idempotency token.
    let first = app.twilio_with_headers("/api/webhooks/twilio/gather", &turn, &retry_of("idem-1")).await;
    let retried = app.twilio_with_headers("/api/webhooks/twilio/gather", &turn, &retry_of("idem-1")).await;

    // Assert: the same TwiML, one caller line, one reply, one model call (mock `expect(1)`).
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(retried.text, first.text);
    assert_eq!(spoken_text(&Twiml::from(&retried).plays()[0]), "We're open until five today.");
    let expected = [
        ("ai", "Thank you for calling Bella Hair. How can I help you today?"),
        ("caller", "Are you open today?"),
        ("ai", "We're open until five today."),
    ];
    assert_eq!(lines(&app, "CA300").await, pairs(&expected));

    // The call ends: nothing is kept for its turns.
    end_call(&app, "CA300", "30").await.assert_ok(StatusCode::OK);
    assert_eq!(app.count("gather_replies").await, 0);
}

#[tokio::test]
async fn a_gather_replayed_after_the_call_ended_is_hung_up_on_and_asks_and_stores_nothing() {
    // Arrange: a call with one turn (the model answers once, and only once), then ended.
    let mocks = Mocks::start().await;
    mount_summary_and_speech(&mocks).await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(chat_reply("We're open until five today."))
        .expect(1)
        .mount(&mocks.openai)
        .await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    business(&app, "Bella Hair", Some(FORWARD)).await;
    voice(&app, "CA310").await;
    let turn = [("CallSid", "CA310"), ("SpeechResult", "Are you open today?"), ("Confidence", "0.9")];
    let token = |token: &'static str| [("I-Twilio-Idempotency-Token", token)];
    let first = app.twilio_with_headers("/api/webhooks/twilio/gather", &turn, &token("idem-1")).await;
    assert_eq!(Twiml::from(&first).verbs()[0], "Gather");
    end_call(&app, "CA310", "30").await.assert_ok(StatusCode::OK);
    let lines_before = app.count("call_logs").await;
    let asked_before = mocks.openai.received_requests().await.unwrap().len();

    // Act: the same signed turn replayed with fresh idempotency tokens and without one,
    // plus a transfer's end and an empty turn.
    let mut answers = Vec::new();
    for fresh in ["idem-2", "idem-3"] {
        answers.push(app.twilio_with_headers("/api/webhooks/twilio/gather", &turn, &token(fresh)).await);
    }
    answers.push(app.twilio("/api/webhooks/twilio/gather", &turn).await);
    answers.push(app.twilio("/api/webhooks/twilio/gather", &[("CallSid", "CA310"), ("DialCallStatus", "busy")]).await);
    answers.push(app.twilio("/api/webhooks/twilio/gather", &[("CallSid", "CA310")]).await);

    // Assert: each answer is exactly a hang-up; no line stored, nothing asked of OpenAI (no
    // model turn, no speech; the chat mock's `expect(1)` is checked when it drops), and no
    // retry claim kept for the ended call.
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.text, HANG_UP);
    }
    assert_eq!(app.count("call_logs").await, lines_before);
    assert_eq!(mocks.openai.received_requests().await.unwrap().len(), asked_before);
    assert_eq!(app.count("gather_replies").await, 0);
    let transcript: String = sqlx::query_scalar("SELECT transcript FROM calls WHERE twilio_call_sid = 'CA310'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(transcript.lines().count(), 3, "{transcript}");
}

#[tokio::test]
async fn a_call_that_ends_while_the_model_answers_gets_no_line_after_its_transcript() {
    // Arrange: the model takes a moment to answer.
    let mocks = Mocks::start().await;
    mount_summary_and_speech(&mocks).await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(chat_reply("We open at nine.").set_delay(Duration::from_millis(600)))
        .expect(1)
        .mount(&mocks.openai)
        .await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    business(&app, "Bella Hair", None).await;
    voice(&app, "CA311").await;

    // Act: the caller hangs up while the model is still answering their turn.
    let turn = say_raw(&app, "CA311", "When do you open?");
    let hang_up = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        end_call(&app, "CA311", "20").await
    };
    let (answer, ended) = tokio::join!(turn, hang_up);

    // Assert: the call's transcript and its lines agree (the reply came after the end and
    // is not stored); the turn's answer is a hang-up; the model's cost is still counted.
    ended.assert_ok(StatusCode::OK);
    assert_eq!(answer.text, HANG_UP);
    let expected =
        [("ai", "Thank you for calling Bella Hair. How can I help you today?"), ("caller", "When do you open?")];
    assert_eq!(lines(&app, "CA311").await, pairs(&expected));
    let (transcript, cost): (String, f64) =
        sqlx::query_as("SELECT transcript, openai_cost FROM calls WHERE twilio_call_sid = 'CA311'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        transcript,
        "AI: Thank you for calling Bella Hair. How can I help you today?\nCaller: When do you open?"
    );
    assert!(cost > 0.0);
}

#[tokio::test]
async fn a_welcome_email_survives_a_sendgrid_outage_and_is_sent_once() {
    // Arrange: SendGrid fails once, then accepts.
    let mocks = Mocks::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(InTurn::new([ResponseTemplate::new(503), ResponseTemplate::new(202)]))
        .mount(&mocks.sendgrid)
        .await;
    let app = TestApp::spawn_with(mocks.config(false, true, &[])).await;
    let token = app.admin_token().await;
    app.post("/api/customers/", &token, json!({"business_name": "Bella", "email": "owner@bella.test"}))
        .await
        .assert_ok(StatusCode::CREATED);

    // Act: the worker runs while SendGrid is down, then again after the backoff.
    app.run_jobs().await;
    assert_eq!(app.queued_jobs().await, ["welcome_owner"], "kept for a retry");
    app.run_retries().await;

    // Assert: two attempts reached SendGrid, one email went out, and nothing is left to do.
    assert_eq!(mocks.sendgrid.received_requests().await.unwrap().len(), 2);
    assert!(app.queued_jobs().await.is_empty());
    let sent: bool =
        sqlx::query_scalar("SELECT welcome_email_sent_at IS NOT NULL FROM customers").fetch_one(&app.db).await.unwrap();
    assert!(sent);
}

#[tokio::test]
async fn a_retry_arriving_while_the_first_gather_works_waits_for_its_answer() {
    // Arrange: the model takes a moment, and answers only once.
    let mocks = Mocks::start().await;
    mount_summary_and_speech(&mocks).await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(chat_reply("We open at nine.").set_delay(Duration::from_millis(600)))
        .expect(1)
        .mount(&mocks.openai)
        .await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    business(&app, "Bella Hair", None).await;
    voice(&app, "CA301").await;
    let turn = [("CallSid", "CA301"), ("SpeechResult", "When do you open?"), ("Confidence", "0.9")];
    let token = [("I-Twilio-Idempotency-Token", "idem-concurrent")];

    // Act: the retry arrives while the first request still waits for the model.
    let first = app.twilio_with_headers("/api/webhooks/twilio/gather", &turn, &token);
    let retry = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        app.twilio_with_headers("/api/webhooks/twilio/gather", &turn, &token).await
    };
    let (first, retry) = tokio::join!(first, retry);

    // Assert: one answer, given twice; one model call (mock `expect(1)`), one line each.
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(retry.text, first.text);
    let expected = [
        ("ai", "Thank you for calling Bella Hair. How can I help you today?"),
        ("caller", "When do you open?"),
        ("ai", "We open at nine."),
    ];
    assert_eq!(lines(&app, "CA301").await, pairs(&expected));
}
