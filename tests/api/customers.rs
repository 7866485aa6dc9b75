//! `/api/customers`: list, get, create, update, settings, cancel, set-password.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use deskringer::auth::password::verify_password;
use serde_json::{Value, json};

use crate::helpers::{CALL_KEYS, CUSTOMER_KEYS, NewCall, TestApp, TestDatabase, keys};

fn salon() -> Value {
    json!({
        "business_name": "Bella Hair",
        "email": "Owner@Bella.test",
        "contact_name": "Bella Rossi",
        "phone": "+1 (415) 555-0100",
        "business_type": "hair salon",
        "business_hours": {"monday": {"open": "09:00", "close": "17:00"}, "sunday": {"closed": true}},
        "timezone": "America/Los_Angeles",
        "deskringer_number": "+14155550111",
        "forward_to_number": "+14155550122",
        "greeting_message": "Thanks for calling Bella Hair!",
        "services_offered": "Cuts, colour, blow-dry",
        "faqs": [{"question": "Do you have parking?", "answer": "Yes, behind the salon."}],
        "appointment_handling": "callback",
        "pricing_info": "Cuts from $45",
        "notification_email": "alerts@bella.test",
        "notification_phone": "+14155550133",
        "send_welcome_email": false
    })
}

async fn stored_count(app: &TestApp) -> i64 {
    app.count("customers").await
}

#[tokio::test]
async fn create_starts_a_seven_day_trial_with_a_temporary_password() {
    // Arrange
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;

    // Act
    let response = app.post("/api/customers/", &token, salon()).await;

    // Assert: the response shape.
    let body = response.assert_ok(StatusCode::CREATED).clone();
    assert_eq!(keys(&body), ["customer", "message", "temporary_password"]);
    let customer = &body["customer"];
    assert_eq!(keys(customer), CUSTOMER_KEYS);
    assert_eq!(customer["email"], "owner@bella.test");
    assert_eq!(customer["phone"], "+14155550100");
    assert_eq!(customer["subscription_status"], "trial");
    assert_eq!(customer["subscription_tier"], "basic");
    assert_eq!(customer["appointment_handling"], "callback");
    assert_eq!(customer["business_hours"], salon()["business_hours"]);
    assert_eq!(customer["faqs"], salon()["faqs"]);
    assert_eq!(customer["holiday_hours"], Value::Null);
    assert_eq!(customer["cancelled_at"], Value::Null);
    let trial_ends: DateTime<Utc> = customer["trial_ends_at"].as_str().unwrap().parse().unwrap();
    assert!((trial_ends - (Utc::now() + Duration::days(7))).num_seconds().abs() < 60);
    let instructions = customer["ai_instructions"].as_str().unwrap();
    for expected in [
        "Bella Hair, a hair salon",
        "Cuts, colour, blow-dry",
        "- Monday: 09:00-17:00",
        "Do you have parking?",
        "Cuts from $45",
    ] {
        assert!(instructions.contains(expected), "{expected} missing from {instructions}");
    }

    // Assert: the database holds the business and a hash of the temporary password.
    let id = customer["id"].as_i64().unwrap();
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let temporary = body["temporary_password"].as_str().unwrap();
    assert!(temporary.len() >= 12);
    assert!(verify_password(temporary.to_owned().into(), Some(hash)).await.unwrap());
    assert!(!response.text.contains("password_hash") && !response.text.contains("stripe"));
}

#[tokio::test]
async fn create_keeps_instructions_the_request_sets() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let mut body = salon();
    body["ai_instructions"] = json!("Answer in French.");
    let response = app.post("/api/customers", &token, body).await;
    assert_eq!(response.assert_ok(StatusCode::CREATED)["customer"]["ai_instructions"], "Answer in French.");
}

