//! Prometheus metrics at `GET /metrics` (text format), protected by `METRICS_TOKEN` (required
//! in production): requests by route and status with latency histograms, the database pool,
//! the job queue, calls in progress, and third-party call latency and errors (recorded by the
//! clients through [`crate::telemetry::record_external`]).
//!
//! The job queue and call figures come from one database query, reused for [`FIGURES_TTL`]:
//! a scraper every 15 s or more always sees fresh figures, and a flood of requests costs the
//! database one query per interval, not one per request.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use secrecy::ExposeSecret;
use sqlx::PgPool;

use super::AppState;
use super::error::AppError;

/// Latency buckets in seconds, from a fast JSON answer to a slow model call.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The process-wide recorder (metrics are global by design; tests share it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
            .expect("latency buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; then that one records.
        let _ = metrics::set_global_recorder(recorder);
        start_upkeep(handle.clone());
        handle
    })
}

/// How often recorded latencies are folded into their buckets.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Folds recorded latencies into their buckets every few seconds. The recorder keeps every
/// sample until then: with upkeep only at scrape time, memory grew with traffic between
/// scrapes (about 5 MB per 10 s of `/health` at full speed, and without bound when nothing
/// scrapes).
fn start_upkeep(handle: PrometheusHandle) {
    let started = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
        loop {
            std::thread::sleep(UPKEEP_INTERVAL);
            handle.run_upkeep();
        }
    });
    if let Err(error) = started {
        tracing::warn!(%error, "cannot start metrics upkeep; samples are folded at each scrape only");
    }
}

/// How long the database figures behind `/metrics` are reused.
pub const FIGURES_TTL: Duration = Duration::from_secs(5);

/// The job queue and call figures `/metrics` reads from the database.
#[derive(Debug, Clone, Copy)]
struct Figures {
    queued: i64,
    failing: i64,
    active_calls: i64,
}

/// The last database figures and when they were read (`None` figures: the query failed,
/// which is not retried before [`FIGURES_TTL`] either, so an outage is not hammered).
#[derive(Debug, Default)]
pub struct FiguresCache {
    last: tokio::sync::Mutex<Option<(Instant, Option<Figures>)>>,
}

impl FiguresCache {
    /// The figures of the last [`FIGURES_TTL`], or fresh ones. Requests arriving while the
    /// query runs wait for its answer instead of running their own.
    async fn get(&self, db: &PgPool) -> Option<Figures> {
        let mut last = self.last.lock().await;
        if let Some((read_at, figures)) = *last
            && read_at.elapsed() < FIGURES_TTL
        {
            return figures;
        }
        let figures = sqlx::query_as!(
            Figures,
            r#"SELECT (SELECT count(*) FROM graphile_worker._private_jobs WHERE attempts < max_attempts) AS "queued!",
                      (SELECT count(*) FROM graphile_worker._private_jobs WHERE attempts >= max_attempts
                          OR (attempts > 0 AND last_error IS NOT NULL)) AS "failing!",
                      (SELECT count(*) FROM calls WHERE status = 'in_progress' AND channel = 'voice'
                                                         AND created_at > now() - interval '4 hours')
                          AS "active_calls!""#
        )
        .fetch_one(db)
        .await
        .inspect_err(|error| tracing::warn!(%error, "metrics: database figures unavailable"))
        .ok();
        *last = Some((Instant::now(), figures));
        figures
    }
}

/// Middleware: counts each request and its latency by method, matched route and status.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = [("method", method.to_owned()), ("route", route), ("status", response.status().as_u16().to_string())];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// A request method as a metrics label, from a closed set: any client can send any method
/// token, and each distinct label is a series kept for the life of the process.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 401, description = "METRICS_TOKEN (required in production) was not presented", body = crate::http::error::ErrorBody)
    ),
    security((), ("metrics_token" = []))
)]
pub async fn get_metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Result<Response, AppError> {
    if let Some(token) = &state.config.metrics_token {
        let presented =
            headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        let matches = presented.is_some_and(|p| {
            aws_lc_rs::constant_time::verify_slices_are_equal(p.as_bytes(), token.expose_secret().as_bytes()).is_ok()
        });
        if !matches {
            return Err(AppError::Unauthorized("a valid metrics token is required"));
        }
    }
    metrics::gauge!("db_pool_connections").set(f64::from(state.db.size()));
    metrics::gauge!("db_pool_idle_connections").set(state.db.num_idle() as f64);
    // A database outage leaves the queue and call figures stale.
    if let Some(figures) = state.metrics_figures.get(&state.db).await {
        metrics::gauge!("job_queue_depth").set(figures.queued as f64);
        metrics::gauge!("job_queue_failing").set(figures.failing as f64);
        metrics::gauge!("active_calls").set(figures.active_calls as f64);
    }
    let handle = handle();
    handle.run_upkeep();
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response())
}
