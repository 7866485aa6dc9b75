//! What the browser enforces: the app's Content-Security-Policy, and text from businesses and
//! callers shown as text, never as HTML.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use super::{Browser, PHONE, create_owner};
use crate::helpers::TestApp;

/// The policy every file of the app carries (src/http/app.rs).
const APP_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// Markup that would run script if a screen inserted it as HTML.
const MARKUP: &str = r#"<img src=x onerror="window.__xss = 1">"#;

#[tokio::test]
async fn the_apps_pages_carry_the_strict_csp_and_the_browser_enforces_it() {
    // The header, on the page and on its scripts and styles.
    let app = TestApp::spawn().await;
    for path in ["/app", "/app/", "/app/js/main.js", "/app/js/signin.js", "/app/app.css"] {
        let response = app.call(Method::GET, path, None, None).await;
        assert_eq!(response.status, StatusCode::OK, "{path}");
        assert_eq!(response.headers["content-security-policy"], APP_CSP, "{path}");
    }
    let Some(browser) = Browser::open(&app, PHONE).await else { return };
    browser.go("signin").await;
    browser.wait_for_heading("Sign in to DeskRinger").await;
    assert_eq!(browser.console_errors().await, Vec::<String>::new(), "the app itself breaks no rule");

    // An inline script (what injected markup would carry) is refused and reported.
    browser
        .js(
            "document.addEventListener('securitypolicyviolation', (e) => { window.__violated = e.effectiveDirective; });
             const script = document.createElement('script');
             script.textContent = 'window.__inlineRan = true';
             document.body.append(script);",
            vec![],
        )
        .await;
    let violated = browser
        .eventually(
            || "a CSP violation event".to_owned(),
            || async { Ok(browser.js("return window.__violated || null", vec![]).await.as_str().map(str::to_owned)) },
        )
        .await;
    assert_eq!(violated, "script-src-elem");
    assert_eq!(browser.js("return window.__inlineRan === undefined", vec![]).await, true);
    let errors = browser.console_errors().await;
    assert!(errors.iter().any(|e| e.contains("inline script") && e.contains("Content Security Policy")), "{errors:?}");
    browser.close().await;
}

#[tokio::test]
async fn a_business_name_with_markup_is_shown_as_text() {
    // Arrange: a business whose name is markup; it shows in the header once signed in.
    let app = TestApp::spawn().await;
    create_owner(&app, MARKUP, "owner@bella.test", "portal-pass-1").await;
    let Some(browser) = Browser::open(&app, PHONE).await else { return };

    // Act
    browser.sign_in_as_owner("owner@bella.test", "portal-pass-1").await;

    // Assert: the characters themselves, no element made from them, nothing run.
    assert_eq!(browser.text_of_css("#account span").await, MARKUP);
    assert_eq!(browser.js("return document.querySelectorAll('img[src=x]').length", vec![]).await, 0);
    assert_eq!(browser.js("return window.__xss === undefined", vec![]).await, Value::Bool(true));
    browser.close().await;
}

// A caller name with markup, on the owner's calls list and a call's page: owner_calls.rs.
