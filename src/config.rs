//! The server's configuration, read from the environment once at start-up.
//!
//! Every variable is listed in `.env.example`. Reading fails fast with one message that
//! names every variable that is wrong, so an operator fixes them all in one go.

use std::fmt::Write as _;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::phone_country;
use crate::profile::VoiceMode;

/// Default port, as in the service this replaces.
const DEFAULT_PORT: u16 = 5000;
/// What production refuses to start without (also listed in `render.yaml`).
pub const REQUIRED_IN_PRODUCTION: &[&str] =
    &["DATABASE_URL", "JWT_SECRET_KEY", "API_BASE_URL", "TWILIO_AUTH_TOKEN", "METRICS_TOKEN"];

/// Where a test call may ring unless `TEST_CALL_COUNTRIES` says otherwise.
pub const DEFAULT_TEST_CALL_COUNTRIES: &[&str] = &["US", "CA"];

/// Twilio auth token used in development when none is set, so a call can be simulated
/// with signed requests (see the README). Production requires a real one.
pub const DEVELOPMENT_TWILIO_AUTH_TOKEN: &str = "deskringer-development-token";
/// Shortest JWT secret accepted in production (HS256 wants at least 256 bits).
const MIN_PRODUCTION_JWT_SECRET_LEN: usize = 32;

/// Where the server runs: development is forgiving, production refuses unsafe settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    /// Local work: a private PostgreSQL and a random JWT secret are acceptable.
    Development,
    /// A deployment: `DATABASE_URL`, a strong `JWT_SECRET_KEY`, `API_BASE_URL`,
    /// `TWILIO_AUTH_TOKEN` and `METRICS_TOKEN` are required.
    Production,
}

/// A third-party HTTP service: its base URL (overridable for tests and proxies) and its key.
/// The service is off when the key is absent.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// API key or secret; `None` switches the service off.
    pub api_key: Option<SecretString>,
}

impl ServiceConfig {
    /// Whether the service has a key and may be called.
    pub fn is_enabled(&self) -> bool {
        self.api_key.is_some()
    }
}

/// OpenAI settings: the conversation model and text to speech.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Base URL without a trailing slash (`https://api.openai.com/v1`).
    pub base_url: String,
    /// API key; without it the receptionist uses built-in replies and `<Say>`.
    pub api_key: Option<SecretString>,
    /// Chat model of the conversation and the post-call summary.
    pub model: String,
    /// Text-to-speech model.
    pub tts_model: String,
    /// Text-to-speech voice.
    pub tts_voice: String,
    /// Longest wait for a reply during a call, well inside Twilio's 15 s webhook limit.
    pub reply_deadline: Duration,
}

impl OpenAiConfig {
    /// Whether OpenAI may be called.
    pub fn is_enabled(&self) -> bool {
        self.api_key.is_some()
    }
}

/// Realtime voice settings: the OpenAI Realtime session a `realtime` business's calls use.
#[derive(Debug, Clone)]
pub struct RealtimeConfig {
    /// WebSocket URL of the Realtime API, without the `?model=` query.
    pub url: String,
    /// Realtime model.
    pub model: String,
    /// The receptionist's voice.
    pub voice: String,
    /// Caller silence before the receptionist checks in (and, a second time, says goodbye).
    pub idle: Duration,
    /// Longest call; then the receptionist closes it politely.
    pub max_call: Duration,
    /// Voice mode of a new business.
    pub default_voice_mode: VoiceMode,
}

/// Twilio settings: REST API access and the webhook signing token.
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    /// REST API base URL without a trailing slash.
    pub base_url: String,
    /// Account SID used in REST paths and basic auth.
    pub account_sid: Option<String>,
    /// Auth token: signs webhooks and authenticates REST calls.
    pub auth_token: Option<SecretString>,
    /// The platform's own number (SMS sender of last resort).
    pub phone_number: Option<String>,
    /// What a started minute of a call costs, in US dollars.
    pub cost_per_minute: f64,
    /// What one text message (sent or received) costs, in US dollars
    /// (`TWILIO_COST_PER_SMS`, default 0.0083).
    pub cost_per_sms: f64,
    /// How long a business stays cancelled before its number is released
    /// (`RELEASE_NUMBER_AFTER_DAYS`, default 30).
    pub release_number_after: chrono::Duration,
    /// Whether a business that subscribes without a number gets one bought for it
    /// (`AUTO_PROVISION_NUMBERS`, default off).
    pub auto_provision_numbers: bool,
    /// The countries a test call may ring, ISO 3166 codes in upper case
    /// (`TEST_CALL_COUNTRIES`, default `US,CA`): the platform pays for those calls.
    pub test_call_countries: Vec<String>,
}

impl TwilioConfig {
    /// Whether SMS can be sent (account SID and auth token are both set).
    pub fn can_send_sms(&self) -> bool {
        self.account_sid.is_some() && self.auth_token.is_some()
    }
}

/// Stripe settings.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// API base URL without a trailing slash.
    pub base_url: String,
    /// Secret API key; billing endpoints answer 503 without it.
    pub secret_key: Option<SecretString>,
    /// Webhook signing secret (`whsec_...`).
    pub webhook_secret: Option<SecretString>,
    /// The subscription price used for checkout sessions.
    pub price_id: Option<String>,
    /// How long a business whose payment failed keeps its service.
    pub past_due_grace: chrono::Duration,
}

