//! The HTTP API: application state, the router with its middleware, and serving.

pub mod account;
pub mod admin;
pub mod app;
pub mod appointments;
pub mod billing;
pub mod blocked_numbers;
pub mod calendar_admin;
pub mod calendar_feed;
pub mod calendar_google;
pub mod calls;
pub mod customers;
pub mod error;
pub mod extract;
pub mod field_error;
pub mod figures;
pub mod login_limit;
pub mod metrics;
pub mod openapi;
pub mod outside_calendar;
pub mod pagination;
pub mod phone_numbers;
pub mod portal;
pub mod server;
pub mod service;
pub mod standing;
pub mod validate;
pub mod webhooks;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;
use sqlx::PgPool;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::JwtKeys;
use crate::clients::Clients;
use crate::config::Config;
use crate::speech::SpeechService;
use error::AppError;
pub use server::{ServerLimits, ServerStats, serve};

/// Largest request body accepted (JSON settings of a large business fit comfortably).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Longest time a request may take before it is answered 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler can reach. Cheap to clone: a pool handle and two `Arc`s.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The PostgreSQL pool.
    pub db: PgPool,
    /// The configuration read at start-up.
    pub config: Arc<Config>,
    /// Access token keys.
    pub jwt: Arc<JwtKeys>,
    /// Third-party clients.
    pub clients: Arc<Clients>,
    /// Text to speech for calls.
    pub speech: Arc<SpeechService>,
    /// Login attempt counters.
    pub login_limiter: Arc<login_limit::LoginLimiter>,
    /// Whether the accounts behind tokens still stand.
    pub standings: Arc<standing::Standings>,
    /// Realtime model sessions opened while answering `voice`, waiting for their stream.
    pub model_sessions: Arc<webhooks::twilio::media_stream::prepared::PreparedSessions>,
    /// The database figures `/metrics` shows, reused for a few seconds.
    pub metrics_figures: Arc<metrics::FiguresCache>,
}

impl AppState {
    /// Builds the state from a pool and a configuration.
    pub fn new(db: PgPool, config: Config) -> anyhow::Result<Self> {
        metrics::handle();
        let jwt = Arc::new(JwtKeys::new(config.jwt_secret_bytes()));
        let clients = Arc::new(Clients::new(&config)?);
        let audio_url = format!("{}{}", config.api_base_url, webhooks::twilio::tts::TTS_PATH);
        let speech = Arc::new(SpeechService::new(clients.openai.clone(), config.jwt_secret_bytes(), &audio_url));
        let (login_limiter, standings) = (Arc::default(), Arc::default());
        let (model_sessions, metrics_figures) = (Arc::default(), Arc::default());
        Ok(Self {
            db,
            config: Arc::new(config),
            jwt,
            clients,
            speech,
            login_limiter,
            standings,
            model_sessions,
            metrics_figures,
        })
    }

    /// What background jobs need from the state.
    pub fn job_context(&self) -> crate::jobs::JobContext {
        crate::jobs::JobContext { db: self.db.clone(), config: self.config.clone(), clients: self.clients.clone() }
    }
}

/// The whole application as one service. Trailing slashes are trimmed before routing, so
/// `/api/customers/` and `/api/customers` reach the same handler.
pub type App = tower::util::MapRequest<Router, fn(Request) -> Request>;

/// Builds the application: every route, and the middleware every request passes through.
pub fn app(state: AppState) -> App {
    let cors = cors_layer(&state.config);
    let (router, spec) = api_router().split_for_parts();
    let router = router
        // Swagger UI reads the same document as `/api/openapi.json`.
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/api/openapi.json", spec))
        .merge(app::router())
        .fallback(route_not_found)
        .layer(
            // Listed outermost first.
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(axum::middleware::from_fn(metrics::track_requests))
                .layer(cors)
                .layer(axum::middleware::map_response(security_headers))
                .layer(axum::middleware::map_response(json_error_bodies))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, REQUEST_TIMEOUT))
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .with_state(state);
    tower::ServiceExt::map_request(router, trim_trailing_slash as fn(Request) -> Request)
}

