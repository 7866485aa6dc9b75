//! The test harness: a real PostgreSQL (`DATABASE_URL`, or a throwaway cluster started
//! here), a migrated template database, and for each test a fresh database copied from it,
//! so tests run in parallel and never see each other's rows.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{DateTime, Utc};
use deskringer::auth::{Principal, Role};
use deskringer::config::Config;
use deskringer::db::local_cluster::{LocalCluster, ThrowawayCluster};
use deskringer::db::quote_identifier;
use deskringer::http::{self, App, AppState};
use http_body_util::BodyExt;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};
use tower::ServiceExt;

/// The server every test database lives on.
struct TestServer {
    maintenance: PgConnectOptions,
    template: String,
    /// Kept alive for the whole test process; cleaned up when it exits.
    _cluster: Option<ThrowawayCluster>,
}

static SERVER: OnceLock<TestServer> = OnceLock::new();
static NEXT_DATABASE: AtomicU64 = AtomicU64::new(0);

fn server() -> &'static TestServer {
    // Set up on a thread of its own: each test has its own runtime, and connections must
    // not outlive the runtime that made them.
    SERVER.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(start_server())
        })
        .join()
        .expect("test database setup panicked")
    })
}

async fn start_server() -> TestServer {
    let (maintenance, cluster) = match std::env::var("DATABASE_URL").ok().filter(|url| !url.is_empty()) {
        Some(url) => (url.parse::<PgConnectOptions>().expect("DATABASE_URL is not a PostgreSQL URL"), None),
        None => {
            let cluster = LocalCluster::start_throwaway().expect("cannot start a throwaway PostgreSQL");
            (cluster.connect_options("postgres"), Some(cluster))
        }
    };
    let template = create_template(&maintenance).await;
    TestServer { maintenance, template, _cluster: cluster }
}

/// Creates (once per set of migrations) a migrated template database. The name carries a
/// hash of the migrations, so a shared `DATABASE_URL` server reuses it across runs; it is
/// built under another name and renamed, so a half-built template is never used.
async fn create_template(maintenance: &PgConnectOptions) -> String {
    let migrator = &deskringer::db::MIGRATOR;
    // Versions as well as contents: a migration renumbered (as when branches are merged)
    // must not reuse a template that recorded it under its old version.
    let fingerprint = migrator
        .iter()
        .flat_map(|m| m.version.to_le_bytes().into_iter().chain(m.checksum.iter().copied()))
        .fold(0xcbf29ce484222325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100000001b3));
    // The job queue's schema version is part of the template too.
    let template = format!("deskringer_test_template_{fingerprint:016x}_gw{}", graphile_worker_version());

    let mut conn = PgConnection::connect_with(maintenance).await.expect("cannot connect to the test PostgreSQL");
    sqlx::query("SELECT pg_advisory_lock(7177001)").execute(&mut conn).await.unwrap();
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&template)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    if !exists {
        let building = format!("{template}_building");
        execute(&mut conn, format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_identifier(&building))).await;
        execute(&mut conn, format!("CREATE DATABASE {}", quote_identifier(&building))).await;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(maintenance.clone().database(&building))
            .await
            .unwrap();
        deskringer::migrate(&pool).await.expect("migrations fail on a fresh database");
        pool.close().await;
        execute(
            &mut conn,
            format!("ALTER DATABASE {} RENAME TO {}", quote_identifier(&building), quote_identifier(&template)),
        )
        .await;
    }
    sqlx::query("SELECT pg_advisory_unlock(7177001)").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    template
}

/// Bumped when graphile_worker is upgraded, so a shared server builds a new template.
fn graphile_worker_version() -> &'static str {
    "0_14"
}

