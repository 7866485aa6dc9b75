//! Model sessions opened early: `voice` starts the Realtime handshake for its call while
//! Twilio is still reading the TwiML and opening the media stream, so the greeting is not
//! held up by it. The stream takes the session when it starts on this instance; one that
//! lands elsewhere opens its own, and the unused one here is closed when it expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::clients::realtime::{ModelSession, Realtime, Tool};

/// How long a prepared session waits for its stream.
const PREPARED_LIFETIME: Duration = Duration::from_secs(30);

type Opening = JoinHandle<anyhow::Result<ModelSession>>;

/// Sessions being opened, or open, for calls whose stream has not started yet.
#[derive(Debug, Default)]
pub struct PreparedSessions {
    by_call: Mutex<HashMap<String, (u64, Opening)>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl PreparedSessions {
    /// Starts opening a session for `call_sid` (replacing one prepared earlier).
    pub fn prepare(
        self: &std::sync::Arc<Self>,
        call_sid: &str,
        realtime: Realtime,
        instructions: String,
        tools: Vec<Tool>,
    ) {
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let opening = tokio::spawn(async move { realtime.open(instructions, tools).await });
        if let Some((_, earlier)) = self.lock().insert(call_sid.to_owned(), (id, opening)) {
            earlier.abort();
        }
        let sessions = std::sync::Arc::downgrade(self);
        let call_sid = call_sid.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(PREPARED_LIFETIME).await;
            if let Some(sessions) = sessions.upgrade() {
                let mut by_call = sessions.lock();
                if by_call.get(&call_sid).is_some_and(|(prepared, _)| *prepared == id)
                    && let Some((_, opening)) = by_call.remove(&call_sid)
                {
                    opening.abort();
                }
            }
        });
    }

    /// The session prepared for `call_sid`, if this instance has one.
    pub fn take(&self, call_sid: &str) -> Option<Opening> {
        self.lock().remove(call_sid).map(|(_, opening)| opening)
    }

    /// Closes the session prepared for `call_sid`, if any (its stream was refused).
    pub fn discard(&self, call_sid: &str) {
        if let Some(opening) = self.take(call_sid) {
            opening.abort();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Opening)>> {
        // A panic while holding the lock leaves the map consistent (single inserts/removes).
        self.by_call.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
