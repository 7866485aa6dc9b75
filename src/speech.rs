//! Text to speech for calls: OpenAI synthesizes what the receptionist says, Twilio fetches
//! it through `<Play>` from the audio URL the HTTP layer serves (`/api/webhooks/twilio/tts`).
//!
//! - The URLs are signed (HMAC-SHA256 over voice, expiry and text with a server key), so
//!   nobody else can make us pay for speech.
//! - Audio is cached by text (the voice is fixed per server), so standing phrases such as a
//!   greeting are synthesized once. The cache (moka) is bounded in bytes and forgets the
//!   least recently used audio first. It is only an optimisation: an instance that misses
//!   synthesizes again.
//! - Synthesis starts as soon as a reply is known, and readers stream the bytes as they
//!   arrive, so Twilio's fetch does not wait for the whole file.
//! - When TTS is off or failing, callers get `<Say>` instead.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::Utc;
use futures_util::{Stream, StreamExt};
use tokio::sync::watch;

use crate::clients::openai::OpenAi;
use crate::receptionist::languages::{ENGLISH, Language};
use crate::receptionist::twiml;

/// How long a signed URL stays valid (a call's replies are fetched within seconds).
const URL_LIFETIME_SECONDS: i64 = 3600;
/// Most audio kept in memory.
const CACHE_BUDGET_BYTES: u64 = 16 * 1024 * 1024;
/// After a failed synthesis, `<Say>` is used for this long before TTS is tried again.
const FAILURE_BACKOFF: Duration = Duration::from_secs(60);
/// How long a webhook waits for synthesis to start producing audio before answering.
const FIRST_AUDIO_WAIT: Duration = Duration::from_millis(1500);

/// Where a synthesis stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// This many chunks are ready, more are coming.
    Streaming(usize),
    /// All chunks are ready.
    Done,
    /// Synthesis failed.
    Failed,
}

/// One text's audio: chunks so far, and a channel announcing progress.
#[derive(Debug)]
struct Audio {
    chunks: Mutex<Vec<Bytes>>,
    progress: watch::Sender<Progress>,
}

impl Audio {
    /// Bytes of audio held (0 while synthesis has produced nothing).
    fn bytes(&self) -> usize {
        self.chunks.lock().expect("lock").iter().map(Bytes::len).sum()
    }
}

/// The speech service shared by the webhooks.
#[derive(Debug)]
pub struct SpeechService {
    openai: Option<OpenAi>,
    key: hmac::Key,
    voice: String,
    audio_url: String,
    /// Audio by text, weighed by its bytes. An entry is weighed when inserted: a synthesis
    /// in progress weighs (almost) nothing and is inserted again, at its size, when done.
    cache: moka::sync::Cache<String, Arc<Audio>>,
    last_failure: Mutex<Option<Instant>>,
}

/// Why a `/tts` URL was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum UrlError {
    /// Missing, malformed or wrongly signed.
    BadSignature,
    /// Past its expiry.
    Expired,
}

