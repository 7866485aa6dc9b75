//! The OpenAPI document: served, complete, and matching the router in both directions.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::TestApp;

async fn spec(app: &TestApp) -> Value {
    let response = app.call(Method::GET, "/api/openapi.json", None, None).await;
    response.assert_ok(StatusCode::OK).clone()
}

fn operations(spec: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_both_token_schemes() {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["admin_token"]["scheme"], "bearer");
    assert_eq!(schemes["customer_token"]["scheme"], "bearer");
    assert_eq!(spec["paths"]["/api/customers"]["get"]["security"][0]["admin_token"], serde_json::json!([]));
    assert_eq!(spec["paths"]["/api/portal/calls"]["get"]["security"][0]["customer_token"], serde_json::json!([]));
    for schema in
        ["Customer", "Call", "AdminCall", "CallRecord", "Admin", "ErrorBody", "BusinessHours", "DayHours", "Faq"]
    {
        assert!(spec["components"]["schemas"][schema].is_object(), "{schema} is not documented");
    }
    // Every operation documents its answers, errors included.
    for (method, path) in operations(&spec) {
        let responses = &spec["paths"][&path][method.to_lowercase()]["responses"];
        assert!(responses.as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
        // The calendar feed has no login: the token in its path is the proof.
        let public = path.contains("/webhooks/")
            || path.ends_with("/login")
            || path == "/api/calendar/{feed}"
            || path == "/api/calendar/google/callback";
        if path.starts_with("/api/") && !public {
            assert!(responses["401"].is_object(), "{method} {path} documents no 401");
        }
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;
    let ops = operations(&spec);
    // Admin 7 + 2 numbers + 1 calendars + 3 blocked numbers, customers 7 + 3 numbers + 1 diary,
    // calls 5, billing 4, portal 12 + 3 onboarding + 8 diary + 2 calendar feed + 5 connected
    // calendar + 4 blocked numbers, the calendar feed itself 1, Google's calendar callback 1,
    // webhooks 8 (Twilio 7, Stripe 1), service 4.
    assert_eq!(ops.len(), 82, "{ops:?}");
    for (method, path) in ops {
        let uri = path.replace("{id}", "1");
        let method: Method = method.parse().unwrap();
        let response = app.call(method.clone(), &uri, None, None).await;
        assert_ne!(response.body["error"], "no such route", "{method} {path} is documented but not routed");
        assert_ne!(response.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
}

#[test]
fn every_route_goes_through_the_documented_router() {
    // Routes registered with utoipa-axum's `routes!` are in the document by construction;
    // a plain `.route(` would add one the document does not describe. The one exception is
    // the web app's files (`src/http/app.rs`): pages and scripts for browsers, not JSON API,
    // like the Swagger UI that is merged beside the document.
    const NOT_API: &[&str] = &["src/http/app.rs"];
    fn visit(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                visit(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") && !NOT_API.iter().any(|file| path.ends_with(file)) {
                let text = std::fs::read_to_string(&path).unwrap();
                for (n, line) in text.lines().enumerate() {
                    let plain_router = line.replace("OpenApiRouter::new()", "").contains("Router::new()");
                    if line.contains(".route(") || line.contains(".route_service(") || plain_router {
                        found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    let mut found = Vec::new();
    visit(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
    assert!(found.is_empty(), "routes outside the OpenAPI router:\n{}", found.join("\n"));
}

#[tokio::test]
async fn swagger_ui_is_served_at_docs() {
    let app = TestApp::spawn().await;
    let page = app.call(Method::GET, "/docs/", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("swagger"), "{}", &page.text[..page.text.len().min(300)]);
    let redirect = app.call(Method::GET, "/docs", None, None).await;
    assert!(redirect.status.is_redirection());
}
