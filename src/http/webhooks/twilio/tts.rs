//! `GET /api/webhooks/twilio/tts`: the audio of a signed URL, streamed as it is synthesized.

use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use crate::speech::UrlError;

/// Path of the audio endpoint, as Twilio fetches it.
pub const TTS_PATH: &str = "/api/webhooks/twilio/tts";
use crate::http::AppState;
use crate::http::error::AppError;

/// Streams the MP3 for a URL this server signed. Unsigned, tampered or expired URLs are 403;
/// a failed synthesis answers 503 at once (the TwiML already fell back to `<Say>` where it
/// could).
#[utoipa::path(
    get,
    path = "/tts",
    tag = "webhooks",
    summary = "Audio for <Play> (signed URLs only)",
    params(("t" = String, Query, description = "Text"), ("e" = i64, Query, description = "Expiry, Unix seconds"), ("s" = String, Query, description = "Signature")),
    responses((status = 200, description = "MP3 audio", content_type = "audio/mpeg", body = Vec<u8>), (status = 403, description = "Unsigned, tampered or expired URL", body = crate::http::error::ErrorBody), (status = 503, description = "Speech unavailable", body = crate::http::error::ErrorBody))
)]
pub async fn get_audio(State(state): State<AppState>, OriginalUri(uri): OriginalUri) -> Result<Response, AppError> {
    let text = state.speech.verify_url(uri.query().unwrap_or_default()).map_err(|error| match error {
        UrlError::BadSignature => AppError::Forbidden("invalid audio signature".into()),
        UrlError::Expired => AppError::Forbidden("this audio link has expired".into()),
    })?;
    let stream = state.speech.stream(&text).await.map_err(|error| {
        tracing::warn!(error = format!("{error:#}"), "no audio to serve");
        AppError::ServiceUnavailable("speech is unavailable".into())
    })?;
    Ok(([(CONTENT_TYPE, "audio/mpeg"), (CACHE_CONTROL, "private, max-age=3600")], Body::from_stream(stream))
        .into_response())
}
