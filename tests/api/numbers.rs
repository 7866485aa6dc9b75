//! DeskRinger numbers at Twilio (a wiremock Twilio): buying with the exact form Twilio
//! expects, the no-double-buy retry, attaching, releasing, retries and errors, the audit of
//! every kind of mis-wiring and the sync that fixes it, and the release of a lapsed
//! business's number with its warning email.

use axum::http::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{Mocks, TestApp, Twiml};

/// Twilio's REST paths of the test account.
pub const ACCOUNT: &str = "/2010-04-01/Accounts/AC123";
pub const VOICE_URL: &str = "https://deskringer.test/api/webhooks/twilio/voice";
pub const STATUS_URL: &str = "https://deskringer.test/api/webhooks/twilio/status";
pub const SMS_URL: &str = "https://deskringer.test/api/webhooks/twilio/sms";

/// An app whose Twilio (and SendGrid) are local mocks.
pub async fn app_with_twilio(extra: &[(&str, &str)]) -> (TestApp, Mocks) {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(false, true, extra)).await;
    (app, mocks)
}

/// A number on the account as Twilio describes it (its texts reach this server).
pub fn incoming(sid: &str, number: &str, voice_url: &str, voice_method: &str, status_callback: &str) -> Value {
    json!({"sid": sid, "account_sid": "AC123", "phone_number": number, "friendly_name": number,
           "voice_url": voice_url, "voice_method": voice_method, "status_callback": status_callback,
           "status_callback_method": "POST", "sms_url": SMS_URL, "sms_method": "POST",
           "capabilities": {"voice": true, "sms": true}})
}

/// A number wired right.
pub fn wired(sid: &str, number: &str) -> Value {
    incoming(sid, number, VOICE_URL, "POST", STATUS_URL)
}

/// Twilio's answer to a number search.
pub fn offers(numbers: &[&str]) -> Value {
    let offered: Vec<Value> = numbers
        .iter()
        .map(|n| json!({"phone_number": n, "friendly_name": n, "locality": "Chicago", "region": "IL"}))
        .collect();
    json!({"available_phone_numbers": offered, "uri": "/x"})
}

/// A page of the account's numbers.
pub fn account_page(numbers: Vec<Value>, next: Option<&str>) -> Value {
    json!({"incoming_phone_numbers": numbers, "next_page_uri": next, "page": 0, "page_size": 1000})
}

/// The form fields of a request a mock received.
pub fn form(request: &wiremock::Request) -> Vec<(String, String)> {
    form_urlencoded::parse(&request.body).into_owned().collect()
}

/// The requests a mock received with `http_method` on `route`.
pub async fn received(server: &wiremock::MockServer, http_method: &str, route: &str) -> Vec<wiremock::Request> {
    let all = server.received_requests().await.unwrap();
    all.into_iter().filter(|r| r.method.as_str() == http_method && r.url.path() == route).collect()
}

/// Twilio offers `number` (searched with `area_code`, when given) and sells it as `sid`,
/// wired to this server.
pub async fn stock_and_sell(twilio: &wiremock::MockServer, area_code: Option<&str>, number: &str, sid: &str) {
    let mut search = Mock::given(method("GET")).and(path(format!("{ACCOUNT}/AvailablePhoneNumbers/US/Local.json")));
    if let Some(area_code) = area_code {
        search = search.and(query_param("AreaCode", area_code));
    }
    search.respond_with(ResponseTemplate::new(200).set_body_json(offers(&[number]))).mount(twilio).await;
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers.json")))
        .respond_with(ResponseTemplate::new(201).set_body_json(wired(sid, number)))
        .mount(twilio)
        .await;
}

