//! `/api/calls`: list, get, transcript, stats, recent.

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{CALL_KEYS, NewCall, TestApp, keys};

fn ids(body: &Value) -> Vec<i64> {
    body["calls"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

/// The keys of a call in the admin view: business name in, transcript out.
fn admin_view_keys() -> Vec<&'static str> {
    let mut keys: Vec<&str> = CALL_KEYS.iter().copied().filter(|k| *k != "transcript").collect();
    keys.push("customer_business_name");
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn list_is_newest_first_with_filters_and_pages() {
    // Arrange: customer A has 3 calls (one failed), B has 1.
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let a = app.insert_customer("A", "a@x.test", "active").await;
    let b = app.insert_customer("B", "b@x.test", "active").await;
    let at = |minutes: i64| Utc::now() - Duration::minutes(minutes);
    let a1 = app.insert_call(NewCall { created_at: at(40), ..NewCall::completed(a) }).await;
    let b1 = app.insert_call(NewCall { created_at: at(30), ..NewCall::completed(b) }).await;
    let a2 = app.insert_call(NewCall { created_at: at(20), status: "failed", ..NewCall::completed(a) }).await;
    let a3 = app.insert_call(NewCall { created_at: at(10), ..NewCall::completed(a) }).await;

    // Act + Assert
    let all = app.get("/api/calls/", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(keys(&all), ["calls", "page", "pages", "per_page", "total"]);
    assert_eq!(ids(&all), [a3, a2, b1, a1]);
    assert_eq!(keys(&all["calls"][0]), CALL_KEYS);
    assert_eq!(all["calls"][0]["transcript"], "Caller: When are you open?\nAI: 9 to 5.");

    let of_a = app.get(&format!("/api/calls/?customer_id={a}"), &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!((ids(&of_a), of_a["total"].as_i64()), (vec![a3, a2, a1], Some(3)));
    let failed =
        app.get(&format!("/api/calls/?customer_id={a}&status=failed"), &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!((ids(&failed), failed["total"].as_i64()), (vec![a2], Some(1)));
    let completed = app.get("/api/calls/?status=completed", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!((ids(&completed), completed["total"].as_i64()), (vec![a3, b1, a1], Some(3)));
    let page2 = app.get("/api/calls/?per_page=3&page=2", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!((ids(&page2), page2["pages"].as_i64()), (vec![a1], Some(2)));
    // Past the last page: no calls, the same total.
    for query in ["page=9", &format!("customer_id={a}&page=9"), "status=failed&page=9"] {
        let past = app.get(&format!("/api/calls/?per_page=3&{query}"), &token).await.assert_ok(StatusCode::OK).clone();
        assert_eq!(ids(&past), Vec::<i64>::new());
        assert!(past["total"].as_i64().unwrap() > 0, "{query}: {past}");
    }
    let nobody = app.get("/api/calls/?customer_id=999999", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!((ids(&nobody), nobody["total"].as_i64()), (vec![], Some(0)));
}

#[tokio::test]
async fn admin_view_names_the_business_and_hides_the_transcript() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let a = app.insert_customer("Bella Hair", "a@x.test", "active").await;
    let id = app.insert_call(NewCall::completed(a)).await;

    let list = app.get("/api/calls?admin_view=true", &token).await.assert_ok(StatusCode::OK).clone();
    let call = &list["calls"][0];
    assert_eq!(keys(call), admin_view_keys());
    assert_eq!(call["customer_business_name"], "Bella Hair");
    assert_eq!(call["summary"], "Caller asked about opening hours.");

    let one = app.get(&format!("/api/calls/{id}?admin_view=true"), &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(keys(&one), admin_view_keys(), "no transcript and no logs in the admin view");
}

#[tokio::test]
async fn list_refuses_bad_queries() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    for (query, status) in [
        ("per_page=0", StatusCode::UNPROCESSABLE_ENTITY),
        ("per_page=100000", StatusCode::UNPROCESSABLE_ENTITY),
        ("page=-1", StatusCode::UNPROCESSABLE_ENTITY),
        ("status=exploded", StatusCode::UNPROCESSABLE_ENTITY),
        ("customer_id=abc", StatusCode::BAD_REQUEST),
        ("admin_view=maybe", StatusCode::BAD_REQUEST),
    ] {
        app.get(&format!("/api/calls/?{query}"), &token).await.assert_error(status);
    }
}

#[tokio::test]
async fn get_returns_the_call_with_its_lines_in_order() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let a = app.insert_customer("A", "a@x.test", "active").await;
    let id = app.insert_call(NewCall::completed(a)).await;
    let start = Utc::now() - Duration::minutes(5);
    // Inserted out of order: the API orders by time.
    app.insert_log(id, "ai", "We open at nine.", start + Duration::seconds(20)).await;
    app.insert_log(id, "caller", "When do you open?", start + Duration::seconds(10)).await;

    let body = app.get(&format!("/api/calls/{id}"), &token).await.assert_ok(StatusCode::OK).clone();

    let mut expected = CALL_KEYS.to_vec();
    expected.push("logs");
    expected.sort_unstable();
    assert_eq!(keys(&body), expected);
    let logs = body["logs"].as_array().unwrap();
    assert_eq!(keys(&logs[0]), ["call_id", "id", "message", "speaker", "timestamp"]);
    let lines: Vec<(&str, &str)> =
        logs.iter().map(|l| (l["speaker"].as_str().unwrap(), l["message"].as_str().unwrap())).collect();
    assert_eq!(lines, [("caller", "When do you open?"), ("ai", "We open at nine.")]);
    assert!(logs[0]["timestamp"].as_str().unwrap().ends_with('Z'), "timestamps are UTC with an explicit offset");
}

#[tokio::test]
async fn unknown_and_malformed_call_ids() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    app.get("/api/calls/424242", &token).await.assert_error(StatusCode::NOT_FOUND);
    app.get("/api/calls/424242/transcript", &token).await.assert_error(StatusCode::NOT_FOUND);
    app.get("/api/calls/twelve", &token).await.assert_error(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn transcript_is_built_from_the_lines_when_none_is_stored() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let a = app.insert_customer("A", "a@x.test", "active").await;
    let id = app.insert_call(NewCall { transcript: None, status: "in_progress", ..NewCall::completed(a) }).await;
    let start = Utc::now() - Duration::minutes(1);
    app.insert_log(id, "ai", "Thanks for calling!", start).await;
    app.insert_log(id, "caller", "Hi, I'd like a table for two.", start + Duration::seconds(5)).await;

    let body = app.get(&format!("/api/calls/{id}/transcript"), &token).await.assert_ok(StatusCode::OK).clone();

    assert_eq!(keys(&body), ["call_id", "logs", "transcript"]);
    assert_eq!(body["call_id"], id);
    assert_eq!(body["transcript"], "AI: Thanks for calling!\nCaller: Hi, I'd like a table for two.");
    assert_eq!(body["logs"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn stats_filter_every_figure_by_period_and_customer() {
    // Arrange
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let a = app.insert_customer("A", "a@x.test", "active").await;
    let b = app.insert_customer("B", "b@x.test", "active").await;
    let days_ago = |days: i64| Utc::now() - Duration::days(days);
    // A, within 30 days: two completed (60 s, 120 s; one wants a callback), one failed.
    app.insert_call(NewCall {
        duration_seconds: Some(60),
        twilio_cost: 0.01,
        openai_cost: 0.02,
        ..NewCall::completed(a)
    })
    .await;
    app.insert_call(NewCall {
        duration_seconds: Some(120),
        callback_requested: true,
        twilio_cost: 0.03,
        openai_cost: 0.04,
        created_at: days_ago(10),
        ..NewCall::completed(a)
    })
    .await;
    app.insert_call(NewCall {
        status: "failed",
        duration_seconds: Some(0),
        twilio_cost: 0.0,
        openai_cost: 0.0,
        ..NewCall::completed(a)
    })
    .await;
    // A, 40 days ago: outside the default period.
    app.insert_call(NewCall {
        duration_seconds: Some(999),
        callback_requested: true,
        twilio_cost: 5.0,
        created_at: days_ago(40),
        ..NewCall::completed(a)
    })
    .await;
    // B, today.
    app.insert_call(NewCall {
        duration_seconds: Some(300),
        twilio_cost: 1.0,
        openai_cost: 1.0,
        ..NewCall::completed(b)
    })
    .await;

    // Act
    let of_a = app.get(&format!("/api/calls/stats?customer_id={a}"), &token).await.assert_ok(StatusCode::OK).clone();
    let a_for_week =
        app.get(&format!("/api/calls/stats?customer_id={a}&days=7"), &token).await.assert_ok(StatusCode::OK).clone();
    let everyone = app.get("/api/calls/stats?days=60", &token).await.assert_ok(StatusCode::OK).clone();

    // Assert
    assert_eq!(
        of_a,
        json!({
            "period_days": 30, "total_calls": 3, "completed_calls": 2, "failed_calls": 1,
            "avg_duration_seconds": 60.0, "callback_requests": 1,
            "costs": {"twilio": 0.04, "openai": 0.06, "total": 0.1}
        })
    );
    assert_eq!(
        a_for_week,
        json!({
            "period_days": 7, "total_calls": 2, "completed_calls": 1, "failed_calls": 1,
            "avg_duration_seconds": 30.0, "callback_requests": 0,
            "costs": {"twilio": 0.01, "openai": 0.02, "total": 0.03}
        })
    );
    assert_eq!(everyone["total_calls"], 5);
    assert_eq!(everyone["callback_requests"], 2);
    assert_eq!(everyone["costs"]["twilio"], 6.04);
}

#[tokio::test]
async fn every_figure_stays_exact_as_calls_change_and_go() {
    // Arrange: calls of two businesses on several days.
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let a = app.insert_customer("A", "a@x.test", "active").await;
    let b = app.insert_customer("B", "b@x.test", "active").await;
    let days_ago = |days: i64| Utc::now() - Duration::days(days);
    let ringing = app
        .insert_call(NewCall {
            status: "in_progress",
            duration_seconds: None,
            twilio_cost: 0.0,
            openai_cost: 0.0,
            ..NewCall::completed(a)
        })
        .await;
    app.insert_call(NewCall { duration_seconds: Some(100), created_at: days_ago(3), ..NewCall::completed(b) }).await;
    let moved = app
        .insert_call(NewCall { duration_seconds: Some(20), created_at: days_ago(50), ..NewCall::completed(a) })
        .await;
    let gone = app
        .insert_call(NewCall { duration_seconds: Some(500), callback_requested: true, ..NewCall::completed(b) })
        .await;
    let run = |sql: &'static str, id: i64| sqlx::query(sql).bind(id).execute(&app.db);

    // Act: what happens to calls. One ends, its model turns add cost, one is moved into
    // the period, one is deleted.
    run("UPDATE calls SET status = 'completed', duration_seconds = 90, twilio_cost = 0.0125 WHERE id = $1", ringing)
        .await
        .unwrap();
    for _ in 0..3 {
        run("UPDATE calls SET openai_cost = openai_cost + 0.001 WHERE id = $1", ringing).await.unwrap();
    }
    run("UPDATE calls SET created_at = now() - interval '2 days', callback_requested = true WHERE id = $1", moved)
        .await
        .unwrap();
    run("UPDATE calls SET handled = true, summary = 'Wants a table.' WHERE id = $1", moved).await.unwrap();
    run("DELETE FROM calls WHERE id = $1", gone).await.unwrap();

    // Assert: the figures are those of the three remaining calls (90 s, 100 s, 20 s).
    let stats = app.get("/api/calls/stats", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(
        stats,
        json!({
            "period_days": 30, "total_calls": 3, "completed_calls": 3, "failed_calls": 0,
            "avg_duration_seconds": 70.0, "callback_requests": 1,
            "costs": {"twilio": 0.0295, "openai": 0.007, "total": 0.0365}
        })
    );
    let dashboard = app.get("/api/admin/stats", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(dashboard["calls"], json!({"total": 3, "today": 1, "avg_duration_seconds": 70.0}));
    let total = |query: &'static str| {
        let app = &app;
        let token = &token;
        async move { app.get(&format!("/api/calls/?{query}"), token).await.assert_ok(StatusCode::OK)["total"].clone() }
    };
    assert_eq!(total("").await, 3);
    assert_eq!(total("status=completed").await, 3);
    assert_eq!(total("status=in_progress").await, 0);

    // And when the calls are emptied at once, so are the totals.
    sqlx::query("TRUNCATE calls CASCADE").execute(&app.db).await.unwrap();
    let emptied = app.get("/api/calls/stats", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!((emptied["total_calls"].as_i64(), total("").await), (Some(0), json!(0)));
}

#[tokio::test]
async fn stats_period_starts_to_the_second() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let a = app.insert_customer("A", "a@x.test", "active").await;
    let start = Utc::now() - Duration::days(30);
    // Just inside, just outside, and a whole day inside the default 30-day period.
    for (created_at, duration) in
        [(start + Duration::minutes(2), 10), (start - Duration::minutes(2), 1000), (start + Duration::days(1), 30)]
    {
        app.insert_call(NewCall { created_at, duration_seconds: Some(duration), ..NewCall::completed(a) }).await;
    }

    let everyone = app.get("/api/calls/stats", &token).await.assert_ok(StatusCode::OK).clone();
    let of_a = app.get(&format!("/api/calls/stats?customer_id={a}"), &token).await.assert_ok(StatusCode::OK).clone();

    assert_eq!(everyone["total_calls"], 2, "{everyone}");
    assert_eq!(everyone["avg_duration_seconds"], 20.0);
    assert_eq!(everyone, of_a, "the same calls, counted either way");
}

#[tokio::test]
async fn stats_refuse_a_bad_period() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    for query in ["days=0", "days=-3", "days=100000"] {
        assert!(
            app.get(&format!("/api/calls/stats?{query}"), &token)
                .await
                .assert_error(StatusCode::UNPROCESSABLE_ENTITY)
                .contains("days")
        );
    }
    app.get("/api/calls/stats?days=week", &token).await.assert_error(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn recent_returns_the_newest_calls_up_to_the_limit() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let a = app.insert_customer("A", "a@x.test", "active").await;
    let b = app.insert_customer("B", "b@x.test", "active").await;
    let mut a_calls = Vec::new();
    for minutes_ago in (0..12).rev() {
        let created_at = Utc::now() - Duration::minutes(minutes_ago * 2);
        a_calls.push(app.insert_call(NewCall { created_at, ..NewCall::completed(a) }).await);
    }
    let b_call =
        app.insert_call(NewCall { created_at: Utc::now() - Duration::minutes(1), ..NewCall::completed(b) }).await;

    let default = app.get("/api/calls/recent", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(keys(&default), ["calls"]);
    assert_eq!(ids(&default).len(), 10);
    assert_eq!(ids(&default)[..2], [a_calls[11], b_call]);

    let of_a =
        app.get(&format!("/api/calls/recent?customer_id={a}&limit=3"), &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(ids(&of_a), [a_calls[11], a_calls[10], a_calls[9]]);

    for limit in ["0", "101"] {
        app.get(&format!("/api/calls/recent?limit={limit}"), &token)
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    }
}