async fn execute(conn: &mut PgConnection, sql: String) {
    sqlx::query(AssertSqlSafe(sql.clone())).execute(conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A server running on a local port.
pub struct Served {
    /// Where it listens.
    pub address: std::net::SocketAddr,
    /// What its accept loop has seen.
    pub stats: std::sync::Arc<http::ServerStats>,
    /// Ends when the server has shut down.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A fresh, migrated database and the application over it.
pub struct TestApp {
    /// The application, exactly as `serve` builds it.
    pub app: App,
    /// The test's own database.
    pub db: PgPool,
    /// The state the app was built with (JWT keys, config).
    pub state: AppState,
    /// Dropped after the pool, with the app.
    database: TestDatabase,
}

impl TestApp {
    /// A new database and an app with the test configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with(Config::for_tests()).await
    }

    /// A new database and an app with `config`.
    pub async fn spawn_with(config: Config) -> Self {
        deskringer::telemetry::init_for_tests();
        let database = TestDatabase::create(Some(&server().template)).await;
        let db = PgPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(Duration::from_secs(10))
            // The server's own session settings, so tests run the plans production runs.
            .connect_with(deskringer::db::with_session_settings(database.connect_options()))
            .await
            .unwrap();
        let state = AppState::new(db.clone(), config).unwrap();
        TestApp { app: http::app(state.clone()), db, state, database }
    }

    /// Serves the app on a local port (for WebSocket clients), until the test ends, with
    /// the limits the configuration gives.
    pub async fn serve(&self) -> std::net::SocketAddr {
        let limits = http::ServerLimits::from_config(&self.state.config, u64::MAX);
        self.serve_with(limits, std::future::pending()).await.address
    }

    /// Serves the app on a local port within `limits` until `shutdown` completes.
    pub async fn serve_with(
        &self,
        limits: http::ServerLimits,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let stats = std::sync::Arc::new(http::ServerStats::default());
        let task = tokio::spawn(http::serve(listener, self.app.clone(), limits, stats.clone(), shutdown));
        Served { address, stats, task }
    }

    /// Serves a second server instance on a local port: the same database and configuration,
    /// its own in-process state (prepared model sessions, caches), as another replica has.
    pub async fn serve_another_instance(&self) -> std::net::SocketAddr {
        let state = AppState::new(self.db.clone(), (*self.state.config).clone()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = http::ServerLimits::from_config(&self.state.config, u64::MAX);
        let stats = std::sync::Arc::default();
        tokio::spawn(http::serve(listener, http::app(state), limits, stats, std::future::pending()));
        addr
    }

    /// A `DATABASE_URL` for this test's database, for running the binary against it.
    /// (Test-only: it carries no password, and socket paths have no characters to escape.)
    pub fn database_url(&self) -> String {
        let options = &server().maintenance;
        let (user, port) = (options.get_username(), options.get_port());
        match options.get_socket() {
            Some(socket) => {
                format!("postgres://{user}@localhost:{port}/{}?host={}", self.database.name, socket.display())
            }
            None => format!("postgres://{user}@{}:{port}/{}", options.get_host(), self.database.name),
        }
    }

    /// Sends a request through the whole middleware stack.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.app.clone().oneshot(request).await.expect("the app never fails at the service level");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse { status, headers, body, text }
    }

    /// A request with an optional bearer token and optional JSON body.
    pub async fn call(&self, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> TestResponse {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        self.send(request.unwrap()).await
    }

    /// `GET` with a token.
    pub async fn get(&self, uri: &str, token: &str) -> TestResponse {
        self.call(Method::GET, uri, Some(token), None).await
    }

    /// `POST` JSON with a token.
    pub async fn post(&self, uri: &str, token: &str, body: Value) -> TestResponse {
        self.call(Method::POST, uri, Some(token), Some(body)).await
    }

    /// `PUT` JSON with a token.
    pub async fn put(&self, uri: &str, token: &str, body: Value) -> TestResponse {
        self.call(Method::PUT, uri, Some(token), Some(body)).await
    }

    /// `DELETE` with a token.
    pub async fn delete(&self, uri: &str, token: &str) -> TestResponse {
        self.call(Method::DELETE, uri, Some(token), None).await
    }

    /// Creates an admin with `password` through the same query the API uses.
    pub async fn create_admin(&self, email: &str, password: &str) -> i64 {
        let hash = deskringer::auth::password::hash_password(password.to_owned().into()).await.unwrap();
        deskringer::db::admins::insert(&self.db, email, Some("Test Admin"), &hash).await.unwrap().id
    }

    /// A valid token for a new admin.
    pub async fn admin_token(&self) -> String {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO admins (email, name, password_hash) VALUES ('staff@deskringer.test', 'Staff', 'x') RETURNING id",
        )
        .fetch_one(&self.db)
        .await
        .unwrap();
        self.token(Role::Admin, id)
    }

    /// A valid token for `role` and row `id`.
    pub fn token(&self, role: Role, id: i64) -> String {
        self.state.jwt.issue(Principal { role, id, generation: 0 }).unwrap()
    }

    /// Inserts a business directly; returns its id.
    pub async fn insert_customer(&self, business_name: &str, email: &str, status: &str) -> i64 {
        sqlx::query_scalar(
            "INSERT INTO customers (business_name, email, subscription_status, trial_ends_at) \
             VALUES ($1, $2, $3, now() + interval '7 days') RETURNING id",
        )
        .bind(business_name)
        .bind(email)
        .bind(status)
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    /// Inserts a call; returns its id.
    pub async fn insert_call(&self, call: NewCall<'_>) -> i64 {
        sqlx::query_scalar(
            "INSERT INTO calls (customer_id, caller_phone, twilio_call_sid, status, duration_seconds, \
             callback_requested, twilio_cost, openai_cost, created_at, summary, transcript) \
             VALUES ($1, '+14155550199', $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(call.customer_id)
        .bind(format!("CA{}", rand_suffix()))
        .bind(call.status)
        .bind(call.duration_seconds)
        .bind(call.callback_requested)
        .bind(call.twilio_cost)
        .bind(call.openai_cost)
        .bind(call.created_at)
        .bind(call.summary)
        .bind(call.transcript)
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    /// Adds a spoken line to a call.
    pub async fn insert_log(&self, call_id: i64, speaker: &str, message: &str, at: DateTime<Utc>) {
        sqlx::query("INSERT INTO call_logs (call_id, speaker, message, timestamp) VALUES ($1, $2, $3, $4)")
            .bind(call_id)
            .bind(speaker)
            .bind(message)
            .bind(at)
            .execute(&self.db)
            .await
            .unwrap();
    }

    /// Counts rows of `table` (a fixed name from the test).
    pub async fn count(&self, table: &'static str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&self.db).await.unwrap()
    }
}

/// A database of a test's own on the test server, dropped with the value.
pub struct TestDatabase {
    pub name: String,
}

impl TestDatabase {
    /// A new database: a copy of `template`, or empty.
    pub async fn create(template: Option<&str>) -> Self {
        let server = server();
        let name = format!("deskringer_test_{}_{}", std::process::id(), NEXT_DATABASE.fetch_add(1, Ordering::Relaxed));
        let mut conn = PgConnection::connect_with(&server.maintenance).await.expect("cannot reach the test PostgreSQL");
        let sql = match template {
            Some(template) => {
                format!("CREATE DATABASE {} TEMPLATE {}", quote_identifier(&name), quote_identifier(template))
            }
            None => format!("CREATE DATABASE {}", quote_identifier(&name)),
        };
        // Copying a template fails while another session is briefly connected to it; retry.
        let mut attempt = 0;
        while let Err(error) = sqlx::query(AssertSqlSafe(sql.clone())).execute(&mut conn).await {
            attempt += 1;
            assert!(attempt < 50, "{sql}: {error}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        conn.close().await.unwrap();
        TestDatabase { name }
    }

    /// How to connect to it.
    pub fn connect_options(&self) -> PgConnectOptions {
        server().maintenance.clone().database(&self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Remove the test's database (ending its connections) so a shared server does not fill up.
        let maintenance = server().maintenance.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_identifier(&self.name));
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
                if let Ok(mut conn) = PgConnection::connect_with(&maintenance).await {
                    let _ = sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await;
                    let _ = conn.close().await;
                }
            })
        })
        .join();
    }
}

/// A call to insert; fill the rest with `..NewCall::completed(customer_id)`.
pub struct NewCall<'a> {
    pub customer_id: i64,
    pub status: &'a str,
    pub duration_seconds: Option<i32>,
    pub callback_requested: bool,
    pub twilio_cost: f64,
    pub openai_cost: f64,
    pub created_at: DateTime<Utc>,
    pub summary: Option<&'a str>,
    pub transcript: Option<&'a str>,
}

impl NewCall<'_> {
    /// A completed one-minute call made just now.
    pub fn completed(customer_id: i64) -> Self {
        NewCall {
            customer_id,
            status: "completed",
            duration_seconds: Some(60),
            callback_requested: false,
            twilio_cost: 0.0085,
            openai_cost: 0.002,
            created_at: Utc::now(),
            summary: Some("Caller asked about opening hours."),
            transcript: Some("Caller: When are you open?\nAI: 9 to 5."),
        }
    }
}

fn rand_suffix() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A response, its body parsed as JSON (`Null` when it is not JSON).
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestResponse {
    /// Asserts the status and that the body is the API's JSON error shape.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode) -> &str {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert!(
            self.headers.get(header::CONTENT_TYPE).is_some_and(|v| v.to_str().unwrap().starts_with("application/json")),
            "error without a JSON content type: {:?}",
            self.headers
        );
        self.body["error"].as_str().unwrap_or_else(|| panic!("no `error` string in {}", self.text))
    }

    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn assert_ok(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.text);
        &self.body
    }
}

