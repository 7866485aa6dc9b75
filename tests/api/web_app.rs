//! The web app's files under `/app/`: served from the binary with a strict CSP, typed,
//! revalidated by ETag, and nothing outside `web/`.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::helpers::TestApp;

/// Status, headers and body text of a plain `GET`.
async fn fetch(app: &TestApp, uri: &str, if_none_match: Option<&str>) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::get(uri);
    if let Some(tag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, tag);
    }
    let response = app.app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn the_app_page_loads_its_module_under_a_csp_without_inline_script() {
    let app = TestApp::spawn().await;

    for uri in ["/app", "/app/"] {
        let (status, headers, body) = fetch(&app, uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(body.contains(r#"<script type="module" src="/app/js/main.js"></script>"#), "{body}");
        assert!(!body.contains("<script>"), "no inline script: {body}");
    }
    let (status, headers, body) = fetch(&app, "/app/js/main.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert!(body.contains("import"), "the module itself");
    let (status, headers, _) = fetch(&app, "/app/app.css", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
}

#[tokio::test]
async fn an_unchanged_file_is_revalidated_with_304() {
    let app = TestApp::spawn().await;
    let (_, headers, _) = fetch(&app, "/app/js/api.js", None).await;
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "a deploy is seen at the next load");
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();

    let (status, headers, body) = fetch(&app, "/app/js/api.js", Some(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(headers[header::ETAG].to_str().unwrap(), etag);
    let (status, _, _) = fetch(&app, "/app/js/api.js", Some("\"stale\"")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn files_outside_the_app_or_missing_are_a_json_404() {
    let app = TestApp::spawn().await;
    for uri in ["/app/nope.js", "/app/%2e%2e/Cargo.toml", "/app/..%2fCargo.toml", "/app/js/%2e%2e/%2e%2e/src/main.rs"] {
        let (status, headers, body) = fetch(&app, uri, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{uri}");
        assert!(!body.contains("[package]") && !body.contains("fn main"), "{uri} leaked a file: {body}");
    }
}