#[tokio::test]
async fn create_refuses_invalid_fields_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let cases = [
        ("email", json!("not-an-email"), StatusCode::UNPROCESSABLE_ENTITY),
        ("phone", json!("555-0100"), StatusCode::UNPROCESSABLE_ENTITY),
        ("deskringer_number", json!("+1"), StatusCode::UNPROCESSABLE_ENTITY),
        ("timezone", json!("Mars/Olympus_Mons"), StatusCode::UNPROCESSABLE_ENTITY),
        ("appointment_handling", json!("whenever"), StatusCode::UNPROCESSABLE_ENTITY),
        ("business_hours", json!({"monday": {"open": "25:00", "close": "17:00"}}), StatusCode::UNPROCESSABLE_ENTITY),
        ("business_hours", json!({"funday": {"closed": true}}), StatusCode::UNPROCESSABLE_ENTITY),
        ("faqs", json!([{"question": "Parking?"}]), StatusCode::UNPROCESSABLE_ENTITY),
        ("subscription_status", json!("gold"), StatusCode::UNPROCESSABLE_ENTITY),
        ("business_name", json!(""), StatusCode::UNPROCESSABLE_ENTITY),
        ("business_name", json!(42), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (field, value, status) in cases {
        let mut body = salon();
        body[field] = value.clone();
        let response = app.post("/api/customers/", &token, body).await;
        let message = response.assert_error(status);
        assert!(message.contains(field), "{field}={value}: {message}");
    }
    let missing = app.post("/api/customers/", &token, json!({"business_name": "No Email"})).await;
    assert!(missing.assert_error(StatusCode::UNPROCESSABLE_ENTITY).contains("email"));
    assert_eq!(stored_count(&app).await, 0);
}

#[tokio::test]
async fn create_refuses_a_taken_email_or_number_with_409() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    app.post("/api/customers/", &token, salon()).await.assert_ok(StatusCode::CREATED);

    let mut same_email = salon();
    same_email["email"] = json!("OWNER@bella.TEST");
    same_email["deskringer_number"] = json!("+14155550999");
    assert!(app.post("/api/customers/", &token, same_email).await.assert_error(StatusCode::CONFLICT).contains("email"));

    let mut same_number = salon();
    same_number["email"] = json!("other@bella.test");
    assert!(
        app.post("/api/customers/", &token, same_number).await.assert_error(StatusCode::CONFLICT).contains("number")
    );
    assert_eq!(stored_count(&app).await, 1);
}

