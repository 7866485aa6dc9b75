//! Languages: the `languages` setting, a standard-mode call that switches to Spanish when
//! the caller says "español", realtime instructions that follow the caller among the
//! business's languages, and the owner's summary in the main language.

use std::time::Duration;

use axum::http::StatusCode;
use deskringer::auth::Role;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{Mocks, TestApp, Twiml};

const NUMBER: &str = "+14155550111";
const CALLER: &str = "+14155550199";

fn chat_reply(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}
    }))
}

/// An active business answering `NUMBER` in `voice_mode`; returns its id and owner token.
async fn business(app: &TestApp, voice_mode: &str) -> (i64, String) {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO customers (business_name, email, deskringer_number, subscription_status, ai_instructions, \
         voice_mode, notification_email) \
         VALUES ('Bella Hair', 'owner@bella.test', $1, 'active', 'You are the receptionist for Bella Hair.', $2, \
                 'alerts@bella.test') RETURNING id",
    )
    .bind(NUMBER)
    .bind(voice_mode)
    .fetch_one(&app.db)
    .await
    .unwrap();
    (id, app.token(Role::Customer, id))
}

async fn call_language(app: &TestApp, sid: &str) -> Option<String> {
    sqlx::query_scalar("SELECT language FROM calls WHERE twilio_call_sid = $1")
        .bind(sid)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// The system prompts of the chat requests the model received (the summary's included).
async fn system_prompts(mocks: &Mocks) -> Vec<String> {
    mocks
        .openai
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|request| request.url.path() == "/chat/completions")
        .map(|request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            body["messages"][0]["content"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// `(language, voice, text)` of every `<Say>`, and the `language` of every `<Gather>`.
fn says_and_gathers(twiml: &Twiml) -> (Vec<(String, String, String)>, Vec<String>) {
    let says = twiml
        .all("Say")
        .into_iter()
        .map(|(attributes, text)| (attributes["language"].clone(), attributes["voice"].clone(), text))
        .collect();
    let gathers = twiml.all("Gather").into_iter().map(|(attributes, _)| attributes["language"].clone()).collect();
    (says, gathers)
}

fn say(language: &str, voice: &str, text: &str) -> (String, String, String) {
    (language.to_owned(), voice.to_owned(), text.to_owned())
}

#[tokio::test]
async fn languages_are_validated_naming_the_entry_and_nothing_is_saved_on_error() {
    let app = TestApp::spawn().await;
    let (id, token) = business(&app, "standard").await;
    let admin = app.admin_token().await;
    assert_eq!(app.get("/api/portal/me", &token).await.body["languages"], json!(["en-US"]), "the default");

    for (languages, field, reason) in [
        (json!([]), "languages", "give 1 to 5"),
        (json!(["en-US", "es-MX", "fr-FR", "de-DE", "it-IT", "pt-BR"]), "languages", "(6 were sent)"),
        (json!(["en-US", "es-MX", "tlh-KL"]), "languages[2]", "`tlh-KL` is not a supported language"),
        (json!(["es-MX", "es-MX"]), "languages[1]", "listed twice"),
        (json!(["es-MX", "en-US", "es-ES"]), "languages[2]", "same language as es-MX"),
    ] {
        let body = json!({"business_name": "Renamed", "languages": languages});
        let refused = app.put("/api/portal/settings", &token, body).await;
        refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        let details = &refused.body["details"];
        assert!(details[field].as_str().unwrap().contains(reason), "{languages}: {}", refused.text);
    }
    let refused = app.put("/api/portal/settings", &token, json!({"languages": "es-MX"})).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body["error"].as_str().unwrap().contains("languages"), "{}", refused.text);
    let me = app.get("/api/portal/me", &token).await;
    assert_eq!((&me.body["business_name"], &me.body["languages"]), (&json!("Bella Hair"), &json!(["en-US"])));

    // Settable wherever the receptionist's settings are.
    let saved = app.put("/api/portal/settings", &token, json!({"languages": ["es-MX", "en-US"]})).await;
    assert_eq!(saved.assert_ok(StatusCode::OK)["customer"]["languages"], json!(["es-MX", "en-US"]));
    let saved =
        app.put(&format!("/api/customers/{id}/settings"), &admin, json!({"languages": ["en-US", "fr-CA"]})).await;
    assert_eq!(saved.assert_ok(StatusCode::OK)["customer"]["languages"], json!(["en-US", "fr-CA"]));
    let refused = app.put(&format!("/api/customers/{id}"), &admin, json!({"languages": ["en-US", "xx"]})).await;
    assert!(refused.body["details"]["languages[1]"].is_string(), "{}", refused.text);
    let created = app
        .post(
            "/api/customers/",
            &admin,
            json!({"business_name": "Casa", "email": "casa@owner.test", "languages": ["es-US", "en-US"],
                   "send_welcome_email": false}),
        )
        .await;
    assert_eq!(created.assert_ok(StatusCode::CREATED)["customer"]["languages"], json!(["es-US", "en-US"]));
}

#[tokio::test]
async fn a_caller_who_says_espanol_is_answered_in_spanish_for_the_rest_of_a_standard_call() {
    // Arrange: speech synthesis is down, so every line is a <Say> whose language shows; the
    // model answers in Spanish once told to.
    let mocks = Mocks::start().await;
    Mock::given(method("POST"))
        .and(path("/audio/speech"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&mocks.openai)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .and(body_string_contains("A qué hora"))
        .respond_with(chat_reply("Abrimos a las nueve de la mañana."))
        .mount(&mocks.openai)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(chat_reply("¡Claro! ¿En qué puedo ayudarle?"))
        .mount(&mocks.openai)
        .await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    let (_, token) = business(&app, "standard").await;
    app.put("/api/portal/settings", &token, json!({"languages": ["en-US", "es-MX"]})).await.assert_ok(StatusCode::OK);

    // Act 1: the call arrives.
    let greeting = Twiml::from(
        &app.twilio("/api/webhooks/twilio/voice", &[("CallSid", "CA_es"), ("From", CALLER), ("To", NUMBER)]).await,
    );

    // Assert: greeting in English, then the offer in Spanish, in Spanish's voice; listening for English.
    let (says, gathers) = says_and_gathers(&greeting);
    assert_eq!(gathers, ["en-US", "en-US"]);
    assert_eq!(
        says[..2],
        [
            say("en-US", "Polly.Joanna", "Thank you for calling Bella Hair. How can I help you today?"),
            say("es-MX", "Polly.Mia", "Para español, diga español."),
        ]
    );
    assert_eq!(call_language(&app, "CA_es").await.as_deref(), Some("en-US"));

    // Act 2: the caller chooses Spanish.
    let chosen = app
        .twilio(
            "/api/webhooks/twilio/gather",
            &[("CallSid", "CA_es"), ("SpeechResult", "Español."), ("Confidence", "0.9")],
        )
        .await;
    let chosen = Twiml::from(&chosen);

    // Assert: the model was told to reply in Spanish; its reply is said in Spanish and the
    // recogniser listens for Spanish; the standing lines are Spanish too.
    let prompts = system_prompts(&mocks).await;
    assert_eq!(prompts.len(), 1);
    assert!(
        prompts[0].contains("The caller chose Spanish (Mexico): reply only in Spanish (Mexico) (es-MX)"),
        "{}",
        prompts[0]
    );
    let (says, gathers) = says_and_gathers(&chosen);
    assert_eq!(gathers, ["es-MX", "es-MX"]);
    assert_eq!(
        says,
        [
            say("es-MX", "Polly.Mia", "¡Claro! ¿En qué puedo ayudarle?"),
            say("es-MX", "Polly.Mia", "¿Sigue ahí? ¿En qué puedo ayudarle?"),
            say("es-MX", "Polly.Mia", "Gracias por llamar. ¡Adiós!"),
        ]
    );
    assert_eq!(call_language(&app, "CA_es").await.as_deref(), Some("es-MX"));

    // Act 3: the next turn keeps Spanish (the choice is stored on the call).
    let next = app
        .twilio(
            "/api/webhooks/twilio/gather",
            &[("CallSid", "CA_es"), ("SpeechResult", "¿A qué hora abren mañana?"), ("Confidence", "0.9")],
        )
        .await;
    let (says, gathers) = says_and_gathers(&Twiml::from(&next));
    assert_eq!(gathers, ["es-MX", "es-MX"]);
    assert_eq!(says[0], say("es-MX", "Polly.Mia", "Abrimos a las nueve de la mañana."));
    let prompts = system_prompts(&mocks).await;
    assert!(prompts[1].contains("reply only in Spanish (Mexico) (es-MX)"), "{}", prompts[1]);

    // Silence now gets the Spanish re-prompt, with no model call.
    let silent = app.twilio("/api/webhooks/twilio/gather", &[("CallSid", "CA_es"), ("SpeechResult", "")]).await;
    let (says, gathers) = says_and_gathers(&Twiml::from(&silent));
    assert_eq!(says[0], say("es-MX", "Polly.Mia", "Perdón, no le entendí. ¿Puede repetirlo?"));
    assert_eq!(gathers[0], "es-MX");
    assert_eq!(system_prompts(&mocks).await.len(), 2);

    // Act 4: the call ends and is summarised for the owner, in English, naming Spanish.
    app.twilio(
        "/api/webhooks/twilio/status",
        &[("CallSid", "CA_es"), ("CallStatus", "completed"), ("CallDuration", "40")],
    )
    .await;
    app.run_jobs().await;
    let prompts = system_prompts(&mocks).await;
    let summary_prompt =
        prompts.iter().find(|p| p.starts_with("You summarise phone calls")).expect("a summary request");
    assert!(
        summary_prompt
            .contains("Write the summary in English. The caller spoke Spanish (Mexico): say so in the summary."),
        "{summary_prompt}"
    );
}

#[tokio::test]
async fn a_business_with_one_language_greets_without_offers_and_keeps_its_language() {
    let mocks = Mocks::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(chat_reply("Bien sûr, je vous écoute."))
        .mount(&mocks.openai)
        .await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    let (_, token) = business(&app, "standard").await;
    app.put("/api/portal/settings", &token, json!({"languages": ["fr-CA"]})).await.assert_ok(StatusCode::OK);

    // No TTS mock: synthesis fails and lines are said.
    let greeting = Twiml::from(
        &app.twilio("/api/webhooks/twilio/voice", &[("CallSid", "CA_fr"), ("From", CALLER), ("To", NUMBER)]).await,
    );
    let (says, gathers) = says_and_gathers(&greeting);
    assert_eq!(gathers, ["fr-CA", "fr-CA"]);
    assert_eq!(says.len(), 3, "greeting, second chance, goodbye: no offer");
    assert_eq!(says[1], say("fr-CA", "Polly.Chantal", "Êtes-vous toujours là ? Comment puis-je vous aider ?"));

    // "English" is not one of its languages: no switch; the model is told to keep to French.
    let reply = app
        .twilio(
            "/api/webhooks/twilio/gather",
            &[("CallSid", "CA_fr"), ("SpeechResult", "English"), ("Confidence", "0.9")],
        )
        .await;
    let (_, gathers) = says_and_gathers(&Twiml::from(&reply));
    assert_eq!(gathers, ["fr-CA", "fr-CA"]);
    assert_eq!(call_language(&app, "CA_fr").await.as_deref(), Some("fr-CA"));
    let prompts = system_prompts(&mocks).await;
    assert!(prompts[0].contains("Reply in French (Canada) (fr-CA), whatever language"), "{}", prompts[0]);
}

#[tokio::test]
async fn realtime_instructions_follow_the_caller_among_the_business_languages_and_transcription_is_not_pinned() {
    // Arrange: a stand-in Realtime API that hands over the first event of its first session.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/v1/realtime", listener.local_addr().unwrap());
    let first_event = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        loop {
            if let Message::Text(text) = ws.next().await.unwrap().unwrap() {
                return serde_json::from_str::<Value>(&text).unwrap();
            }
        }
    });
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[("OPENAI_REALTIME_URL", url.as_str())])).await;
    let (_, token) = business(&app, "realtime").await;
    app.put("/api/portal/settings", &token, json!({"languages": ["es-MX", "en-US"]})).await.assert_ok(StatusCode::OK);

    // Act: a call arrives; the model's session is opened and configured.
    let twiml = Twiml::from(
        &app.twilio("/api/webhooks/twilio/voice", &[("CallSid", "CA_rt"), ("From", CALLER), ("To", NUMBER)]).await,
    );
    let update = tokio::time::timeout(Duration::from_secs(5), first_event).await.expect("no session opened").unwrap();

    // Assert
    assert_eq!(twiml.verbs(), ["Connect"]);
    assert_eq!(update["type"], "session.update");
    let instructions = update["session"]["instructions"].as_str().unwrap();
    assert!(instructions.contains("This business serves callers in: Spanish (Mexico), English."), "{instructions}");
    assert!(instructions.contains("Greet in Spanish (Mexico) (the main language)"), "{instructions}");
    assert!(
        instructions.contains("Answer in the language the caller speaks when it is one of these"),
        "{instructions}"
    );
    assert!(
        instructions.contains("apologise briefly that you can only help in Spanish (Mexico) or English"),
        "{instructions}"
    );
    let transcription = &update["session"]["audio"]["input"]["transcription"];
    assert!(transcription["model"].is_string());
    assert!(transcription.get("language").is_none(), "transcription is not pinned: {transcription}");
    // The caller's language is the model's to follow: not recorded as the main one.
    assert_eq!(call_language(&app, "CA_rt").await, None);
}
