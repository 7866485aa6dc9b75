//! The web app under `/app/`: owners' and staff's screens, plain HTML, CSS and ES modules
//! from `web/`, talking to the JSON API of the same origin.
//!
//! The files are compiled into release builds (rust-embed), so the binary is all a deploy
//! needs. Debug builds read them from `web/` on every request instead, so an edit shows on
//! reload without a rebuild.

use axum::Router;
use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::error::AppError;

/// The app's files, from `web/` beside `Cargo.toml`.
#[derive(rust_embed::Embed)]
#[folder = "web/"]
struct Assets;

/// No inline script or style, nothing from another origin, no framing: text that callers
/// and businesses wrote can never run as code even if a screen mistakenly treated it as HTML.
const APP_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// `/app` (and `/app/`, trimmed to it) and the files below it.
pub fn router() -> Router<AppState> {
    Router::new().route("/app", get(index)).route("/app/{*path}", get(asset))
}

/// The single page; every screen is a `#/...` route inside it.
async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// One file of the app.
async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// The file with its type and an ETag; `304` when the browser already has this version.
/// Files are revalidated on every load (`no-cache`), so a deploy is seen at once.
fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return AppError::NotFound(format!("{path} is not a file of the web app")).into_response();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let mut response = if headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = file.data.into_owned().into_response();
        let mime = file.metadata.mimetype();
        let mime = if mime.starts_with("text/") || mime.ends_with("javascript") {
            format!("{mime}; charset=utf-8")
        } else {
            mime.to_owned()
        };
        if let Ok(value) = HeaderValue::from_str(&mime) {
            response.headers_mut().insert(CONTENT_TYPE, value);
        }
        response
    };
    let out = response.headers_mut();
    out.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(APP_CSP));
    out.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(ETAG, value);
    }
    response
}

/// Lower-case hexadecimal of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