/// Sorted keys of a JSON object, for exact-shape assertions.
pub fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value.as_object().expect("an object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

/// The keys of a customer object, sorted.
pub const CUSTOMER_KEYS: &[&str] = &[
    "ai_instructions",
    "appointment_handling",
    "booking",
    "business_hours",
    "business_name",
    "business_type",
    "cancelled_at",
    "contact_name",
    "created_at",
    "deskringer_number",
    "email",
    "faqs",
    "forward_to_number",
    "greeting_message",
    "holiday_hours",
    "id",
    "languages",
    "missed_call_text",
    "notification_email",
    "notification_instructions",
    "notification_phone",
    "phone",
    "pricing_info",
    "reject_unverified_callers",
    "services_offered",
    "special_instructions",
    "subscription_status",
    "subscription_tier",
    "timezone",
    "trial_ends_at",
    "voice_mode",
];

/// The keys of a full call object, sorted.
pub const CALL_KEYS: &[&str] = &[
    "archived",
    "archived_at",
    "callback_requested",
    "caller_name",
    "caller_phone",
    "channel",
    "created_at",
    "customer_id",
    "direction",
    "duration_seconds",
    "ended_at",
    "handled",
    "handled_at",
    "id",
    "intent",
    "openai_cost",
    "status",
    "summary",
    "transcript",
    "twilio_call_sid",
    "twilio_cost",
];

/// The public base URL the test configuration uses (and Twilio signs).
pub const BASE_URL: &str = "https://deskringer.test";
/// The Twilio auth token of the test configuration.
pub const TWILIO_TOKEN: &str = "test-twilio-auth-token";

/// Local stand-ins for the third-party services.
pub struct Mocks {
    pub openai: wiremock::MockServer,
    pub twilio: wiremock::MockServer,
    pub sendgrid: wiremock::MockServer,
}

impl Mocks {
    /// Starts the three mock servers.
    pub async fn start() -> Self {
        Mocks {
            openai: wiremock::MockServer::start().await,
            twilio: wiremock::MockServer::start().await,
            sendgrid: wiremock::MockServer::start().await,
        }
    }

    /// A configuration pointing every service at its mock; `openai` and `sendgrid` switch
    /// those services on (Twilio SMS is always on), `extra` adds variables.
    pub fn config(&self, openai: bool, sendgrid: bool, extra: &[(&str, &str)]) -> Config {
        let mut vars: Vec<(String, String)> = vec![
            ("JWT_SECRET_KEY".into(), "test-secret-test-secret-test-secret!".into()),
            ("API_BASE_URL".into(), BASE_URL.into()),
            ("TWILIO_AUTH_TOKEN".into(), TWILIO_TOKEN.into()),
            ("TWILIO_ACCOUNT_SID".into(), "AC123".into()),
            ("OPENAI_BASE_URL".into(), self.openai.uri()),
            ("TWILIO_API_BASE_URL".into(), self.twilio.uri()),
            ("SENDGRID_API_BASE_URL".into(), self.sendgrid.uri()),
            ("STRIPE_API_BASE_URL".into(), "http://127.0.0.1:9".into()),
            ("PORTAL_URL".into(), "https://portal.deskringer.test".into()),
            ("NOTIFICATION_FROM_EMAIL".into(), "calls@deskringer.test".into()),
        ];
        if openai {
            vars.push(("OPENAI_API_KEY".into(), "sk-test".into()));
        }
        if sendgrid {
            vars.push(("SENDGRID_API_KEY".into(), "SG.test".into()));
        }
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Config::from_lookup(|name| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone())).unwrap()
    }
}