/// Email sending settings.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// SendGrid base URL and key; emails are logged instead of sent without a key.
    pub sendgrid: ServiceConfig,
    /// Sender address of notification emails.
    pub from_email: String,
    /// Sender display name of notification emails.
    pub from_name: String,
}

/// Connected calendars (issue 19): Google OAuth, Cal.com, and the key sealing their tokens.
#[derive(Debug, Clone)]
pub struct CalendarConfig {
    /// OAuth client id of the Google Cloud project (`GOOGLE_CLIENT_ID`).
    pub google_client_id: Option<String>,
    /// OAuth client secret (`GOOGLE_CLIENT_SECRET`).
    pub google_client_secret: Option<SecretString>,
    /// Google's authorization server (`GOOGLE_OAUTH_URL`, default `https://accounts.google.com`).
    pub google_oauth_url: String,
    /// Google's token server (`GOOGLE_TOKEN_URL`, default `https://oauth2.googleapis.com`).
    pub google_token_url: String,
    /// Google Calendar API (`GOOGLE_CALENDAR_API_URL`, default `https://www.googleapis.com`).
    pub google_calendar_api_url: String,
    /// Cal.com API (`CALCOM_API_URL`, default `https://api.cal.com`).
    pub calcom_api_url: String,
    /// The key sealing stored calendar tokens (`CALENDAR_TOKEN_KEY`, 32 bytes in base64);
    /// without it no calendar can be connected.
    pub token_key: Option<std::sync::Arc<crate::secrets::SecretKey>>,
}

impl CalendarConfig {
    /// Google's client id and secret, when both are set.
    pub fn google_client(&self) -> Option<(&str, &SecretString)> {
        Some((self.google_client_id.as_deref()?, self.google_client_secret.as_ref()?))
    }
}

/// How long and how much a client may hold a connection (see `http::server`).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Longest time to send a request's headers (`HEADER_READ_TIMEOUT_SECONDS`, default 10).
    pub header_read_timeout: Duration,
    /// Longest idle spell on a kept-alive connection (`IDLE_TIMEOUT_SECONDS`, default 75):
    /// longer than a load balancer's own keep-alive, so it never reuses a connection we close.
    pub idle_timeout: Duration,
    /// Most bytes of request line and headers (`MAX_HEADER_BYTES`, default 16384).
    pub max_header_bytes: usize,
    /// Most connections open at once (`MAX_CONNECTIONS`, default 4096; kept below the
    /// file-handle limit at start).
    pub max_connections: usize,
}

/// The whole configuration. Secrets are `SecretString`, so `Debug` never prints them.
#[derive(Debug, Clone)]
pub struct Config {
    /// Development or production rules.
    pub app_env: AppEnv,
    /// `DATABASE_URL`; `None` in development means "start a private PostgreSQL".
    pub database_url: Option<SecretString>,
    /// TCP port to listen on.
    pub port: u16,
    /// HS256 signing key of access tokens.
    pub jwt_secret: SecretString,
    /// Public base URL, used in TwiML callbacks and Twilio signature checks.
    pub api_base_url: String,
    /// Browser origins allowed by CORS.
    pub cors_allowed_origins: Vec<String>,
    /// Twilio REST and webhook settings.
    pub twilio: TwilioConfig,
    /// OpenAI settings.
    pub openai: OpenAiConfig,
    /// Realtime voice settings (used when OpenAI is on).
    pub realtime: RealtimeConfig,
    /// Email settings.
    pub email: EmailConfig,
    /// Stripe settings.
    pub stripe: StripeConfig,
    /// Admin dashboard address, linked from emails.
    pub admin_dashboard_url: Option<String>,
    /// Customer portal address, linked from emails.
    pub portal_url: Option<String>,
    /// Development only: first admin created at start when no admin exists yet.
    pub bootstrap_admin: Option<(String, SecretString)>,
    /// Whether the last `X-Forwarded-For` entry is the client's address (behind one
    /// trusted proxy such as Render's); used to rate-limit logins per client.
    pub trust_forwarded_for: bool,
    /// Bearer token required by `/metrics`; open when unset (development only: production
    /// requires one, as the figures tell an outsider about every business's traffic).
    pub metrics_token: Option<SecretString>,
    /// Connection limits and timeouts.
    pub server: ServerConfig,
    /// Connected calendars.
    pub calendar: CalendarConfig,
}

/// Why the configuration could not be read: every problem, one per line.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n{0}")]
pub struct ConfigError(String);

impl Config {
    /// Reads the process environment (after `.env`, which `main` loads in development).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests can pass a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        // Empty values count as unset: `.env` files often carry `KEY=` placeholders.
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut problems = String::new();
        let mut problem = |msg: String| {
            let _ = writeln!(problems, "  - {msg}");
        };