impl SpeechService {
    /// `signing_secret` keys the URL signatures; `openai` is `None` when TTS is off;
    /// `audio_url` is the public URL that serves [`SpeechService::stream`].
    pub fn new(openai: Option<OpenAi>, signing_secret: &[u8], audio_url: &str) -> Self {
        // A key of its own, derived from the server secret, so URL signatures can never be
        // confused with access tokens.
        let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, signing_secret), b"deskringer tts url signing");
        let voice = openai.as_ref().map(|o| o.tts_voice.clone()).unwrap_or_default();
        Self {
            openai,
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
            voice,
            audio_url: audio_url.to_owned(),
            cache: moka::sync::Cache::builder()
                .max_capacity(CACHE_BUDGET_BYTES)
                .weigher(|text: &String, audio: &Arc<Audio>| {
                    u32::try_from(text.len() + audio.bytes()).unwrap_or(u32::MAX)
                })
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .build(),
            last_failure: Mutex::default(),
        }
    }

    /// What TwiML should speak for `text`: `<Play>` of our audio when TTS works, else `<Say>`.
    /// Starts synthesis and waits briefly for it to begin, so a failing TTS falls back to
    /// `<Say>` in this very answer instead of leaving the caller in silence.
    pub async fn speak(self: &Arc<Self>, text: &str) -> twiml::Speech {
        self.speak_in(text, ENGLISH).await
    }

    /// [`SpeechService::speak`] for text in `language`: the synthesised voice reads any
    /// language as written; `<Say>` needs the language and a voice that speaks it.
    pub async fn speak_in(self: &Arc<Self>, text: &str, language: &'static Language) -> twiml::Speech {
        if self.openai.is_none() || self.recently_failed() {
            return twiml::Speech::Say(text.to_owned(), language);
        }
        let audio = self.audio(text);
        let mut progress = audio.progress.subscribe();
        let started =
            tokio::time::timeout(FIRST_AUDIO_WAIT, progress.wait_for(|p| !matches!(p, Progress::Streaming(0)))).await;
        match started {
            Ok(Ok(progress)) if *progress == Progress::Failed => twiml::Speech::Say(text.to_owned(), language),
            _ => twiml::Speech::Play(self.signed_url(text, Utc::now().timestamp() + URL_LIFETIME_SECONDS)),
        }
    }

    /// The signed audio URL for `text`, valid until `expires` (Unix seconds).
    pub fn signed_url(&self, text: &str, expires: i64) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("t", text)
            .append_pair("e", &expires.to_string())
            .append_pair("s", &self.signature(text, expires))
            .finish();
        format!("{}?{query}", self.audio_url)
    }

    fn signature(&self, text: &str, expires: i64) -> String {
        let message = format!("{}\n{expires}\n{text}", self.voice);
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, message.as_bytes()).as_ref())
    }

    /// Checks a `/tts` query (`t`, `e`, `s`) and returns the text to speak.
    pub fn verify_url(&self, query: &str) -> Result<String, UrlError> {
        let (mut text, mut expires, mut signature) = (None, None, None);
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "t" => text = Some(value.into_owned()),
                "e" => expires = value.parse::<i64>().ok(),
                "s" => signature = URL_SAFE_NO_PAD.decode(value.as_bytes()).ok(),
                _ => {}
            }
        }
        let (Some(text), Some(expires), Some(signature)) = (text, expires, signature) else {
            return Err(UrlError::BadSignature);
        };
        let message = format!("{}\n{expires}\n{text}", self.voice);
        hmac::verify(&self.key, message.as_bytes(), &signature).map_err(|_| UrlError::BadSignature)?;
        if expires < Utc::now().timestamp() {
            return Err(UrlError::Expired);
        }
        Ok(text)
    }

    /// The audio for `text` as a stream of chunks, synthesizing it if needed. Fails at once
    /// when TTS is off or the synthesis has already failed before producing anything.
    pub async fn stream(
        self: &Arc<Self>,
        text: &str,
    ) -> anyhow::Result<impl Stream<Item = Result<Bytes, std::io::Error>> + use<>> {
        anyhow::ensure!(self.openai.is_some(), "text to speech is not configured");
        let audio = self.audio(text);
        let mut progress = audio.progress.subscribe();
        let first = progress.wait_for(|p| !matches!(p, Progress::Streaming(0))).await.map(|p| *p).ok();
        anyhow::ensure!(first != Some(Progress::Failed), "speech synthesis failed");
        Ok(read_chunks(audio))
    }

    fn recently_failed(&self) -> bool {
        self.last_failure.lock().expect("lock").is_some_and(|at| at.elapsed() < FAILURE_BACKOFF)
    }

    /// The cached audio of `text`, or a new synthesis of it started in the background.
    fn audio(self: &Arc<Self>, text: &str) -> Arc<Audio> {
        let entry = self.cache.entry_by_ref(text).or_insert_with(|| {
            let (progress, _) = watch::channel(Progress::Streaming(0));
            Arc::new(Audio { chunks: Mutex::default(), progress })
        });
        let audio = entry.value().clone();
        if entry.is_fresh() {
            let service = self.clone();
            let (text, target) = (text.to_owned(), audio.clone());
            tokio::spawn(async move { service.synthesize(text, target).await });
        }
        audio
    }

    async fn synthesize(self: Arc<Self>, text: String, audio: Arc<Audio>) {
        let Some(openai) = &self.openai else { return };
        let result = async {
            let mut body = openai.speech(&text).await?.bytes_stream();
            let mut count = 0;
            let mut size = 0;
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                size += chunk.len();
                audio.chunks.lock().expect("lock").push(chunk);
                count += 1;
                audio.progress.send_replace(Progress::Streaming(count));
            }
            anyhow::ensure!(size > 0, "OpenAI returned no audio");
            anyhow::Ok(size)
        }
        .await;
        match result {
            Ok(_) => {
                audio.progress.send_replace(Progress::Done);
                // Weighed again, now at its full size (unless it was evicted meanwhile).
                if self.cache.get(&text).is_some_and(|cached| Arc::ptr_eq(&cached, &audio)) {
                    self.cache.insert(text, audio);
                }
            }
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "speech synthesis failed; falling back to <Say>");
                *self.last_failure.lock().expect("lock") = Some(Instant::now());
                audio.progress.send_replace(Progress::Failed);
                if self.cache.get(&text).is_some_and(|cached| Arc::ptr_eq(&cached, &audio)) {
                    self.cache.invalidate(&text);
                }
            }
        }
    }
}