impl TestApp {
    /// A Twilio webhook POST to `path`, signed as Twilio would sign it.
    pub async fn twilio(&self, path: &str, params: &[(&str, &str)]) -> TestResponse {
        self.twilio_with_headers(path, params, &[]).await
    }

    /// A signed Twilio webhook POST carrying `headers` too (such as Twilio's
    /// `I-Twilio-Idempotency-Token`, which is not signed).
    pub async fn twilio_with_headers(
        &self,
        path: &str,
        params: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let owned: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let signature = deskringer::http::webhooks::twilio::signature::sign(
            TWILIO_TOKEN.as_bytes(),
            &format!("{BASE_URL}{path}"),
            &owned,
        );
        self.send(twilio_request(path, params, Some(&signature), headers)).await
    }

    /// A Twilio webhook POST with the given signature header (or none).
    pub async fn twilio_with_signature(
        &self,
        path: &str,
        params: &[(&str, &str)],
        signature: Option<&str>,
    ) -> TestResponse {
        self.send(twilio_request(path, params, signature, &[])).await
    }

    /// Runs every job that is due, as the worker inside `serve` would.
    pub async fn run_jobs(&self) {
        let worker = deskringer::jobs::worker(self.state.job_context(), std::future::pending()).await.unwrap();
        // A job may enqueue others; run until the queue has nothing due.
        for _ in 0..5 {
            worker.run_once().await.unwrap();
            let due: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM graphile_worker._private_jobs WHERE run_at <= now() AND locked_at IS NULL \
                 AND attempts < max_attempts",
            )
            .fetch_one(&self.db)
            .await
            .unwrap();
            if due == 0 {
                break;
            }
        }
    }

    /// Makes jobs waiting for a retry due now (instead of waiting for their backoff).
    pub async fn make_retries_due(&self) {
        sqlx::query("UPDATE graphile_worker._private_jobs SET run_at = now() WHERE attempts > 0")
            .execute(&self.db)
            .await
            .unwrap();
    }

    /// Runs the jobs waiting for a retry, twice over (a retry, then a check that nothing
    /// more is due), without waiting for their backoff.
    pub async fn run_retries(&self) {
        for _ in 0..2 {
            self.make_retries_due().await;
            self.run_jobs().await;
        }
    }

    /// Jobs still in the queue, by task identifier.
    pub async fn queued_jobs(&self) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT t.identifier FROM graphile_worker._private_jobs j \
             JOIN graphile_worker._private_tasks t ON t.id = j.task_id ORDER BY j.id",
        )
        .fetch_all(&self.db)
        .await
        .unwrap()
    }
}