        let app_env = match get("APP_ENV").as_deref() {
            None | Some("development" | "dev" | "test") => AppEnv::Development,
            Some("production" | "prod") => AppEnv::Production,
            Some(other) => {
                problem(format!("APP_ENV must be `development` or `production`, not `{other}`"));
                AppEnv::Development
            }
        };
        let production = app_env == AppEnv::Production;

        let port = match get("PORT") {
            None => DEFAULT_PORT,
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                problem(format!("PORT must be a port number (0-65535), not `{raw}`"));
                DEFAULT_PORT
            }),
        };

        let database_url = get("DATABASE_URL");
        match &database_url {
            Some(url) if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) => {
                problem("DATABASE_URL must start with postgres:// or postgresql://".into())
            }
            None if production => problem("DATABASE_URL is required in production".into()),
            _ => {}
        }

        let jwt_secret = match get("JWT_SECRET_KEY") {
            Some(secret) => {
                if production && secret.len() < MIN_PRODUCTION_JWT_SECRET_LEN {
                    problem(format!(
                        "JWT_SECRET_KEY must be at least {MIN_PRODUCTION_JWT_SECRET_LEN} bytes in production"
                    ));
                }
                secret
            }
            None => {
                if production {
                    problem("JWT_SECRET_KEY is required in production".into());
                }
                random_secret()
            }
        };

        let api_base_url = match get("API_BASE_URL") {
            Some(url) => match parse_base_url(&url) {
                Some(url) => url,
                None => {
                    problem(format!("API_BASE_URL must be an http(s) URL, not `{url}`"));
                    url
                }
            },
            None => {
                if production {
                    problem("API_BASE_URL is required in production".into());
                }
                format!("http://localhost:{port}")
            }
        };

        // The development token is printed in this file: it may only verify webhooks that
        // can come from this machine, so a server deployed without TWILIO_AUTH_TOKEN (and
        // without APP_ENV=production) refuses every webhook rather than accept forged calls.
        let twilio_auth_token = match get("TWILIO_AUTH_TOKEN") {
            Some(token) => Some(token),
            None => {
                if production {
                    problem("TWILIO_AUTH_TOKEN is required in production (it verifies Twilio webhooks)".into());
                }
                is_loopback_url(&api_base_url).then(|| DEVELOPMENT_TWILIO_AUTH_TOKEN.to_owned())
            }
        };

        let metrics_token = get("METRICS_TOKEN");
        if production && metrics_token.is_none() {
            problem("METRICS_TOKEN is required in production (without it /metrics is open to anyone)".into());
        }

        let mut number = |name: &str, default: f64, valid: fn(f64) -> bool| match get(name) {
            None => default,
            Some(raw) => match raw.parse::<f64>() {
                Ok(value) if valid(value) => value,
                _ => {
                    problem(format!("{name} must be a positive number, not `{raw}`"));
                    default
                }
            },
        };
        let reply_deadline = number("OPENAI_REPLY_DEADLINE_SECONDS", 8.0, |v| v > 0.0 && v <= 13.0);
        let cost_per_minute = number("TWILIO_COST_PER_MINUTE", 0.0085, |v| v >= 0.0 && v.is_finite());
        let cost_per_sms = number("TWILIO_COST_PER_SMS", 0.0083, |v| v >= 0.0 && v.is_finite());
        let idle_seconds = number("REALTIME_IDLE_SECONDS", 8.0, |v| v > 0.0 && v <= 600.0);
        let max_call_minutes = number("MAX_CALL_MINUTES", 20.0, |v| v > 0.0 && v <= 24.0 * 60.0);
        let grace_days = number("PAST_DUE_GRACE_DAYS", 7.0, |v| (0.0..=365.0).contains(&v));
        let release_after_days = number("RELEASE_NUMBER_AFTER_DAYS", 30.0, |v| (1.0..=3650.0).contains(&v));
        let header_read_seconds = number("HEADER_READ_TIMEOUT_SECONDS", 10.0, |v| (1.0..=120.0).contains(&v));
        let idle_seconds_http = number("IDLE_TIMEOUT_SECONDS", 75.0, |v| (1.0..=3600.0).contains(&v));
        let max_header_bytes =
            number("MAX_HEADER_BYTES", 16_384.0, |v| (4096.0..=65_536.0).contains(&v) && v.fract() == 0.0);
        let max_connections =
            number("MAX_CONNECTIONS", 4096.0, |v| (1.0..=1_000_000.0).contains(&v) && v.fract() == 0.0);
        let mut flag = |name: &str| match get(name).as_deref() {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => {
                problem(format!("{name} must be true or false, not `{other}`"));
                false
            }
        };
        let trust_forwarded_for = flag("TRUST_FORWARDED_FOR");
        let auto_provision_numbers = flag("AUTO_PROVISION_NUMBERS");

        let mut base_url = |name: &str, default: &str| match get(name) {
            None => default.to_owned(),
            Some(url) => parse_base_url(&url).unwrap_or_else(|| {
                problem(format!("{name} must be an http(s) URL, not `{url}`"));
                url
            }),
        };
        let openai_base = base_url("OPENAI_BASE_URL", "https://api.openai.com/v1");
        let twilio_base = base_url("TWILIO_API_BASE_URL", "https://api.twilio.com");
        let stripe_base = base_url("STRIPE_API_BASE_URL", "https://api.stripe.com");
        let sendgrid_base = base_url("SENDGRID_API_BASE_URL", "https://api.sendgrid.com");
        let google_oauth_url = base_url("GOOGLE_OAUTH_URL", "https://accounts.google.com");
        let google_token_url = base_url("GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com");
        let google_calendar_api_url = base_url("GOOGLE_CALENDAR_API_URL", "https://www.googleapis.com");
        let calcom_api_url = base_url("CALCOM_API_URL", "https://api.cal.com");

        let mut secret_key = |name: &str| {
            get(name).and_then(|raw| {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD.decode(raw.trim()).ok();
                let key = bytes.and_then(|b| crate::secrets::SecretKey::from_bytes(&b));
                if key.is_none() {
                    problem(format!(
                        "{name} must be {} random bytes in base64 (`openssl rand -base64 32`)",
                        crate::secrets::KEY_LEN
                    ));
                }
                key
            })
        };
        let token_key = secret_key("CALENDAR_TOKEN_KEY");
        // During a rotation: the key the stored secrets were sealed with until now.
        let previous_token_key = secret_key("CALENDAR_TOKEN_KEY_PREVIOUS");
        let token_key = match (token_key, previous_token_key) {
            (Some(key), Some(previous)) => match key.with_previous(previous) {
                Ok(key) => Some(key),
                Err(_) => {
                    problem(
                        "CALENDAR_TOKEN_KEY_PREVIOUS must be another key than CALENDAR_TOKEN_KEY (if it is another \
                         one, the two happen to share a key id: make another new key)"
                            .into(),
                    );
                    None
                }
            },
            (None, Some(_)) => {
                problem("CALENDAR_TOKEN_KEY_PREVIOUS is set without CALENDAR_TOKEN_KEY (the new key)".into());
                None
            }
            (key, None) => key,
        }
        .map(std::sync::Arc::new);
        let google_client_id = get("GOOGLE_CLIENT_ID");
        let google_client_secret = get("GOOGLE_CLIENT_SECRET");
        if google_client_id.is_some() != google_client_secret.is_some() {
            problem("GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET must be set together".into());
        }

        // `OPENAI_BASE_URL` as a WebSocket URL: https -> wss, http -> ws.
        let realtime_url = match get("OPENAI_REALTIME_URL") {
            Some(url)
                if (url.starts_with("wss://") || url.starts_with("ws://")) && !url.contains(char::is_whitespace) =>
            {
                url.trim_end_matches('/').to_owned()
            }
            Some(url) => {
                problem(format!("OPENAI_REALTIME_URL must be a ws(s):// URL, not `{url}`"));
                url
            }
            None => format!("{}/realtime", websocket_url(&openai_base)),
        };
        let default_voice_mode = match get("DEFAULT_VOICE_MODE") {
            None => VoiceMode::Standard,
            Some(raw) => VoiceMode::parse(&raw).unwrap_or_else(|| {
                problem(format!("DEFAULT_VOICE_MODE must be `standard` or `realtime`, not `{raw}`"));
                VoiceMode::Standard
            }),
        };

        let test_call_countries = match get("TEST_CALL_COUNTRIES") {
            None => DEFAULT_TEST_CALL_COUNTRIES.iter().map(|&c| c.to_owned()).collect(),
            Some(raw) => {
                let countries: Vec<String> = raw
                    .split(',')
                    .map(|country| country.trim().to_ascii_uppercase())
                    .filter(|country| !country.is_empty())
                    .collect();
                let unknown: Vec<&str> =
                    countries.iter().map(String::as_str).filter(|c| !phone_country::is_known_country(c)).collect();
                let rule = "TEST_CALL_COUNTRIES must be two-letter country codes separated by commas, like US,CA";
                if countries.is_empty() {
                    problem(format!("{rule}; it names none"));
                } else if !unknown.is_empty() {
                    problem(format!("{rule}; not known: {}", unknown.join(", ")));
                }
                countries
            }
        };

        let bootstrap_admin = match (get("ADMIN_EMAIL"), get("ADMIN_PASSWORD")) {
            (Some(email), Some(password)) if !production => Some((email, SecretString::from(password))),
            _ => None,
        };

        if !problems.is_empty() {
            return Err(ConfigError(problems.trim_end().to_owned()));
        }

        let secret = |name: &str| get(name).map(SecretString::from);
        Ok(Config {
            app_env,
            database_url: database_url.map(SecretString::from),
            port,
            jwt_secret: SecretString::from(jwt_secret),
            api_base_url,
            cors_allowed_origins: get("CORS_ALLOWED_ORIGINS")
                .map(|raw| {
                    raw.split(',')
                        .map(|origin| origin.trim().trim_end_matches('/').to_owned())
                        .filter(|origin| !origin.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            twilio: TwilioConfig {
                base_url: twilio_base,
                account_sid: get("TWILIO_ACCOUNT_SID"),
                auth_token: twilio_auth_token.map(SecretString::from),
                phone_number: get("TWILIO_PHONE_NUMBER"),
                cost_per_minute,
                cost_per_sms,
                release_number_after: chrono::Duration::seconds((release_after_days * 86_400.0) as i64),
                auto_provision_numbers,
                test_call_countries,
            },
            openai: OpenAiConfig {
                base_url: openai_base,
                api_key: secret("OPENAI_API_KEY"),
                model: get("OPENAI_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
                tts_model: get("OPENAI_TTS_MODEL").unwrap_or_else(|| "tts-1".into()),
                tts_voice: get("OPENAI_TTS_VOICE").unwrap_or_else(|| "alloy".into()),
                reply_deadline: Duration::from_secs_f64(reply_deadline),
            },
            realtime: RealtimeConfig {
                url: realtime_url,
                model: get("OPENAI_REALTIME_MODEL").unwrap_or_else(|| "gpt-realtime-mini".into()),
                voice: get("OPENAI_REALTIME_VOICE").unwrap_or_else(|| "marin".into()),
                idle: Duration::from_secs_f64(idle_seconds),
                max_call: Duration::from_secs_f64(max_call_minutes * 60.0),
                default_voice_mode,
            },
            email: EmailConfig {
                sendgrid: ServiceConfig { base_url: sendgrid_base, api_key: secret("SENDGRID_API_KEY") },
                from_email: get("NOTIFICATION_FROM_EMAIL").unwrap_or_else(|| "notifications@deskringer.com".into()),
                from_name: get("NOTIFICATION_FROM_NAME").unwrap_or_else(|| "DeskRinger".into()),
            },
            stripe: StripeConfig {
                base_url: stripe_base,
                secret_key: secret("STRIPE_SECRET_KEY"),
                webhook_secret: secret("STRIPE_WEBHOOK_SECRET"),
                price_id: get("STRIPE_PRICE_ID"),
                past_due_grace: chrono::Duration::seconds((grace_days * 86_400.0) as i64),
            },
            admin_dashboard_url: get("ADMIN_DASHBOARD_URL"),
            portal_url: get("PORTAL_URL"),
            bootstrap_admin,
            trust_forwarded_for,
            metrics_token: metrics_token.map(SecretString::from),
            server: ServerConfig {
                header_read_timeout: Duration::from_secs_f64(header_read_seconds),
                idle_timeout: Duration::from_secs_f64(idle_seconds_http),
                max_header_bytes: max_header_bytes as usize,
                max_connections: max_connections as usize,
            },
            calendar: CalendarConfig {
                google_client_id,
                google_client_secret: google_client_secret.map(SecretString::from),
                google_oauth_url,
                google_token_url,
                google_calendar_api_url,
                calcom_api_url,
                token_key,
            },
        })
    }

    /// A configuration for tests: development rules, a fixed JWT secret, every third-party
    /// service off and pointed at an address that refuses connections.
    pub fn for_tests() -> Self {
        Self::from_lookup(|name| {
            match name {
                "JWT_SECRET_KEY" => Some("test-secret-test-secret-test-secret!"),
                "TWILIO_AUTH_TOKEN" => Some("test-twilio-auth-token"),
                "API_BASE_URL" => Some("https://deskringer.test"),
                "OPENAI_BASE_URL"
                | "TWILIO_API_BASE_URL"
                | "STRIPE_API_BASE_URL"
                | "SENDGRID_API_BASE_URL"
                | "GOOGLE_OAUTH_URL"
                | "GOOGLE_TOKEN_URL"
                | "GOOGLE_CALENDAR_API_URL"
                | "CALCOM_API_URL" => Some("http://127.0.0.1:9"),
                _ => None,
            }
            .map(str::to_owned)
        })
        .expect("the test configuration is valid")
    }

    /// Whether production rules apply.
    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }

    /// One line per optional service that is off, for the start-up log.
    pub fn disabled_services(&self) -> Vec<&'static str> {
        let mut off = Vec::new();
        if !self.openai.is_enabled() {
            off.push("OpenAI is off (no OPENAI_API_KEY): the receptionist uses built-in replies");
        }
        if !self.email.sendgrid.is_enabled() {
            off.push("SendGrid is off (no SENDGRID_API_KEY): emails are logged instead of sent");
        }
        if self.stripe.secret_key.is_none() {
            off.push("Stripe is off (no STRIPE_SECRET_KEY): billing endpoints answer 503");
        }
        if self.twilio.auth_token.as_ref().is_some_and(|t| t.expose_secret() == DEVELOPMENT_TWILIO_AUTH_TOKEN) {
            off.push("Twilio webhooks are verified with the development token (set TWILIO_AUTH_TOKEN for real calls)");
        }
        if self.twilio.auth_token.is_none() {
            off.push(
                "Twilio webhooks are refused (403): TWILIO_AUTH_TOKEN is not set and API_BASE_URL is not a \
                 loopback address, so the development token does not apply",
            );
        }
        if self.calendar.token_key.is_none() {
            off.push("Connected calendars are off (no CALENDAR_TOKEN_KEY): connecting one answers 503");
        } else if self.calendar.google_client().is_none() {
            off.push("Google Calendar is off (no GOOGLE_CLIENT_ID/GOOGLE_CLIENT_SECRET): connecting it answers 503");
        }
        if !self.twilio.can_send_sms() {
            off.push(
                "Twilio REST is off (no TWILIO_ACCOUNT_SID): texts are logged instead of sent; buying numbers and test calls answer 503",
            );
            if self.twilio.auto_provision_numbers {
                off.push("AUTO_PROVISION_NUMBERS is on but Twilio REST is off: new subscribers get no number");
            }
        }
        off
    }

    /// The JWT secret's bytes, for building signing keys.
    pub fn jwt_secret_bytes(&self) -> &[u8] {
        self.jwt_secret.expose_secret().as_bytes()
    }
}