async fn number_of(app: &TestApp, id: i64) -> (Option<String>, Option<String>) {
    sqlx::query_as("SELECT deskringer_number, twilio_number_sid FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn give_number(app: &TestApp, id: i64, number: &str, sid: Option<&str>) {
    sqlx::query("UPDATE customers SET deskringer_number = $2, twilio_number_sid = $3 WHERE id = $1")
        .bind(id)
        .bind(number)
        .bind(sid)
        .execute(&app.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn buying_searches_then_buys_a_wired_number_and_calls_to_it_reach_the_business() {
    let (app, mocks) = app_with_twilio(&[]).await;
    stock_and_sell(&mocks.twilio, Some("312"), "+13125550100", "PN100").await;
    let admin = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;

    // The dashboard sends every field, empty ones as "".
    let body = json!({"area_code": "312", "contains": "", "country": ""});
    let response = app.post(&format!("/api/customers/{id}/phone-number"), &admin, body).await;

    let customer = response.assert_ok(StatusCode::CREATED);
    assert_eq!(customer["deskringer_number"], "+13125550100");
    assert_eq!(number_of(&app, id).await, (Some("+13125550100".into()), Some("PN100".into())));
    assert_eq!(app.count("number_purchases").await, 0);
    let bought = received(&mocks.twilio, "POST", &format!("{ACCOUNT}/IncomingPhoneNumbers.json")).await;
    assert_eq!(bought.len(), 1);
    let fields = form(&bought[0]);
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(field("PhoneNumber"), Some("+13125550100"));
    assert_eq!(field("VoiceUrl"), Some(VOICE_URL));
    assert_eq!(field("VoiceMethod"), Some("POST"));
    assert_eq!(field("StatusCallback"), Some(STATUS_URL));
    assert_eq!(field("StatusCallbackMethod"), Some("POST"));
    assert_eq!(field("SmsUrl"), Some(SMS_URL));
    assert_eq!(field("SmsMethod"), Some("POST"));
    assert_eq!(field("FriendlyName"), Some(format!("DeskRinger: Bella Hair (#{id})").as_str()));
    let searched = received(&mocks.twilio, "GET", &format!("{ACCOUNT}/AvailablePhoneNumbers/US/Local.json")).await;
    let query: Vec<(String, String)> = searched[0].url.query_pairs().into_owned().collect();
    assert_eq!(query, [("VoiceEnabled".to_owned(), "true".to_owned()), ("AreaCode".to_owned(), "312".to_owned())]);
    let auth = bought[0].headers.get("authorization").unwrap().to_str().unwrap();
    assert!(auth.starts_with("Basic "), "{auth}");

    // A second purchase for the same business is refused, and nothing more is bought.
    let again = app.post(&format!("/api/customers/{id}/phone-number"), &admin, json!({})).await;
    assert!(again.assert_error(StatusCode::CONFLICT).contains("+13125550100"));
    assert_eq!(received(&mocks.twilio, "POST", &format!("{ACCOUNT}/IncomingPhoneNumbers.json")).await.len(), 1);

    // A caller dialling the new number reaches this business's receptionist.
    let answer = app
        .twilio("/api/webhooks/twilio/voice", &[("CallSid", "CA1"), ("To", "+13125550100"), ("From", "+15550001")])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(Twiml::from(&answer).says().iter().any(|said| said.contains("Bella Hair")), "{}", answer.text);
}

#[tokio::test]
async fn a_body_can_be_left_out_and_the_country_defaults_to_the_us() {
    let (app, mocks) = app_with_twilio(&[]).await;
    stock_and_sell(&mocks.twilio, None, "+12065550100", "PN1").await;
    let admin = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "trial").await;

    let response =
        app.call(axum::http::Method::POST, &format!("/api/customers/{id}/phone-number"), Some(&admin), None).await;

    assert_eq!(response.assert_ok(StatusCode::CREATED)["deskringer_number"], "+12065550100");
    let searched = received(&mocks.twilio, "GET", &format!("{ACCOUNT}/AvailablePhoneNumbers/US/Local.json")).await;
    let query: Vec<(String, String)> = searched[0].url.query_pairs().into_owned().collect();
    assert_eq!(query, [("VoiceEnabled".to_owned(), "true".to_owned())]);
}

#[tokio::test]
async fn a_fruitless_or_invalid_search_says_why_and_buys_nothing() {
    let (app, mocks) = app_with_twilio(&[]).await;
    Mock::given(method("GET"))
        .and(path(format!("{ACCOUNT}/AvailablePhoneNumbers/CA/Local.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(offers(&[])))
        .mount(&mocks.twilio)
        .await;
    let admin = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let uri = format!("/api/customers/{id}/phone-number");

    let none = app.post(&uri, &admin, json!({"area_code": "604", "contains": "77", "country": "ca"})).await;
    assert_eq!(
        none.assert_error(StatusCode::NOT_FOUND),
        "no CA numbers are available in area code 604 containing 77; try another search"
    );
    for (body, field) in [
        (json!({"area_code": "60"}), "area_code"),
        (json!({"contains": "5"}), "contains"),
        (json!({"contains": "55-5"}), "contains"),
        (json!({"country": "USA"}), "country"),
        (json!({"area_code": 415}), "area_code"),
    ] {
        let response = app.post(&uri, &admin, body.clone()).await;
        response.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(response.body["details"].get(field).is_some(), "{body}: {}", response.text);
    }
    let missing = app.post("/api/customers/999999/phone-number", &admin, json!({})).await;
    missing.assert_error(StatusCode::NOT_FOUND);

    assert_eq!(received(&mocks.twilio, "POST", &format!("{ACCOUNT}/IncomingPhoneNumbers.json")).await.len(), 0);
    assert_eq!(number_of(&app, id).await, (None, None));
    assert_eq!(app.count("number_purchases").await, 0);
}

/// A business without a number, an admin token, its phone-number route, and Twilio offering
/// +13125550100.
struct Purchase {
    app: TestApp,
    mocks: Mocks,
    admin: String,
    id: i64,
    uri: String,
}

async fn purchase() -> Purchase {
    let (app, mocks) = app_with_twilio(&[]).await;
    let admin = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    Mock::given(method("GET"))
        .and(path(format!("{ACCOUNT}/AvailablePhoneNumbers/US/Local.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(offers(&["+13125550100"])))
        .mount(&mocks.twilio)
        .await;
    Purchase { app, mocks, admin, id, uri: format!("/api/customers/{id}/phone-number") }
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_takes_the_number_bought_instead_of_buying_another() {
    let Purchase { app, mocks, admin, id, uri } = purchase().await;
    // Twilio bought the number, but every answer is lost: the purchase and the check after it
    // both fail (after their retries).
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers.json")))
        .respond_with(ResponseTemplate::new(503))
        .mount(&mocks.twilio)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers.json")))
        .respond_with(ResponseTemplate::new(503))
        .mount(&mocks.twilio)
        .await;

    let first = app.post(&uri, &admin, json!({})).await;

    assert!(first.assert_error(StatusCode::BAD_GATEWAY).starts_with("Twilio"), "{}", first.text);
    assert_eq!(received(&mocks.twilio, "POST", &format!("{ACCOUNT}/IncomingPhoneNumbers.json")).await.len(), 3);
    assert_eq!(number_of(&app, id).await, (None, None));
    let pending: String =
        sqlx::query_scalar("SELECT phone_number FROM number_purchases").fetch_one(&app.db).await.unwrap();
    assert_eq!(pending, "+13125550100");

    // Twilio answers again; the account holds the number bought the first time.
    mocks.twilio.reset().await;
    Mock::given(method("GET"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers.json")))
        .and(query_param("PhoneNumber", "+13125550100"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(account_page(vec![wired("PN100", "+13125550100")], None)),
        )
        .mount(&mocks.twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers.json")))
        .respond_with(ResponseTemplate::new(201).set_body_json(wired("PN999", "+13125550199")))
        .expect(0)
        .mount(&mocks.twilio)
        .await;

    let retry = app.post(&uri, &admin, json!({})).await;

    assert_eq!(retry.assert_ok(StatusCode::CREATED)["deskringer_number"], "+13125550100");
    assert_eq!(number_of(&app, id).await, (Some("+13125550100".into()), Some("PN100".into())));
    assert_eq!(app.count("number_purchases").await, 0);
    let searched = received(&mocks.twilio, "GET", &format!("{ACCOUNT}/AvailablePhoneNumbers/US/Local.json")).await;
    assert!(searched.is_empty(), "the retry must not search for (and buy) another number");
}

#[tokio::test]
async fn a_second_request_while_a_purchase_runs_is_refused_and_buys_nothing() {
    let Purchase { app, mocks, admin, id, uri } = purchase().await;
    // Twilio takes its time over the purchase; the number is not on the account meanwhile.
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers.json")))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(wired("PN100", "+13125550100"))
                .set_delay(std::time::Duration::from_millis(1500)),
        )
        .mount(&mocks.twilio)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_page(vec![], None)))
        .mount(&mocks.twilio)
        .await;

    // A double click: the second request arrives while the first waits for Twilio.
    let first = app.post(&uri, &admin, json!({}));
    let second = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        app.post(&uri, &admin, json!({})).await
    };
    let (first, second) = tokio::join!(first, second);

    assert_eq!(first.assert_ok(StatusCode::CREATED)["deskringer_number"], "+13125550100");
    assert!(second.assert_error(StatusCode::CONFLICT).contains("being bought"), "{}", second.text);
    assert_eq!(received(&mocks.twilio, "POST", &format!("{ACCOUNT}/IncomingPhoneNumbers.json")).await.len(), 1);
    assert_eq!(number_of(&app, id).await, (Some("+13125550100".into()), Some("PN100".into())));
}

#[tokio::test]
async fn a_purchase_left_by_a_vanished_request_is_settled_by_asking_twilio() {
    let Purchase { app, mocks, admin, id, uri } = purchase().await;
    // The account holds the number, bought by a request whose server then died.
    Mock::given(method("GET"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers.json")))
        .and(query_param("PhoneNumber", "+13125550100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_page(
            vec![incoming("PN100", "+13125550100", "https://old.example/voice", "POST", "")],
            None,
        )))
        .mount(&mocks.twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers/PN100.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(wired("PN100", "+13125550100")))
        .expect(1)
        .mount(&mocks.twilio)
        .await;
    let record = |minutes_ago: i32| {
        sqlx::query(
            "INSERT INTO number_purchases (customer_id, phone_number, started_at) \
             VALUES ($1, '+13125550100', now() - make_interval(mins => $2))",
        )
        .bind(id)
        .bind(minutes_ago)
        .execute(&app.db)
    };

    // Just started, no end recorded: that request may still be running.
    record(0).await.unwrap();
    app.post(&uri, &admin, json!({})).await.assert_error(StatusCode::CONFLICT);
    sqlx::query("DELETE FROM number_purchases").execute(&app.db).await.unwrap();
    // Ten minutes old: no request runs that long; Twilio says it was bought, so it is taken
    // (and rewired to this server), not bought again.
    record(10).await.unwrap();
    let settled = app.post(&uri, &admin, json!({})).await;

    assert_eq!(settled.assert_ok(StatusCode::CREATED)["deskringer_number"], "+13125550100");
    assert_eq!(number_of(&app, id).await, (Some("+13125550100".into()), Some("PN100".into())));
    assert_eq!(app.count("number_purchases").await, 0);
    assert!(received(&mocks.twilio, "POST", &format!("{ACCOUNT}/IncomingPhoneNumbers.json")).await.is_empty());
}

#[tokio::test]
async fn twilio_is_retried_on_429_and_its_own_message_is_shown_on_failure() {
    let (app, mocks) = app_with_twilio(&[]).await;
    let admin = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let search = format!("{ACCOUNT}/AvailablePhoneNumbers/US/Local.json");
    Mock::given(method("GET"))
        .and(path(&search))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&mocks.twilio)
        .await;
    Mock::given(method("GET"))
        .and(path(&search))
        .respond_with(ResponseTemplate::new(200).set_body_json(offers(&["+13125550100"])))
        .mount(&mocks.twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers.json")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": 21422, "message": "Phone number is not available", "more_info": "https://www.twilio.com/docs/errors/21422", "status": 400
        })))
        .mount(&mocks.twilio)
        .await;
    // Asked afterwards whether the number was bought anyway: it was not.
    Mock::given(method("GET"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_page(vec![], None)))
        .mount(&mocks.twilio)
        .await;

    let response = app.post(&format!("/api/customers/{id}/phone-number"), &admin, json!({})).await;

    assert_eq!(response.assert_error(StatusCode::BAD_GATEWAY), "Twilio: Phone number is not available");
    assert_eq!(received(&mocks.twilio, "GET", &search).await.len(), 2, "the 429 is retried");
    // A 4xx is Twilio's answer, not a hiccup: not retried.
    assert_eq!(received(&mocks.twilio, "POST", &format!("{ACCOUNT}/IncomingPhoneNumbers.json")).await.len(), 1);
    assert_eq!(app.count("number_purchases").await, 0, "a purchase known not to have happened is forgotten");
    assert_eq!(number_of(&app, id).await, (None, None));
}

#[tokio::test]
async fn without_twilio_credentials_number_routes_answer_503() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let response = app.post(&format!("/api/customers/{id}/phone-number"), &admin, json!({})).await;
    assert!(response.assert_error(StatusCode::SERVICE_UNAVAILABLE).contains("TWILIO_ACCOUNT_SID"));
    app.get("/api/admin/phone-numbers", &admin).await.assert_error(StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn attaching_rewires_a_number_on_the_account_and_refuses_any_other() {
    let (app, mocks) = app_with_twilio(&[]).await;
    let admin = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let other = app.insert_customer("Joe's Diner", "joe@diner.test", "active").await;
    give_number(&app, other, "+14155550999", Some("PN999")).await;
    let list = format!("{ACCOUNT}/IncomingPhoneNumbers.json");
    let demo = incoming("PN2", "+14155550111", "https://demo.twilio.com/welcome/voice/", "GET", "");
    Mock::given(method("GET"))
        .and(path(&list))
        .and(query_param("PhoneNumber", "+14155550111"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_page(vec![demo], None)))
        .mount(&mocks.twilio)
        .await;
    Mock::given(method("GET"))
        .and(path(&list))
        .and(query_param("PhoneNumber", "+14155550122"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_page(vec![], None)))
        .mount(&mocks.twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers/PN2.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(wired("PN2", "+14155550111")))
        .mount(&mocks.twilio)
        .await;
    let uri = format!("/api/customers/{id}/phone-number");

    // Refused: a number not on the account, another business's number, a typo, nothing.
    let foreign = app.put(&uri, &admin, json!({"phone_number": "+14155550122"})).await;
    assert_eq!(
        foreign.assert_error(StatusCode::UNPROCESSABLE_ENTITY),
        "phone_number: +14155550122 is not a number on DeskRinger's Twilio account"
    );
    let taken = app.put(&uri, &admin, json!({"phone_number": "+14155550999"})).await;
    assert!(taken.assert_error(StatusCode::CONFLICT).contains("another business"));
    let typo = app.put(&uri, &admin, json!({"phone_number": "415-555"})).await;
    typo.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    let empty = app.put(&uri, &admin, json!({"phone_number": ""})).await;
    assert_eq!(empty.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "phone_number: is required");
    assert_eq!(number_of(&app, id).await, (None, None));

    let attached = app.put(&uri, &admin, json!({"phone_number": "+1 (415) 555-0111"})).await;

    assert_eq!(attached.assert_ok(StatusCode::OK)["deskringer_number"], "+14155550111");
    assert_eq!(number_of(&app, id).await, (Some("+14155550111".into()), Some("PN2".into())));
    let rewired = received(&mocks.twilio, "POST", &format!("{ACCOUNT}/IncomingPhoneNumbers/PN2.json")).await;
    assert_eq!(rewired.len(), 1);
    let fields = form(&rewired[0]);
    for expected in [
        ("VoiceUrl", VOICE_URL),
        ("VoiceMethod", "POST"),
        ("StatusCallback", STATUS_URL),
        ("StatusCallbackMethod", "POST"),
        ("SmsUrl", SMS_URL),
        ("SmsMethod", "POST"),
    ] {
        assert!(fields.contains(&(expected.0.to_owned(), expected.1.to_owned())), "{expected:?} in {fields:?}");
    }
    // Attaching the same number again changes nothing; another needs a release first.
    app.put(&uri, &admin, json!({"phone_number": "+14155550111"})).await.assert_ok(StatusCode::OK);
    let second = app.put(&uri, &admin, json!({"phone_number": "+14155550122"})).await;
    assert!(second.assert_error(StatusCode::CONFLICT).contains("already has the number +14155550111"));
    assert_eq!(number_of(&app, id).await, (Some("+14155550111".into()), Some("PN2".into())));
}

#[tokio::test]
async fn releasing_gives_the_number_back_to_twilio_and_clears_it() {
    let (app, mocks) = app_with_twilio(&[]).await;
    let admin = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    give_number(&app, id, "+13125550100", Some("PN100")).await;
    Mock::given(method("DELETE"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers/PN100.json")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&mocks.twilio)
        .await;
    let uri = format!("/api/customers/{id}/phone-number");

    let released = app.delete(&uri, &admin).await;

    assert_eq!(
        released.assert_ok(StatusCode::OK),
        &json!({"message": "+13125550100 was released", "phone_number": "+13125550100"})
    );
    assert_eq!(number_of(&app, id).await, (None, None));
    app.delete(&uri, &admin).await.assert_error(StatusCode::NOT_FOUND);

    // A number typed in by hand (no SID known) is found on the account by its number; one
    // Twilio no longer has is only cleared here.
    give_number(&app, id, "+13125550177", None).await;
    Mock::given(method("GET"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers.json")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(account_page(vec![wired("PN177", "+13125550177")], None)),
        )
        .mount(&mocks.twilio)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers/PN177.json")))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"code": 20404, "message": "not found", "status": 404})),
        )
        .expect(1)
        .mount(&mocks.twilio)
        .await;
    app.delete(&uri, &admin).await.assert_ok(StatusCode::OK);
    assert_eq!(number_of(&app, id).await, (None, None));
}

#[tokio::test]
async fn a_business_out_of_service_gets_no_number_bought_or_attached() {
    let (app, mocks) = app_with_twilio(&[]).await;
    // Twilio must be asked nothing at all.
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&mocks.twilio)
        .await;
    let admin = app.admin_token().await;

    for (status, trial_ends, why) in [
        ("cancelled", "-40 days", "its subscription is cancelled"),
        ("trial_expired", "-3 days", "its free trial has ended"),
        // Ended an hour ago; the daily job has not recorded it yet.
        ("trial", "-1 hour", "its free trial has ended"),
    ] {
        let id = app.insert_customer(status, &format!("{status}@x.test"), status).await;
        sqlx::query("UPDATE customers SET trial_ends_at = now() + $2::interval WHERE id = $1")
            .bind(id)
            .bind(trial_ends)
            .execute(&app.db)
            .await
            .unwrap();
        let uri = format!("/api/customers/{id}/phone-number");

        let bought = app.post(&uri, &admin, json!({"area_code": "312"})).await;
        let attached = app.put(&uri, &admin, json!({"phone_number": "+14155550111"})).await;

        for refused in [bought, attached] {
            let message = refused.assert_error(StatusCode::CONFLICT);
            assert!(message.starts_with("this business is not in service") && message.contains(why), "{message}");
        }
        assert_eq!(number_of(&app, id).await, (None, None));
    }
    assert_eq!(app.count("number_purchases").await, 0);
    mocks.twilio.verify().await;
}

#[tokio::test]
async fn at_most_three_numbers_are_bought_per_business_a_day() {
    let (app, mocks) = app_with_twilio(&[]).await;
    stock_and_sell(&mocks.twilio, None, "+13125550100", "PN100").await;
    Mock::given(method("DELETE"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers/PN100.json")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&mocks.twilio)
        .await;
    let admin = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let uri = format!("/api/customers/{id}/phone-number");
    let purchases =
        || async { received(&mocks.twilio, "POST", &format!("{ACCOUNT}/IncomingPhoneNumbers.json")).await.len() };
    let searches = || async {
        received(&mocks.twilio, "GET", &format!("{ACCOUNT}/AvailablePhoneNumbers/US/Local.json")).await.len()
    };

    // Bought and released three times...
    for _ in 0..3 {
        app.post(&uri, &admin, json!({})).await.assert_ok(StatusCode::CREATED);
        app.delete(&uri, &admin).await.assert_ok(StatusCode::OK);
    }
    // ...the fourth purchase waits until the first leaves the 24 hours, and Twilio is not asked.
    let limited = app.post(&uri, &admin, json!({})).await;

    let message = limited.assert_error(StatusCode::TOO_MANY_REQUESTS);
    assert!(message.starts_with("3 numbers were bought for this business in the last 24 hours"), "{message}");
    let retry_after: i64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((23 * 3600..=24 * 3600).contains(&retry_after), "{retry_after}");
    assert_eq!((purchases().await, searches().await), (3, 3));
    assert_eq!(number_of(&app, id).await, (None, None));
    assert_eq!(app.count("numbers_bought").await, 3);

    // Another business is not held back.
    let other = app.insert_customer("Joe's Diner", "joe@diner.test", "trial").await;
    app.post(&format!("/api/customers/{other}/phone-number"), &admin, json!({})).await.assert_ok(StatusCode::CREATED);
    // A day later the oldest purchase no longer counts.
    sqlx::query(
        "UPDATE numbers_bought SET bought_at = bought_at - interval '1 day' \
         WHERE id = (SELECT min(id) FROM numbers_bought WHERE customer_id = $1)",
    )
    .bind(id)
    .execute(&app.db)
    .await
    .unwrap();
    app.delete(&format!("/api/customers/{other}/phone-number"), &admin).await.assert_ok(StatusCode::OK);
    app.post(&uri, &admin, json!({})).await.assert_ok(StatusCode::CREATED);
    assert_eq!(purchases().await, 5);
}

#[tokio::test]
async fn an_admin_typing_another_number_forgets_the_old_sid() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    give_number(&app, id, "+13125550100", Some("PN100")).await;

    app.put(&format!("/api/customers/{id}"), &admin, json!({"business_name": "Bella Hair & Nails"}))
        .await
        .assert_ok(StatusCode::OK);
    assert_eq!(number_of(&app, id).await, (Some("+13125550100".into()), Some("PN100".into())));

    app.put(&format!("/api/customers/{id}"), &admin, json!({"deskringer_number": "+13125550111"}))
        .await
        .assert_ok(StatusCode::OK);
    assert_eq!(number_of(&app, id).await, (Some("+13125550111".into()), None));
}

#[tokio::test]
async fn the_audit_names_every_kind_of_miswiring_and_the_sync_fixes_the_businesses_numbers() {
    let (app, mocks) = app_with_twilio(&[]).await;
    let admin = app.admin_token().await;
    let right = app.insert_customer("Right", "right@b.test", "active").await;
    let elsewhere = app.insert_customer("Elsewhere", "elsewhere@b.test", "active").await;
    let by_get = app.insert_customer("By Get", "get@b.test", "active").await;
    let gone = app.insert_customer("Gone", "gone@b.test", "active").await;
    let no_texts = app.insert_customer("No Texts", "texts@b.test", "active").await;
    give_number(&app, right, "+13125550001", Some("PN1")).await;
    give_number(&app, elsewhere, "+13125550002", None).await;
    give_number(&app, by_get, "+13125550003", Some("PN3")).await;
    give_number(&app, gone, "+13125550004", Some("PN4")).await;
    give_number(&app, no_texts, "+13125550005", Some("PN5")).await;
    // Voice wired right, texts to Twilio's demo reply (a number bought before texts were wired).
    let mut texts_elsewhere = wired("PN5", "+13125550005");
    texts_elsewhere["sms_url"] = json!("https://demo.twilio.com/welcome/sms/reply/");
    texts_elsewhere["sms_method"] = json!("GET");
    let list = format!("{ACCOUNT}/IncomingPhoneNumbers.json");
    // Two pages: Twilio's next page is followed.
    let next = format!("{list}?PageSize=1000&Page=1&PageToken=PT1");
    Mock::given(method("GET"))
        .and(path(&list))
        .and(query_param("PageToken", "PT1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_page(
            vec![
                incoming("PN3", "+13125550003", VOICE_URL, "GET", ""),
                incoming("PN9", "+13125550009", "https://old.example/voice", "POST", ""),
                texts_elsewhere,
            ],
            None,
        )))
        .with_priority(1)
        .mount(&mocks.twilio)
        .await;
    Mock::given(method("GET"))
        .and(path(&list))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_page(
            vec![
                wired("PN1", "+13125550001"),
                incoming("PN2", "+13125550002", "https://demo.twilio.com/welcome/voice/", "POST", STATUS_URL),
            ],
            Some(&next),
        )))
        .mount(&mocks.twilio)
        .await;
    for sid in ["PN2", "PN3", "PN5"] {
        Mock::given(method("POST"))
            .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers/{sid}.json")))
            .respond_with(ResponseTemplate::new(200).set_body_json(wired(sid, "+1")))
            .expect(1)
            .mount(&mocks.twilio)
            .await;
    }

    let audit = app.get("/api/admin/phone-numbers", &admin).await.assert_ok(StatusCode::OK).clone();

    assert_eq!(audit["expected_voice_url"], VOICE_URL);
    assert_eq!(audit["expected_sms_url"], SMS_URL);
    let numbers = audit["numbers"].as_array().unwrap();
    assert_eq!(numbers.len(), 5);
    let find = |n: &str| numbers.iter().find(|x| x["phone_number"] == n).unwrap().clone();
    assert_eq!(find("+13125550001")["wired"], true);
    assert_eq!(find("+13125550001")["customer_id"], right);
    assert_eq!(find("+13125550001")["sms_url_ok"], true);
    let wrong_url = find("+13125550002");
    assert_eq!(
        (wrong_url["voice_url_ok"].clone(), wrong_url["status_callback_ok"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(
        wrong_url["problems"],
        json!([format!("voice URL is https://demo.twilio.com/welcome/voice/, not {VOICE_URL}")])
    );
    let wrong_method = find("+13125550003");
    assert_eq!(wrong_method["voice_method_ok"], false);
    assert_eq!(wrong_method["status_callback_ok"], false);
    assert_eq!(wrong_method["problems"].as_array().unwrap().len(), 2);
    let texts_wrong = find("+13125550005");
    assert_eq!(
        (texts_wrong["voice_url_ok"].clone(), texts_wrong["sms_url_ok"].clone(), texts_wrong["wired"].clone()),
        (json!(true), json!(false), json!(false))
    );
    assert_eq!(
        texts_wrong["problems"],
        json!([
            format!("SMS URL is https://demo.twilio.com/welcome/sms/reply/, not {SMS_URL}"),
            "SMS method is GET, not POST"
        ])
    );
    let unassigned = find("+13125550009");
    assert_eq!((unassigned["customer_id"].clone(), unassigned["wired"].clone()), (Value::Null, json!(false)));
    assert_eq!(
        audit["missing"],
        json!([{"customer_id": gone, "business_name": "Gone", "deskringer_number": "+13125550004"}])
    );

    let sync = app.post("/api/admin/phone-numbers/sync", &admin, json!({})).await.assert_ok(StatusCode::OK).clone();

    let rewired: Vec<&str> =
        sync["rewired"].as_array().unwrap().iter().map(|r| r["phone_number"].as_str().unwrap()).collect();
    assert_eq!(rewired, ["+13125550002", "+13125550003", "+13125550005"]);
    assert_eq!(sync["unchanged"], 1);
    assert_eq!(sync["failed"], json!([]));
    assert_eq!(sync["rewired"][0]["fixed"], wrong_url["problems"]);
    for sid in ["PN2", "PN3", "PN5"] {
        let posts = received(&mocks.twilio, "POST", &format!("{ACCOUNT}/IncomingPhoneNumbers/{sid}.json")).await;
        let fields = form(&posts[0]);
        assert!(fields.contains(&("VoiceUrl".into(), VOICE_URL.into())), "{fields:?}");
        assert!(fields.contains(&("StatusCallback".into(), STATUS_URL.into())), "{fields:?}");
        assert!(fields.contains(&("VoiceMethod".into(), "POST".into())), "{fields:?}");
        assert!(fields.contains(&("SmsUrl".into(), SMS_URL.into())), "{fields:?}");
        assert!(fields.contains(&("SmsMethod".into(), "POST".into())), "{fields:?}");
    }
    // The unassigned number is left alone, and the SID learnt for a hand-typed number is kept.
    assert!(received(&mocks.twilio, "POST", &format!("{ACCOUNT}/IncomingPhoneNumbers/PN9.json")).await.is_empty());
    assert_eq!(number_of(&app, elsewhere).await, (Some("+13125550002".into()), Some("PN2".into())));
}

async fn lapse(app: &TestApp, id: i64, status: &str, days_ago: i64, warned_days_ago: Option<i64>) {
    sqlx::query(
        "UPDATE customers SET subscription_status = $2, subscription_status_at = now() - make_interval(days => $3::int), \
         number_release_warned_at = now() - make_interval(days => $4::int) WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(days_ago as i32)
    .bind(warned_days_ago.map(|d| d as i32))
    .execute(&app.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_lapsed_business_is_warned_then_its_number_released_and_a_returning_one_keeps_it() {
    let (app, mocks) = app_with_twilio(&[]).await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&mocks.sendgrid)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers/PN1.json")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&mocks.twilio)
        .await;
    let cancelled = app.insert_customer("Cancelled", "owner@cancelled.test", "active").await;
    let returned = app.insert_customer("Returned", "owner@returned.test", "active").await;
    let recent = app.insert_customer("Recent", "owner@recent.test", "active").await;
    give_number(&app, cancelled, "+13125550001", Some("PN1")).await;
    give_number(&app, returned, "+13125550002", Some("PN2")).await;
    give_number(&app, recent, "+13125550003", Some("PN3")).await;
    lapse(&app, cancelled, "cancelled", 26, None).await;
    lapse(&app, recent, "trial_expired", 10, None).await;
    let context = app.state.job_context();

    // Day 26 of 30: the owner is warned (once), nothing is released yet.
    let report = deskringer::jobs::numbers::release_lapsed_numbers(&context).await.unwrap();
    assert_eq!((report.warned, report.released), (1, 0));
    app.run_jobs().await;
    let emails = mocks.sendgrid.received_requests().await.unwrap();
    assert_eq!(emails.len(), 1);
    let email: Value = serde_json::from_slice(&emails[0].body).unwrap();
    assert_eq!(email["personalizations"][0]["to"][0]["email"], "owner@cancelled.test");
    let subject = email["subject"].as_str().unwrap();
    assert!(subject.starts_with("Your DeskRinger number +13125550001 will be released on "), "{subject}");
    let again = deskringer::jobs::numbers::release_lapsed_numbers(&context).await.unwrap();
    assert_eq!((again.warned, again.released), (0, 0));

    // Day 31, warned 5 days ago: released. The business that subscribed again meanwhile
    // (same dates) keeps its number.
    lapse(&app, cancelled, "cancelled", 31, Some(5)).await;
    lapse(&app, returned, "active", 31, Some(5)).await;
    let report = deskringer::jobs::numbers::release_lapsed_numbers(&context).await.unwrap();
    assert_eq!((report.warned, report.released), (0, 1));
    assert_eq!(number_of(&app, cancelled).await, (None, None));
    assert_eq!(number_of(&app, returned).await.0.as_deref(), Some("+13125550002"));
    assert_eq!(number_of(&app, recent).await.0.as_deref(), Some("+13125550003"));
    let deletes: Vec<String> = mocks
        .twilio
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(deletes, [format!("{ACCOUNT}/IncomingPhoneNumbers/PN1.json")]);

    // Lapsed for long but never warned (the job was not running): warned first, released
    // only after the warning's lead.
    lapse(&app, returned, "cancelled", 40, None).await;
    let report = deskringer::jobs::numbers::release_lapsed_numbers(&context).await.unwrap();
    assert_eq!((report.warned, report.released), (1, 0));
    assert_eq!(number_of(&app, returned).await.0.as_deref(), Some("+13125550002"));
}

/// Log lines written while it is the thread's subscriber.
#[derive(Clone, Default)]
struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_start_up_audit_logs_a_warning_per_miswired_or_missing_number() {
    let (app, mocks) = app_with_twilio(&[]).await;
    let right = app.insert_customer("Right", "right@b.test", "active").await;
    let wrong = app.insert_customer("Wrong", "wrong@b.test", "active").await;
    let gone = app.insert_customer("Gone", "gone@b.test", "active").await;
    give_number(&app, right, "+13125550001", Some("PN1")).await;
    give_number(&app, wrong, "+13125550002", Some("PN2")).await;
    give_number(&app, gone, "+13125550004", Some("PN4")).await;
    Mock::given(method("GET"))
        .and(path(format!("{ACCOUNT}/IncomingPhoneNumbers.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_page(
            vec![wired("PN1", "+13125550001"), incoming("PN2", "+13125550002", VOICE_URL, "GET", STATUS_URL)],
            None,
        )))
        .mount(&mocks.twilio)
        .await;
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    deskringer::http::phone_numbers::numbers(&app.state).log_audit().await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let warnings: Vec<&str> = text.lines().filter(|line| line.contains("WARN")).collect();
    assert_eq!(warnings.len(), 2, "{text}");
    assert!(warnings[0].contains("PN2") && warnings[0].contains("voice method is GET, not POST"), "{text}");
    assert!(
        warnings[1].contains(&format!("customer.id={gone}")) && warnings[1].contains("not on the Twilio account"),
        "{text}"
    );
    assert!(!text.contains("PN1"), "a wired number is not warned about: {text}");
    assert!(!text.contains("+1312555"), "no phone number is logged: {text}");
}