#[tokio::test]
async fn list_is_newest_first_paginated_and_filtered_by_status() {
    // Arrange: five customers created one minute apart.
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let mut ids = Vec::new();
    for (i, status) in ["trial", "active", "trial", "cancelled", "active"].iter().enumerate() {
        let id = app.insert_customer(&format!("Biz {i}"), &format!("biz{i}@x.test"), status).await;
        sqlx::query("UPDATE customers SET created_at = now() - make_interval(mins => $2) WHERE id = $1")
            .bind(id)
            .bind(10 - i as i32)
            .execute(&app.db)
            .await
            .unwrap();
        ids.push(id);
    }
    let newest_first: Vec<i64> = ids.iter().rev().copied().collect();
    let ids_of = |body: &Value| -> Vec<i64> {
        body["customers"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
    };

    // Act + Assert: pages.
    let first = app.get("/api/customers/?per_page=2", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(keys(&first), ["customers", "page", "pages", "per_page", "total"]);
    assert_eq!(
        (first["total"].as_i64(), first["page"].as_i64(), first["pages"].as_i64(), first["per_page"].as_i64()),
        (Some(5), Some(1), Some(3), Some(2))
    );
    assert_eq!(ids_of(&first), newest_first[..2]);
    assert_eq!(keys(&first["customers"][0]), CUSTOMER_KEYS);
    let last = app.get("/api/customers/?per_page=2&page=3", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(ids_of(&last), newest_first[4..]);
    let beyond = app.get("/api/customers/?per_page=2&page=9", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(ids_of(&beyond), Vec::<i64>::new());
    assert_eq!(beyond["total"], 5);

    // Filter.
    let active = app.get("/api/customers?status=active", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(ids_of(&active), [ids[4], ids[1]]);
    assert_eq!(active["total"], 2);
    let active_beyond =
        app.get("/api/customers?status=active&page=4&per_page=1", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!((ids_of(&active_beyond), active_beyond["total"].as_i64()), (vec![], Some(2)));
    let none = app.get("/api/customers?status=paused", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!((ids_of(&none), none["total"].as_i64()), (vec![], Some(0)));
    let default_page = app.get("/api/customers", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(default_page["per_page"], 50);
}

#[tokio::test]
async fn list_searches_name_or_email_ignoring_case_with_status_and_pages() {
    // Arrange: four businesses, one minute apart (newest last).
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let mut ids = Vec::new();
    for (i, (name, email, status)) in [
        ("Bella Hair", "owner@bella.test", "trial"),
        ("Corner Dental", "frontdesk@bellavista.test", "active"),
        ("Joe's Plumbing", "joe@plumb.test", "active"),
        ("BELLA Nails", "nails@x.test", "active"),
        ("50% Off Tyres", "tyres@x.test", "trial"),
    ]
    .iter()
    .enumerate()
    {
        let id = app.insert_customer(name, email, status).await;
        sqlx::query("UPDATE customers SET created_at = now() - make_interval(mins => $2) WHERE id = $1")
            .bind(id)
            .bind(10 - i as i32)
            .execute(&app.db)
            .await
            .unwrap();
        ids.push(id);
    }
    let ids_of = |body: &Value| -> Vec<i64> {
        body["customers"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
    };

    // Act + Assert: the name or the email contains the text, in any case, newest first.
    let bella = app.get("/api/customers?q=%20bElLa%20", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(ids_of(&bella), [ids[3], ids[1], ids[0]]);
    assert_eq!(bella["total"], 3);
    // Paged: the total counts every match, not this page's.
    let second = app.get("/api/customers?q=bella&per_page=2&page=2", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(ids_of(&second), [ids[0]]);
    assert_eq!((second["total"].as_i64(), second["pages"].as_i64()), (Some(3), Some(2)));
    let beyond = app.get("/api/customers?q=bella&per_page=2&page=5", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!((ids_of(&beyond), beyond["total"].as_i64()), (vec![], Some(3)));
    // With a status.
    let active = app.get("/api/customers?q=BELLA&status=active", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!((ids_of(&active), active["total"].as_i64()), (vec![ids[3], ids[1]], Some(2)));
    // `%` and `_` are text, not wildcards.
    let percent = app.get("/api/customers?q=50%25", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(ids_of(&percent), [ids[4]]);
    let underscore = app.get("/api/customers?q=_", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!((ids_of(&underscore), underscore["total"].as_i64()), (vec![], Some(0)));
    // Blank is every business.
    let blank = app.get("/api/customers?q=%20", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(blank["total"], 5);

    // A search longer than 100 characters is refused, naming `q`.
    let long = format!("/api/customers?q={}", "a".repeat(101));
    let response = app.get(&long, &token).await;
    assert_eq!(
        response.assert_error(StatusCode::UNPROCESSABLE_ENTITY),
        "q: must be at most 100 characters",
        "{}",
        response.text
    );
    assert_eq!(response.body["details"], json!({"q": "must be at most 100 characters"}));
    let longest = format!("/api/customers?q={}", "a".repeat(100));
    app.get(&longest, &token).await.assert_ok(StatusCode::OK);
}

#[tokio::test]
async fn list_refuses_bad_pagination_and_filters() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    for (query, status, names) in [
        ("per_page=0", StatusCode::UNPROCESSABLE_ENTITY, "per_page"),
        ("per_page=100000", StatusCode::UNPROCESSABLE_ENTITY, "per_page"),
        ("per_page=201", StatusCode::UNPROCESSABLE_ENTITY, "per_page"),
        ("page=0", StatusCode::UNPROCESSABLE_ENTITY, "page"),
        ("page=-1", StatusCode::UNPROCESSABLE_ENTITY, "page"),
        ("page=abc", StatusCode::BAD_REQUEST, "page"),
        ("per_page=99999999999999999999", StatusCode::BAD_REQUEST, "per_page"),
        ("status=gold", StatusCode::UNPROCESSABLE_ENTITY, "status"),
    ] {
        let response = app.get(&format!("/api/customers/?{query}"), &token).await;
        assert!(response.assert_error(status).contains(names), "{query}: {}", response.text);
    }
    let huge_page = app.get("/api/customers/?page=9223372036854775807&per_page=200", &token).await;
    assert_eq!(huge_page.assert_ok(StatusCode::OK)["customers"], json!([]));
}

#[tokio::test]
async fn get_returns_the_customer_with_its_ten_newest_calls() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "trial").await;
    let other = app.insert_customer("Other", "other@x.test", "trial").await;
    app.insert_call(NewCall::completed(other)).await;
    let mut call_ids = Vec::new();
    for minutes_ago in (0..12).rev() {
        let created_at = Utc::now() - Duration::minutes(minutes_ago);
        call_ids.push(app.insert_call(NewCall { created_at, ..NewCall::completed(id) }).await);
    }

    let body = app.get(&format!("/api/customers/{id}"), &token).await.assert_ok(StatusCode::OK).clone();

    let mut expected_keys = CUSTOMER_KEYS.to_vec();
    expected_keys.push("recent_calls");
    expected_keys.sort_unstable();
    assert_eq!(keys(&body), expected_keys);
    assert_eq!(body["id"], id);
    let recent: Vec<i64> = body["recent_calls"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    let newest_ten: Vec<i64> = call_ids.iter().rev().take(10).copied().collect();
    assert_eq!(recent, newest_ten);
    assert_eq!(keys(&body["recent_calls"][0]), CALL_KEYS);
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404_and_400() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    app.get("/api/customers/999999", &token).await.assert_error(StatusCode::NOT_FOUND);
    app.get("/api/customers/-5", &token).await.assert_error(StatusCode::NOT_FOUND);
    app.get("/api/customers/abc", &token).await.assert_error(StatusCode::BAD_REQUEST);
    app.get("/api/customers/99999999999999999999999", &token).await.assert_error(StatusCode::BAD_REQUEST);
    app.put("/api/customers/999999", &token, json!({"contact_name": "x"})).await.assert_error(StatusCode::NOT_FOUND);
    app.put("/api/customers/999999/settings", &token, json!({})).await.assert_error(StatusCode::NOT_FOUND);
    app.delete("/api/customers/999999", &token).await.assert_error(StatusCode::NOT_FOUND);
    app.post("/api/customers/999999/set-password", &token, json!({"password": "long-enough"}))
        .await
        .assert_error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn update_changes_sent_fields_clears_nulls_and_recompiles_instructions() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let created = app.post("/api/customers/", &token, salon()).await.assert_ok(StatusCode::CREATED).clone();
    let id = created["customer"]["id"].as_i64().unwrap();

    let response = app
        .put(
            &format!("/api/customers/{id}"),
            &token,
            json!({"services_offered": "Beard trims", "phone": null, "subscription_status": "active", "subscription_tier": "premium"}),
        )
        .await;

    let customer = response.assert_ok(StatusCode::OK)["customer"].clone();
    assert_eq!(response.body["message"], "Customer updated");
    assert_eq!(customer["services_offered"], "Beard trims");
    assert_eq!(customer["phone"], Value::Null);
    assert_eq!(customer["contact_name"], "Bella Rossi", "fields not sent are kept");
    assert_eq!(customer["subscription_tier"], "premium");
    assert!(customer["ai_instructions"].as_str().unwrap().contains("Beard trims"));
    let (stored_status, stored_phone): (String, Option<String>) =
        sqlx::query_as("SELECT subscription_status, phone FROM customers WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((stored_status.as_str(), stored_phone), ("active", None));
}

#[tokio::test]
async fn an_invalid_update_saves_nothing() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let created = app.post("/api/customers/", &token, salon()).await.assert_ok(StatusCode::CREATED).clone();
    let id = created["customer"]["id"].as_i64().unwrap();

    let response = app
        .put(
            &format!("/api/customers/{id}"),
            &token,
            json!({"contact_name": "Changed", "notification_phone": "call me"}),
        )
        .await;

    assert!(response.assert_error(StatusCode::UNPROCESSABLE_ENTITY).contains("notification_phone"));
    let after = app.get(&format!("/api/customers/{id}"), &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(after["contact_name"], "Bella Rossi");
    assert_eq!(after["notification_phone"], "+14155550133");
}

#[tokio::test]
async fn update_to_a_taken_email_is_409() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    app.insert_customer("First", "first@x.test", "trial").await;
    let second = app.insert_customer("Second", "second@x.test", "trial").await;
    let response = app.put(&format!("/api/customers/{second}"), &token, json!({"email": "First@x.test"})).await;
    response.assert_error(StatusCode::CONFLICT);
}

#[tokio::test]
async fn settings_update_hours_and_recompile_the_instructions() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let id = app.insert_customer("Joe's Diner", "joe@diner.test", "active").await;

    let response = app
        .put(
            &format!("/api/customers/{id}/settings"),
            &token,
            json!({
                "greeting_message": "Joe's Diner, how can I help?",
                "business_hours": {"friday": {"open": "18:00", "close": "02:00"}},
                "holiday_hours": "Closed on Christmas Day",
                "faqs": [{"question": "Vegan options?", "answer": "Yes, plenty."}],
                "appointment_handling": "booking_link",
                // Not a setting: ignored by this endpoint.
                "email": "hijack@x.test"
            }),
        )
        .await;

    let customer = response.assert_ok(StatusCode::OK)["customer"].clone();
    assert_eq!(response.body["message"], "Settings updated");
    assert_eq!(customer["greeting_message"], "Joe's Diner, how can I help?");
    assert_eq!(customer["business_hours"], json!({"friday": {"open": "18:00", "close": "02:00"}}));
    assert_eq!(customer["holiday_hours"], "Closed on Christmas Day");
    assert_eq!(customer["appointment_handling"], "booking_link");
    assert_eq!(customer["email"], "joe@diner.test");
    let instructions = customer["ai_instructions"].as_str().unwrap();
    for expected in ["- Friday: 18:00-02:00", "Christmas", "Vegan options?", "book online"] {
        assert!(instructions.contains(expected), "{expected} missing from {instructions}");
    }
}

#[tokio::test]
async fn changing_only_the_forward_number_recompiles_unless_instructions_are_sent() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let id = app.insert_customer("Joe's Diner", "joe@diner.test", "active").await;
    let stored = || {
        sqlx::query_scalar::<_, Option<String>>("SELECT ai_instructions FROM customers WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db)
    };

    // Admin update and admin settings, the forward number alone: recompiled with it.
    for (path, number) in
        [(format!("/api/customers/{id}"), "+14155550177"), (format!("/api/customers/{id}/settings"), "+14155550188")]
    {
        let response = app.put(&path, &token, json!({"forward_to_number": number})).await;
        let answered = response.assert_ok(StatusCode::OK)["customer"]["ai_instructions"].as_str().unwrap().to_owned();
        assert!(answered.contains(&format!("you can transfer them to: {number}\n")), "{path}: {answered}");
        assert_eq!(stored().await.unwrap(), Some(answered), "{path}");
    }

    // Instructions sent in the same request win over compilation, in both.
    for path in [format!("/api/customers/{id}"), format!("/api/customers/{id}/settings")] {
        let response = app
            .put(&path, &token, json!({"forward_to_number": "+14155550199", "ai_instructions": "Answer in French."}))
            .await;
        let customer = response.assert_ok(StatusCode::OK)["customer"].clone();
        assert_eq!(customer["forward_to_number"], "+14155550199", "{path}");
        assert_eq!(customer["ai_instructions"], "Answer in French.", "{path}");
        assert_eq!(stored().await.unwrap().as_deref(), Some("Answer in French."), "{path}");
    }
}

#[tokio::test]
async fn invalid_settings_name_the_field_and_save_nothing() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let id = app.insert_customer("Joe's Diner", "joe@diner.test", "active").await;
    let response = app
        .put(
            &format!("/api/customers/{id}/settings"),
            &token,
            json!({"greeting_message": "New greeting", "business_hours": {"monday": {"open": "9am", "close": "5pm"}}}),
        )
        .await;
    let message = response.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.starts_with("business_hours.monday: `9am` is not a time of day"), "{message}");
    let greeting: Option<String> = sqlx::query_scalar("SELECT greeting_message FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(greeting, None);
}

#[tokio::test]
async fn delete_cancels_the_customer_and_keeps_its_calls() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    app.insert_call(NewCall::completed(id)).await;

    let response = app.delete(&format!("/api/customers/{id}"), &token).await;

    assert_eq!(keys(response.assert_ok(StatusCode::OK)), ["message"]);
    let (status, cancelled_at): (String, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT subscription_status, cancelled_at FROM customers WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(status, "cancelled");
    let first_cancellation = cancelled_at.expect("cancelled_at is set");
    assert_eq!(app.count("calls").await, 1);

    // Cancelling again changes nothing.
    app.delete(&format!("/api/customers/{id}"), &token).await.assert_ok(StatusCode::OK);
    let again: Option<DateTime<Utc>> = sqlx::query_scalar("SELECT cancelled_at FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(again, Some(first_cancellation));
}

#[tokio::test]
async fn set_password_gives_portal_access() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;

    let short = app.post(&format!("/api/customers/{id}/set-password"), &token, json!({"password": "1234567"})).await;
    assert!(short.assert_error(StatusCode::UNPROCESSABLE_ENTITY).contains("password"));
    let response =
        app.post(&format!("/api/customers/{id}/set-password"), &token, json!({"password": "portal-pass-1"})).await;

    assert_eq!(
        response.assert_ok(StatusCode::OK)["customer"],
        json!({"id": id, "email": "owner@bella.test", "business_name": "Bella Hair", "has_portal_access": true})
    );
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(verify_password("portal-pass-1".to_owned().into(), Some(hash)).await.unwrap());
}

#[tokio::test]
async fn text_with_nul_characters_is_a_400_not_a_500() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let mut body = salon();
    body["services_offered"] = json!("Cuts\u{0}colour");
    app.post("/api/customers/", &token, body).await.assert_error(StatusCode::BAD_REQUEST);
    let mut body = salon();
    body["faqs"] = json!([{"question": "Nul\u{0}?", "answer": "Yes"}]);
    app.post("/api/customers/", &token, body).await.assert_error(StatusCode::BAD_REQUEST);
    let login = app
        .call(
            axum::http::Method::POST,
            "/api/admin/login",
            None,
            Some(json!({"email": "a\u{0}@x.test", "password": "whatever-pass"})),
        )
        .await;
    assert_ne!(login.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", login.text);
    assert_eq!(stored_count(&app).await, 0);
}

#[tokio::test]
async fn arrays_where_objects_belong_are_refused() {
    // serde's derive would read these as the fields in order; found by fuzzing.
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let hours =
        app.put(&format!("/api/customers/{id}/settings"), &token, json!({"business_hours": [null, null]})).await;
    assert!(hours.assert_error(StatusCode::UNPROCESSABLE_ENTITY).contains("business_hours"));
    let faq = app.put(&format!("/api/customers/{id}/settings"), &token, json!({"faqs": [["Parking?", "Yes"]]})).await;
    assert!(faq.assert_error(StatusCode::UNPROCESSABLE_ENTITY).contains("faqs"));
    let login = app.call(axum::http::Method::POST, "/api/admin/login", None, Some(json!(["a@b.co", "password"]))).await;
    assert!(login.assert_error(StatusCode::UNPROCESSABLE_ENTITY).contains("object"));
    let not_json = app
        .send(
            axum::http::Request::post("/api/admin/login")
                .header("content-type", "application/json")
                .body(axum::body::Body::from("[1,"))
                .unwrap(),
        )
        .await;
    not_json.assert_error(StatusCode::BAD_REQUEST);
    let settings: Option<serde_json::Value> = sqlx::query_scalar("SELECT business_hours FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(settings, None);
}

#[tokio::test]
async fn business_hours_come_back_in_week_order() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let week = json!({
        "monday": {"open": "09:00", "close": "17:00"}, "tuesday": {"open": "09:00", "close": "17:00"},
        "wednesday": {"closed": true}, "thursday": {"open": "09:00", "close": "19:00"},
        "friday": {"open": "09:00", "close": "17:00"}, "saturday": {"open": "10:00", "close": "14:00"},
        "sunday": {"closed": true}
    });
    let mut body = salon();
    body["business_hours"] = week;
    let id = app.post("/api/customers/", &token, body).await.assert_ok(StatusCode::CREATED)["customer"]["id"]
        .as_i64()
        .unwrap();

    let one = app.get(&format!("/api/customers/{id}"), &token).await;
    let list = app.get("/api/customers/", &token).await;

    for response in [one, list] {
        assert_eq!(response.status, StatusCode::OK);
        let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
        let positions: Vec<usize> =
            days.iter().map(|day| response.text.find(&format!("\"{day}\"")).expect(day)).collect();
        assert!(positions.is_sorted(), "days out of order: {}", response.text);
    }
}

#[tokio::test]
async fn migrating_puts_stored_hours_in_week_order_and_keeps_every_setting() {
    // Arrange: a business saved before migration 6, when settings were jsonb (which sorts
    // keys by length: monday, sunday, friday, tuesday...).
    let database = TestDatabase::create(None).await;
    let pool = sqlx::PgPool::connect_with(database.connect_options()).await.unwrap();
    deskringer::db::MIGRATOR.run_to(20261124000005, &pool).await.unwrap();
    sqlx::query(
        "INSERT INTO customers (business_name, email, business_hours, holiday_hours, faqs) VALUES ('Old', 'old@x.test', \
         '{\"sunday\": {\"closed\": true}, \"monday\": {\"open\": \"09:00\", \"close\": \"17:00\"}, \
           \"friday\": {\"open\": \"09:00\", \"close\": \"12:00\"}}', \
         '{\"2026-12-31\": {\"open\": \"10:00\", \"close\": \"14:00\"}, \"2026-12-25\": {\"closed\": true, \"note\": \"Christmas\"}}', \
         '[{\"question\": \"Parking?\", \"answer\": \"Yes.\"}]')",
    )
    .execute(&pool)
    .await
    .unwrap();

    // Act
    deskringer::migrate(&pool).await.unwrap();

    // Assert
    let (hours, holidays, faqs): (String, String, Value) = sqlx::query_as(
        "SELECT business_hours::text, holiday_hours, faqs::jsonb FROM customers WHERE email = 'old@x.test'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        hours,
        r#"{"monday":{"open":"09:00","close":"17:00"},"friday":{"open":"09:00","close":"12:00"},"sunday":{"closed":true}}"#
    );
    // Migration 7: holiday dates become the text the portal edits, one line a date.
    assert_eq!(holidays, "2026-12-25: closed (Christmas)\n2026-12-31: 10:00-14:00");
    assert_eq!(faqs, json!([{"question": "Parking?", "answer": "Yes."}]));
    pool.close().await;
}

#[tokio::test]
async fn a_stored_setting_that_no_longer_validates_is_shown_and_never_dropped_by_an_edit() {
    // Arrange: hours written before the `HH:MM` rule (as an import might have left them).
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let id = app.insert_customer("Old Salon", "old@x.test", "active").await;
    let legacy = r#"{"monday":{"open":"9am","close":"5pm"}}"#;
    sqlx::query("UPDATE customers SET business_hours = $2::json WHERE id = $1")
        .bind(id)
        .bind(legacy)
        .execute(&app.db)
        .await
        .unwrap();
    let stored = || async {
        sqlx::query_scalar::<_, String>("SELECT business_hours::text FROM customers WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap()
    };

    // Act + Assert: reading shows them as stored.
    let customer = app.get(&format!("/api/customers/{id}"), &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(customer["business_hours"], json!({"monday": {"open": "9am", "close": "5pm"}}));

    // An edit that would drop them is refused, and nothing changes.
    let settings = format!("/api/customers/{id}/settings");
    let refused = app.put(&settings, &token, json!({"greeting_message": "Hello!"})).await;
    assert!(refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY).contains("business_hours"));
    assert_eq!(stored().await, legacy);

    // An edit that replaces them is saved.
    let hours = json!({"monday": {"open": "09:00", "close": "17:00"}});
    let saved = app
        .put(&settings, &token, json!({"greeting_message": "Hello!", "business_hours": hours}))
        .await
        .assert_ok(StatusCode::OK)
        .clone();
    assert_eq!(saved["customer"]["business_hours"], hours);
    assert_eq!(saved["customer"]["greeting_message"], "Hello!");
}
