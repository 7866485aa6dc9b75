//! Thin, typed clients of the third-party services. Each holds one `reqwest::Client` with a
//! timeout and a base URL that tests point at a local mock server. They know nothing of the
//! database.

// `calcom` and `google_calendar` take each business's own key or token per call; only their
// base URLs (`CALCOM_API_URL`, `GOOGLE_CALENDAR_API_URL`) come from config.
pub mod calcom;
pub mod google_calendar;
pub mod google_oauth;
pub mod openai;
pub mod realtime;
pub mod sendgrid;
pub mod stripe;
pub mod twilio;

use std::time::Duration;

use serde::Serialize;

use crate::config::Config;

/// A function the model may call, as the receptionist defines it (`receptionist::tools`);
/// each client writes it in its own wire format.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    /// The function's name.
    pub name: &'static str,
    /// What it does and when to call it, for the model.
    pub description: String,
    /// Its arguments, as a JSON Schema object.
    pub parameters: serde_json::Value,
}

/// A call of a tool by the model: its id (to answer it), the name and the raw arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The model's id for this call.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments as the model wrote them (a JSON object, unchecked).
    pub arguments: String,
}

/// Every client, built once at start-up.
#[derive(Debug, Clone)]
pub struct Clients {
    /// Chat completions and text to speech; `None` when no key is configured.
    pub openai: Option<openai::OpenAi>,
    /// Realtime voice sessions; `None` when no OpenAI key is configured.
    pub realtime: Option<realtime::Realtime>,
    /// Email.
    pub sendgrid: sendgrid::SendGrid,
    /// SMS.
    pub twilio: twilio::Twilio,
    /// Billing; `None` without `STRIPE_SECRET_KEY`.
    pub stripe: Option<stripe::Stripe>,
    /// Google Calendar's OAuth; `None` without `GOOGLE_CLIENT_ID` and `GOOGLE_CLIENT_SECRET`.
    pub google: Option<google_oauth::GoogleOAuth>,
    /// Google Calendar's free/busy and events (each call carries the business's token).
    pub google_calendar: google_calendar::GoogleCalendar,
    /// Cal.com; always built, since each business brings its own API key.
    pub calcom: calcom::CalCom,
}

impl Clients {
    /// Builds the clients from the configuration.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            openai: config.openai.is_enabled().then(|| openai::OpenAi::new(&config.openai)).transpose()?,
            realtime: realtime::Realtime::new(&config.openai, &config.realtime),
            sendgrid: sendgrid::SendGrid::new(&config.email)?,
            twilio: twilio::Twilio::new(&config.twilio)?,
            stripe: stripe::Stripe::new(&config.stripe)?,
            google: google_oauth::GoogleOAuth::new(&config.calendar)?,
            google_calendar: google_calendar::GoogleCalendar::new(&config.calendar.google_calendar_api_url)?,
            calcom: calcom::CalCom::new(&config.calendar.calcom_api_url)?,
        })
    }
}

/// `{base}` followed by `segments`, each percent-encoded (calendar ids are email addresses
/// and may hold `#`; booking uids are the provider's), or why the base URL is unusable.
fn url_with_segments(base: &str, segments: &[&str]) -> Result<reqwest::Url, String> {
    let mut url = reqwest::Url::parse(base).map_err(|e| format!("bad base URL `{base}`: {e}"))?;
    url.path_segments_mut().map_err(|()| format!("bad base URL `{base}`"))?.extend(segments);
    Ok(url)
}

/// An HTTP client with connect and overall timeouts.
fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .user_agent(concat!("deskringer/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Turns a non-2xx answer into an error carrying the service's own message (bodies are
/// short JSON errors; they are cut to keep logs readable).
async fn error_for_status(service: &str, response: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(500).collect();
    anyhow::bail!("{service} answered {status}: {body}")
}