fn twilio_request(
    path: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
    headers: &[(&str, &str)],
) -> Request<Body> {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(signature) = signature {
        request = request.header("x-twilio-signature", signature);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::from(body)).unwrap()
}

/// A TwiML answer, parsed.
pub struct Twiml {
    pub xml: String,
}

impl Twiml {
    /// Parses the response as TwiML; panics (failing the test) if it is not valid XML.
    #[track_caller]
    pub fn from(response: &TestResponse) -> Self {
        assert_eq!(response.status, StatusCode::OK, "{}", response.text);
        assert!(response.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/xml"));
        roxmltree::Document::parse(&response.text).unwrap_or_else(|e| panic!("invalid TwiML ({e}): {}", response.text));
        Twiml { xml: response.text.clone() }
    }

    fn with<T>(&self, f: impl FnOnce(&roxmltree::Document) -> T) -> T {
        f(&roxmltree::Document::parse(&self.xml).unwrap())
    }

    /// Top-level verbs in order.
    pub fn verbs(&self) -> Vec<String> {
        self.with(|doc| {
            doc.root_element().children().filter(|n| n.is_element()).map(|n| n.tag_name().name().to_owned()).collect()
        })
    }

    /// Every element named `tag`, as (attributes, text).
    pub fn all(&self, tag: &str) -> Vec<(std::collections::HashMap<String, String>, String)> {
        self.with(|doc| {
            doc.descendants()
                .filter(|n| n.has_tag_name(tag))
                .map(|n| {
                    let attrs = n.attributes().map(|a| (a.name().to_owned(), a.value().to_owned())).collect();
                    (attrs, n.text().unwrap_or_default().to_owned())
                })
                .collect()
        })
    }

    /// The texts of every `<Say>`.
    pub fn says(&self) -> Vec<String> {
        self.all("Say").into_iter().map(|(_, text)| text).collect()
    }

    /// The URLs of every `<Play>`.
    pub fn plays(&self) -> Vec<String> {
        self.all("Play").into_iter().map(|(_, text)| text).collect()
    }
}

/// What the application logs, at DEBUG and above for every crate, while this value lives.
///
/// How: a `fmt` subscriber writing into a shared buffer, made the *thread's* default
/// (`tracing::subscriber::set_default`) rather than the global one. A `#[tokio::test]` runs on
/// a current-thread runtime, so everything the test drives runs on its thread: requests sent
/// through the router (`oneshot`), the job worker's `run_once`, and any task either of them
/// `tokio::spawn`s (a future wrapped with `WithSubscriber` would miss those). The global
/// subscriber (`telemetry::init_for_tests`, with `TEST_LOG`) is left alone, and tests running
/// on other threads neither see this buffer nor write to it. Not covered: work moved to
/// `spawn_blocking` threads (password hashing), which handles no third-party secret.
pub struct CapturedLogs {
    buffer: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl CapturedLogs {
    /// Starts capturing on the current thread; the test must not move to another thread
    /// (`#[tokio::test]`'s default flavour).
    pub fn start() -> Self {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = {
            let buffer = buffer.clone();
            move || LogWriter(buffer.clone())
        };
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_ansi(false)
            .with_writer(writer)
            .finish();
        CapturedLogs { buffer, _guard: tracing::subscriber::set_default(subscriber) }
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).into_owned()
    }
}

/// One write of the capturing subscriber, appended to the shared buffer.
struct LogWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