/// Streams an audio's chunks: those ready now, then each new one as it arrives.
fn read_chunks(audio: Arc<Audio>) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let progress = audio.progress.subscribe();
    futures_util::stream::unfold((audio, progress, 0usize, false), |(audio, mut progress, next, finished)| async move {
        if finished {
            return None;
        }
        loop {
            // Read the progress before the chunks: a chunk is stored before its progress is
            // announced, so "done" seen here means every chunk is already stored.
            let state = *progress.borrow_and_update();
            let chunk = audio.chunks.lock().expect("lock").get(next).cloned();
            if let Some(chunk) = chunk {
                return Some((Ok(chunk), (audio, progress, next + 1, false)));
            }
            match state {
                Progress::Done => return None,
                Progress::Failed => {
                    let error = std::io::Error::other("speech synthesis failed");
                    return Some((Err(error), (audio, progress, next, true)));
                }
                Progress::Streaming(_) => {
                    if progress.changed().await.is_err() {
                        return None;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> SpeechService {
        SpeechService::new(None, b"secret", "https://deskringer.test/api/webhooks/twilio/tts")
    }

    #[test]
    fn signed_urls_verify_and_tampering_is_refused() {
        let speech = service();
        let expires = Utc::now().timestamp() + 60;
        let url = speech.signed_url("Hello & welcome!", expires);
        let query = url.split_once('?').unwrap().1;
        assert!(url.starts_with("https://deskringer.test/api/webhooks/twilio/tts?"));
        assert_eq!(speech.verify_url(query), Ok("Hello & welcome!".to_owned()));

        let tampered = query.replace("welcome", "goodbye");
        assert_eq!(speech.verify_url(&tampered), Err(UrlError::BadSignature));
        let other_key = SpeechService::new(None, b"another", "https://deskringer.test/api/webhooks/twilio/tts");
        assert_eq!(other_key.verify_url(query), Err(UrlError::BadSignature));
        assert_eq!(speech.verify_url("t=Hello"), Err(UrlError::BadSignature));
        assert_eq!(speech.verify_url(""), Err(UrlError::BadSignature));
    }

    #[test]
    fn expired_urls_are_refused() {
        let speech = service();
        let url = speech.signed_url("Hello", Utc::now().timestamp() - 1);
        assert_eq!(speech.verify_url(url.split_once('?').unwrap().1), Err(UrlError::Expired));
    }

    #[tokio::test]
    async fn without_tts_speech_is_said() {
        let speech = Arc::new(service());
        assert_eq!(speech.speak("Hi").await, twiml::Speech::Say("Hi".into(), ENGLISH));
        assert!(speech.stream("Hi").await.is_err());
    }

    #[tokio::test]
    async fn readers_get_every_chunk_in_order_as_it_arrives() {
        let (progress, _) = watch::channel(Progress::Streaming(0));
        let audio = Arc::new(Audio { chunks: Mutex::default(), progress });
        let reader = tokio::spawn(read_chunks(audio.clone()).map(|c| c.unwrap()).collect::<Vec<_>>());
        for (i, chunk) in ["ab", "cd", "ef"].into_iter().enumerate() {
            tokio::task::yield_now().await;
            audio.chunks.lock().unwrap().push(Bytes::from(chunk));
            audio.progress.send_replace(Progress::Streaming(i + 1));
        }
        audio.progress.send_replace(Progress::Done);
        assert_eq!(reader.await.unwrap(), ["ab", "cd", "ef"]);
    }
}