/// Whether `url`'s host is this machine (`localhost`, `127.0.0.0/8`, `[::1]`).
fn is_loopback_url(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else { return false };
    let host = url.host_str().unwrap_or_default();
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Accepts `http://` and `https://` URLs and drops a trailing slash, so paths can be appended.
fn parse_base_url(raw: &str) -> Option<String> {
    let rest = raw.strip_prefix("https://").or_else(|| raw.strip_prefix("http://"))?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
        return None;
    }
    Some(raw.trim_end_matches('/').to_owned())
}

/// An `http(s)://` URL as the matching WebSocket URL (`ws(s)://`).
pub fn websocket_url(http_url: &str) -> String {
    if let Some(rest) = http_url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = http_url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        http_url.to_owned()
    }
}

/// A random 256-bit secret, hex encoded, for development when none is configured.
fn random_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn development_needs_nothing() {
        let config = read(&[]).unwrap();
        assert_eq!(config.port, 5000);
        assert_eq!(config.api_base_url, "http://localhost:5000");
        assert!(config.database_url.is_none());
        assert_eq!(config.jwt_secret.expose_secret().len(), 64);
        assert_eq!(config.openai.base_url, "https://api.openai.com/v1");
        assert_eq!(config.openai.model, "gpt-4o-mini");
        assert_eq!(config.openai.reply_deadline, Duration::from_secs(8));
        assert_eq!(config.twilio.cost_per_minute, 0.0085);
        assert_eq!(config.twilio.auth_token.unwrap().expose_secret(), DEVELOPMENT_TWILIO_AUTH_TOKEN);
        assert_eq!(config.realtime.url, "wss://api.openai.com/v1/realtime");
        assert_eq!(config.realtime.model, "gpt-realtime-mini");
        assert_eq!(config.realtime.voice, "marin");
        assert_eq!(config.realtime.idle, Duration::from_secs(8));
        assert_eq!(config.realtime.max_call, Duration::from_secs(20 * 60));
        assert_eq!(config.realtime.default_voice_mode, VoiceMode::Standard);
        assert_eq!(config.twilio.release_number_after, chrono::Duration::days(30));
        assert!(!config.twilio.auto_provision_numbers);
        assert_eq!(config.server.header_read_timeout, Duration::from_secs(10));
        assert_eq!(config.server.idle_timeout, Duration::from_secs(75));
        assert_eq!(config.server.max_header_bytes, 16_384);
        assert_eq!(config.server.max_connections, 4096);
        assert_eq!(config.twilio.test_call_countries, ["US", "CA"]);
    }

    #[test]
    fn connection_limits_are_read_and_checked() {
        let config = read(&[
            ("HEADER_READ_TIMEOUT_SECONDS", "5"),
            ("IDLE_TIMEOUT_SECONDS", "65"),
            ("MAX_HEADER_BYTES", "8192"),
            ("MAX_CONNECTIONS", "100"),
        ])
        .unwrap();
        assert_eq!(config.server.header_read_timeout, Duration::from_secs(5));
        assert_eq!(config.server.idle_timeout, Duration::from_secs(65));
        assert_eq!((config.server.max_header_bytes, config.server.max_connections), (8192, 100));
        let msg =
            read(&[("HEADER_READ_TIMEOUT_SECONDS", "0"), ("MAX_HEADER_BYTES", "1000000"), ("MAX_CONNECTIONS", "1.5")])
                .unwrap_err()
                .to_string();
        for name in ["HEADER_READ_TIMEOUT_SECONDS", "MAX_HEADER_BYTES", "MAX_CONNECTIONS"] {
            assert!(msg.contains(name), "{name}: {msg}");
        }
    }

    #[test]
    fn test_call_countries_are_read_and_checked() {
        let config = read(&[("TEST_CALL_COUNTRIES", " us, gb ,,")]).unwrap();
        assert_eq!(config.twilio.test_call_countries, ["US", "GB"]);
        let msg = read(&[("TEST_CALL_COUNTRIES", "US,UK,Canada")]).unwrap_err().to_string();
        assert!(msg.contains("TEST_CALL_COUNTRIES"), "{msg}");
        assert!(msg.contains("not known: UK, CANADA"), "{msg}");
        let msg = read(&[("TEST_CALL_COUNTRIES", ",")]).unwrap_err().to_string();
        assert!(msg.contains("TEST_CALL_COUNTRIES") && msg.contains("names none"), "{msg}");
    }

    #[test]
    fn number_settings_are_read_and_checked() {
        let config = read(&[("RELEASE_NUMBER_AFTER_DAYS", "14"), ("AUTO_PROVISION_NUMBERS", "true")]).unwrap();
        assert_eq!(config.twilio.release_number_after, chrono::Duration::days(14));
        assert!(config.twilio.auto_provision_numbers);
        assert!(config.disabled_services().iter().any(|line| line.starts_with("AUTO_PROVISION_NUMBERS is on")));
        let msg = read(&[("RELEASE_NUMBER_AFTER_DAYS", "0"), ("AUTO_PROVISION_NUMBERS", "sometimes")])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("RELEASE_NUMBER_AFTER_DAYS must be a positive number, not `0`"), "{msg}");
        assert!(msg.contains("AUTO_PROVISION_NUMBERS must be true or false, not `sometimes`"), "{msg}");
    }

    #[test]
    fn the_realtime_url_follows_the_openai_base_url() {
        let config = read(&[("OPENAI_BASE_URL", "http://127.0.0.1:9000/v1/")]).unwrap();
        assert_eq!(config.realtime.url, "ws://127.0.0.1:9000/v1/realtime");
        let config = read(&[("OPENAI_REALTIME_URL", "wss://proxy.example.com/rt"), ("DEFAULT_VOICE_MODE", "realtime")]);
        let config = config.unwrap();
        assert_eq!(config.realtime.url, "wss://proxy.example.com/rt");
        assert_eq!(config.realtime.default_voice_mode, VoiceMode::Realtime);
        let msg =
            read(&[("OPENAI_REALTIME_URL", "https://x"), ("DEFAULT_VOICE_MODE", "fast"), ("MAX_CALL_MINUTES", "0")])
                .unwrap_err()
                .to_string();
        for name in ["OPENAI_REALTIME_URL", "DEFAULT_VOICE_MODE", "MAX_CALL_MINUTES"] {
            assert!(msg.contains(name), "{name}: {msg}");
        }
    }

    #[test]
    fn the_development_twilio_token_applies_only_on_loopback() {
        for base in ["http://localhost:5000", "http://127.0.0.1:8080", "http://[::1]:5000"] {
            let config = read(&[("API_BASE_URL", base)]).unwrap();
            assert_eq!(config.twilio.auth_token.unwrap().expose_secret(), DEVELOPMENT_TWILIO_AUTH_TOKEN, "{base}");
        }
        for base in ["https://deskringer.example.com", "http://10.0.0.5:5000", "https://localhost.example.com"] {
            let config = read(&[("API_BASE_URL", base)]).unwrap();
            assert!(config.twilio.auth_token.is_none(), "{base}");
            assert!(config.disabled_services().iter().any(|line| line.contains("Twilio webhooks are refused")));
        }
        let configured = read(&[("API_BASE_URL", "https://deskringer.example.com"), ("TWILIO_AUTH_TOKEN", "real")]);
        assert_eq!(configured.unwrap().twilio.auth_token.unwrap().expose_secret(), "real");
    }

    #[test]
    fn production_names_every_missing_variable() {
        let missing = read(&[("APP_ENV", "production")]).unwrap_err().to_string();
        for name in REQUIRED_IN_PRODUCTION {
            assert!(missing.contains(&format!("{name} is required in production")), "{name}: {missing}");
        }
        let err = read(&[("APP_ENV", "production"), ("JWT_SECRET_KEY", "short")]).unwrap_err();
        let msg = err.to_string();
        for name in [
            "DATABASE_URL",
            "JWT_SECRET_KEY must be at least 32",
            "API_BASE_URL",
            "TWILIO_AUTH_TOKEN is required",
            "METRICS_TOKEN is required",
        ] {
            assert!(msg.contains(name), "{name} missing from: {msg}");
        }
    }

    #[test]
    fn production_accepts_a_complete_setup() {
        let config = read(&[
            ("APP_ENV", "production"),
            ("DATABASE_URL", "postgresql://u:p@db/deskringer"),
            ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("API_BASE_URL", "https://api.example.com/"),
            ("TWILIO_AUTH_TOKEN", "token"),
            ("METRICS_TOKEN", "scrape-token"),
            ("ADMIN_EMAIL", "a@example.com"),
            ("ADMIN_PASSWORD", "ignored-in-production"),
        ])
        .unwrap();
        assert!(config.is_production());
        assert_eq!(config.api_base_url, "https://api.example.com");
        assert!(config.bootstrap_admin.is_none());
        assert_eq!(config.metrics_token.unwrap().expose_secret(), "scrape-token");
    }

    #[test]
    fn production_refuses_to_start_with_open_metrics() {
        let complete = [
            ("APP_ENV", "production"),
            ("DATABASE_URL", "postgresql://u:p@db/deskringer"),
            ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("API_BASE_URL", "https://api.example.com"),
            ("TWILIO_AUTH_TOKEN", "token"),
        ];
        let msg = read(&complete).unwrap_err().to_string();
        assert_eq!(
            msg,
            "invalid configuration:\n  - METRICS_TOKEN is required in production (without it /metrics is open to anyone)"
        );
        // An empty value is no token.
        let msg = read(&[&complete[..], &[("METRICS_TOKEN", " ")]].concat()).unwrap_err().to_string();
        assert!(msg.contains("METRICS_TOKEN is required in production"), "{msg}");
        // Development may leave it open.
        assert!(read(&complete[1..]).unwrap().metrics_token.is_none());
    }

    #[test]
    fn bad_values_are_named() {
        let msg = read(&[
            ("PORT", "eighty"),
            ("DATABASE_URL", "mysql://x"),
            ("OPENAI_BASE_URL", "ftp://x"),
            ("OPENAI_REPLY_DEADLINE_SECONDS", "30"),
            ("TWILIO_COST_PER_MINUTE", "-1"),
        ])
        .unwrap_err()
        .to_string();
        assert!(msg.contains("PORT"), "{msg}");
        assert!(msg.contains("DATABASE_URL"), "{msg}");
        assert!(msg.contains("OPENAI_BASE_URL"), "{msg}");
        assert!(msg.contains("OPENAI_REPLY_DEADLINE_SECONDS"), "{msg}");
        assert!(msg.contains("TWILIO_COST_PER_MINUTE"), "{msg}");
    }

    #[test]
    fn cors_origins_are_split_and_trimmed() {
        let config = read(&[("CORS_ALLOWED_ORIGINS", "https://a.example.com/, http://localhost:3000,,")]).unwrap();
        assert_eq!(config.cors_allowed_origins, ["https://a.example.com", "http://localhost:3000"]);
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = read(&[("JWT_SECRET_KEY", "super-secret-value"), ("OPENAI_API_KEY", "sk-hidden")]).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("super-secret-value"));
        assert!(!debug.contains("sk-hidden"));
    }

    #[test]
    fn calendar_settings_are_read_and_checked() {
        let config = read(&[]).unwrap();
        assert_eq!(config.calendar.google_oauth_url, "https://accounts.google.com");
        assert_eq!(config.calendar.google_token_url, "https://oauth2.googleapis.com");
        assert_eq!(config.calendar.google_calendar_api_url, "https://www.googleapis.com");
        assert_eq!(config.calendar.calcom_api_url, "https://api.cal.com");
        assert!(config.calendar.token_key.is_none() && config.calendar.google_client().is_none());

        // 32 zero bytes in base64.
        let key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let config = read(&[
            ("CALENDAR_TOKEN_KEY", key),
            ("GOOGLE_CLIENT_ID", "id.apps.googleusercontent.com"),
            ("GOOGLE_CLIENT_SECRET", "google-secret-value"),
            ("GOOGLE_TOKEN_URL", "http://127.0.0.1:1234/"),
        ])
        .unwrap();
        assert!(config.calendar.token_key.is_some());
        assert_eq!(config.calendar.google_client().unwrap().0, "id.apps.googleusercontent.com");
        assert_eq!(config.calendar.google_token_url, "http://127.0.0.1:1234");
        assert!(!format!("{config:?}").contains("google-secret-value"));

        for bad in ["not base64!", "AAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            let msg = read(&[("CALENDAR_TOKEN_KEY", bad)]).unwrap_err().to_string();
            assert!(msg.contains("CALENDAR_TOKEN_KEY"), "{bad}: {msg}");
        }
        let msg = read(&[("GOOGLE_CLIENT_ID", "id"), ("CALCOM_API_URL", "cal.com")]).unwrap_err().to_string();
        assert!(msg.contains("GOOGLE_CLIENT_SECRET") && msg.contains("CALCOM_API_URL"), "{msg}");
    }

    #[test]
    fn a_previous_calendar_key_is_held_during_a_rotation_and_checked() {
        use base64::Engine;
        let encode = |byte: u8| base64::engine::general_purpose::STANDARD.encode([byte; 32]);
        let (old, new) = (encode(7), encode(9));
        let ids = |byte: u8| crate::secrets::SecretKey::from_bytes(&[byte; 32]).unwrap().id();
        assert_ne!(ids(7), ids(9), "pick two keys whose ids differ");

        let config =
            read(&[("CALENDAR_TOKEN_KEY", new.as_str()), ("CALENDAR_TOKEN_KEY_PREVIOUS", old.as_str())]).unwrap();
        let key = config.calendar.token_key.unwrap();
        assert!(key.has_previous());
        assert_eq!(key.id(), ids(9), "the new key seals");
        assert!(!read(&[("CALENDAR_TOKEN_KEY", new.as_str())]).unwrap().calendar.token_key.unwrap().has_previous());

        let same = read(&[("CALENDAR_TOKEN_KEY", new.as_str()), ("CALENDAR_TOKEN_KEY_PREVIOUS", new.as_str())]);
        assert!(same.unwrap_err().to_string().contains("CALENDAR_TOKEN_KEY_PREVIOUS"));
        let alone = read(&[("CALENDAR_TOKEN_KEY_PREVIOUS", old.as_str())]).unwrap_err().to_string();
        assert!(alone.contains("CALENDAR_TOKEN_KEY_PREVIOUS"), "{alone}");
        let bad = read(&[("CALENDAR_TOKEN_KEY", new.as_str()), ("CALENDAR_TOKEN_KEY_PREVIOUS", "AAAA")]);
        assert!(bad.unwrap_err().to_string().contains("CALENDAR_TOKEN_KEY_PREVIOUS"));
    }
}
