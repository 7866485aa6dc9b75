//! Twilio's webhooks: `voice` (a call arrives), `gather` (the caller spoke, or a transfer
//! ended), `status` (the call ended), `tts` (audio for `<Play>`), the media stream, and
//! `sms` (a text arrives).
//!
//! Every POST is verified against `X-Twilio-Signature` before anything is read or written.
//! The signed URL is built from the configured `API_BASE_URL`, never from the request's
//! own Host header or scheme, which a proxy may have rewritten.

pub mod gather;
pub mod media_stream;
pub mod screen;
pub mod signature;
pub mod sms;
pub mod status;
pub mod stream_ended;
pub mod tts;
pub mod voice;

use axum::body::Bytes;
use axum::extract::{FromRequest, OriginalUri, Request};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::customers::Customer;
use crate::http::AppState;
use crate::http::error::AppError;
use crate::profile::AppointmentHandling;
use crate::receptionist::conversation::BusinessContext;
use crate::receptionist::languages::{self, Language};
use crate::receptionist::twiml;

/// Seconds of silence before a `<Gather>` gives up.
const GATHER_TIMEOUT_SECONDS: u32 = 5;
/// Path Twilio posts speech to.
pub const GATHER_PATH: &str = "/api/webhooks/twilio/gather";

/// Routes under `/api/webhooks/twilio`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(voice::answer_call))
        .routes(routes!(gather::continue_call))
        .routes(routes!(status::record_call_status))
        .routes(routes!(tts::get_audio))
        .routes(routes!(media_stream::open_media_stream))
        .routes(routes!(stream_ended::after_stream))
        .routes(routes!(sms::receive_text))
}

/// The fields of Twilio's voice webhooks that the server reads, for the OpenAPI document.
/// The handlers read the form as [`TwilioForm`] instead: the signature covers every
/// parameter Twilio sends, so all of them are kept, not only these.
#[derive(utoipa::ToSchema)]
#[expect(non_snake_case, dead_code, reason = "Twilio's parameter names; a description, never built")]
pub struct TwilioWebhookForm {
    CallSid: String,
    From: Option<String>,
    To: Option<String>,
    SpeechResult: Option<String>,
    CallStatus: Option<String>,
    CallDuration: Option<String>,
    DialCallStatus: Option<String>,
    /// SHAKEN/STIR verification of the caller ID (`TN-Validation-Failed-A`, ...), when known.
    StirVerstat: Option<String>,
}

/// The parameters of a Twilio request whose signature has been verified.
#[derive(Debug)]
pub struct TwilioForm(pub Vec<(String, String)>);

impl TwilioForm {
    /// A parameter's value, if sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// A parameter that must be present and non-empty; 400 naming it otherwise.
    pub fn require(&self, name: &str) -> Result<&str, AppError> {
        self.get(name)
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| AppError::BadRequest(format!("missing form field `{name}`")))
    }
}

impl FromRequest<AppState> for TwilioForm {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, AppError> {
        let uri = request.extensions().get::<OriginalUri>().map_or_else(|| request.uri().clone(), |o| o.0.clone());
        let signature = request
            .headers()
            .get("x-twilio-signature")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| AppError::Forbidden("missing Twilio signature".into()))?;
        let body = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::BadRequest(rejection.body_text())
            }
        })?;
        let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();

        let Some(token) = &state.config.twilio.auth_token else {
            return Err(AppError::Forbidden("Twilio webhooks are not configured".into()));
        };
        let base = &state.config.api_base_url;
        let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        // The router sees paths without a trailing slash; Twilio may have been configured
        // with one, and signed that.
        let candidates = [format!("{base}{}{query}", uri.path()), format!("{base}{}/{query}", uri.path())];
        let token = token.expose_secret().as_bytes();
        if candidates.iter().any(|url| signature::verify(token, url, &params, &signature)) {
            Ok(TwilioForm(params))
        } else {
            tracing::warn!(route = uri.path(), "refused a Twilio request with a wrong signature");
            Err(AppError::Forbidden("invalid Twilio signature".into()))
        }
    }
}

/// A TwiML answer (`Content-Type: text/xml`), as the XML document sent.
#[derive(Debug)]
pub struct TwiMl(pub String);

impl From<twiml::Response> for TwiMl {
    fn from(response: twiml::Response) -> Self {
        TwiMl(response.to_xml())
    }
}

impl IntoResponse for TwiMl {
    fn into_response(self) -> Response {
        ([(CONTENT_TYPE, "text/xml; charset=utf-8")], self.0).into_response()
    }
}

/// The absolute URL Twilio posts speech to.
pub fn gather_url(state: &AppState) -> String {
    format!("{}{GATHER_PATH}", state.config.api_base_url)
}

/// Speaks `prompts` while listening for `language`, then gives a second chance, then says
/// goodbye (both in `language`).
pub async fn speak_and_listen(
    state: &AppState,
    prompts: impl IntoIterator<Item = twiml::Speech>,
    language: &'static Language,
) -> twiml::Response {
    let (still_there, goodbye) = tokio::join!(
        state.speech.speak_in(language.still_there, language),
        state.speech.speak_in(language.goodbye, language)
    );
    let action = gather_url(state);
    twiml::Response::new()
        .gather(twiml::Gather {
            action: action.clone(),
            timeout_seconds: GATHER_TIMEOUT_SECONDS,
            prompts: prompts.into_iter().collect(),
            language,
        })
        .gather(twiml::Gather { action, timeout_seconds: GATHER_TIMEOUT_SECONDS, prompts: vec![still_there], language })
        .speak(goodbye)
        .hangup()
}

/// Says `text` and hangs up.
pub async fn say_and_hang_up(state: &AppState, text: &str) -> TwiMl {
    TwiMl::from(twiml::Response::new().speak(state.speech.speak(text).await).hangup())
}

/// What the receptionist knows about `customer` during a call.
pub fn business_context(customer: &Customer) -> BusinessContext {
    BusinessContext {
        business_name: customer.business_name.clone(),
        ai_instructions: customer.ai_instructions.clone().unwrap_or_default(),
        business_hours: customer.business_hours.as_ref().and_then(|hours| hours.parse()),
        holiday_hours: customer.holiday_hours.clone(),
        timezone: customer.timezone.clone(),
        services_offered: customer.services_offered.clone(),
        pricing_info: customer.pricing_info.clone(),
        appointment_handling: AppointmentHandling::from_db(&customer.appointment_handling),
        can_transfer: customer.forward_to_number.is_some(),
        books: crate::receptionist::tools::books(customer),
        languages: languages::of_business(&customer.languages),
        reply_language: None,
    }
}

/// How a call's `send_text` texts the caller: the Twilio client and the cost of a text.
pub fn texter(state: &AppState) -> crate::receptionist::tools::Texter {
    crate::receptionist::tools::Texter {
        twilio: state.clients.twilio.clone(),
        cost_per_sms: state.config.twilio.cost_per_sms,
    }
}

/// How a call's tools tell the caller and the owner of what they changed: through the job
/// queue, both told.
pub fn call_notices() -> crate::receptionist::tools::Notify {
    std::sync::Arc::new(|db, appointment, change| {
        Box::pin(async move {
            let audience = crate::booking::notices::Audience { caller: true, owner: true };
            crate::jobs::appointments::appointment_changed(&db, &appointment, change, audience).await
        })
    })
}