/// `/api/customers/` becomes `/api/customers` (query kept). Swagger UI's own pages under
/// `/docs/` are left as they are: it redirects `/docs` to `/docs/`.
///
/// Not tower-http's `NormalizePathLayer`: it trims every path, `/docs/` included, so the
/// Swagger UI page would redirect to itself for ever (and its assets, linked relative to
/// `/docs/`, would not load).
fn trim_trailing_slash(mut request: Request) -> Request {
    let uri = request.uri();
    let path = uri.path();
    if path.len() > 1 && path.ends_with('/') && !path.starts_with("/docs") {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let path_and_query = match uri.query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_owned(),
        };
        let mut parts = uri.clone().into_parts();
        if let Ok(value) = path_and_query.parse() {
            parts.path_and_query = Some(value);
            if let Ok(new_uri) = axum::http::Uri::from_parts(parts) {
                *request.uri_mut() = new_uri;
            }
        }
    }
    request
}

/// Every documented route, with the OpenAPI paths collected from their annotations.
fn api_router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa::OpenApi;
    utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(service::router())
        .nest(
            "/api/admin",
            admin::router()
                .merge(phone_numbers::admin_router())
                .merge(calendar_admin::router())
                .merge(blocked_numbers::admin_router()),
        )
        .nest("/api/customers", customers::router().merge(phone_numbers::customer_router()))
        .nest("/api/calls", calls::router())
        .nest("/api/stripe", billing::router())
        .nest("/api/portal", portal::router().merge(blocked_numbers::portal_router()))
        .merge(calendar_feed::router())
        .merge(calendar_google::router())
        .nest("/api/webhooks", webhooks::router())
        .routes(utoipa_axum::routes!(metrics::get_metrics))
}

/// The OpenAPI document of every route (also served at `/api/openapi.json`).
pub fn openapi_spec() -> utoipa::openapi::OpenApi {
    api_router().split_for_parts().1
}

/// The request's span: method, the matched route (never the raw path, which carries ids)
/// and the request id.
fn request_span(request: &Request<Body>) -> tracing::Span {
    let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or("unmatched");
    let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
    tracing::info_span!("request", method = %request.method(), route, request_id)
}

/// CORS for the browser dashboards: the configured origins; in development without a list,
/// any origin (tokens travel in a header, never in cookies).
fn cors_layer(config: &Config) -> CorsLayer {
    let origins: Vec<HeaderValue> = config.cors_allowed_origins.iter().filter_map(|o| o.parse().ok()).collect();
    let allow_origin =
        if origins.is_empty() && !config.is_production() { AllowOrigin::any() } else { AllowOrigin::list(origins) };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS])
        .allow_headers([AUTHORIZATION, CONTENT_TYPE])
        .max_age(Duration::from_secs(3600))
}

async fn route_not_found() -> AppError {
    AppError::NotFound("no such route".into())
}

/// Gives every error answered without a JSON body (405 from the router, 503 from the
/// timeout, ...) the API's error shape, so clients never see an empty or HTML body.
async fn json_error_bodies<B>(response: Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response.map(Body::new);
    }
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed".to_owned(),
        StatusCode::SERVICE_UNAVAILABLE => "the service is temporarily unavailable, please retry".to_owned(),
        other => other.canonical_reason().unwrap_or("request failed").to_lowercase(),
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let body = Json(json!({"error": message})).into_response();
    let (body_parts, body) = body.into_parts();
    parts.headers.extend(body_parts.headers);
    Response::from_parts(parts, body)
}

/// Headers every response carries: no MIME sniffing, no framing, no referrer, and for JSON
/// no caching and no active content.
async fn security_headers(mut response: Response) -> Response {
    use axum::http::header::{
        CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
    };
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if is_json {
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
        headers.entry(CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    }
    response
}

/// A panic in a handler is a bug: log it and answer the JSON error shape.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "handler panicked");
    (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": "internal server error"}))).into_response()
}
