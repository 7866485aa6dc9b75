//! How much of the receptionist's reply the caller has heard. Each chunk of audio sent to
//! Twilio is followed by a mark; Twilio echoes a mark when playback reaches it, so the last
//! echoed mark says what was heard, and the time since it says how far playback has gone on.

use std::collections::VecDeque;
use std::time::Instant;

/// Bytes of 8 kHz mu-law per millisecond.
pub const BYTES_PER_MS: u64 = 8;
/// Marks awaiting their echo, at most; older ones are forgotten (the estimate then leans on
/// the elapsed time), so a very long reply cannot grow this without bound.
const MAX_PENDING_MARKS: usize = 1024;

/// The reply being played and its marks.
#[derive(Debug, Default)]
pub struct Playback {
    /// The reply item whose audio was sent last.
    item_id: Option<String>,
    /// Bytes of that item sent to Twilio.
    sent: u64,
    /// Bytes confirmed played by the last echoed mark.
    heard: u64,
    /// When that mark came back (or, before any, when the first audio was sent).
    heard_at: Option<Instant>,
    /// Marks sent and not yet echoed: (number, bytes sent up to it).
    pending: VecDeque<(u64, u64)>,
    /// The next mark's number (unique within the call).
    next_mark: u64,
}

/// What the caller heard of an interrupted reply.
#[derive(Debug, PartialEq, Eq)]
pub struct Interrupted {
    /// The reply item.
    pub item_id: String,
    /// Milliseconds of it played.
    pub audio_end_ms: u64,
}

impl Playback {
    /// Records `bytes` of `item_id` sent at `now`; returns the name of the mark to send after it.
    pub fn sent(&mut self, item_id: &str, bytes: u64, now: Instant) -> String {
        if self.item_id.as_deref() != Some(item_id) {
            *self = Playback { item_id: Some(item_id.to_owned()), next_mark: self.next_mark, ..Playback::default() };
        }
        if self.heard_at.is_none() {
            self.heard_at = Some(now);
        }
        self.sent += bytes;
        let mark = self.next_mark;
        self.next_mark += 1;
        if self.pending.len() == MAX_PENDING_MARKS {
            self.pending.pop_front();
        }
        self.pending.push_back((mark, self.sent));
        mark.to_string()
    }

    /// Takes Twilio's echo of mark `name`. Returns whether it was one of the current reply's.
    pub fn echoed(&mut self, name: &str, now: Instant) -> bool {
        let Ok(number) = name.parse::<u64>() else { return false };
        let mut matched = false;
        while let Some(&(mark, bytes)) = self.pending.front() {
            if mark > number {
                break;
            }
            self.pending.pop_front();
            if mark == number {
                self.heard = bytes;
                self.heard_at = Some(now);
                matched = true;
            }
        }
        matched
    }

    /// Whether audio sent is still waiting to be played (its last mark has not come back).
    pub fn is_playing(&self) -> bool {
        self.item_id.is_some() && self.heard < self.sent
    }

    /// Milliseconds of the current reply played by `now`: the last echoed mark, plus the time
    /// since, up to the next mark still pending (playback has not reached it).
    pub fn played_ms(&self, now: Instant) -> u64 {
        let since = self.heard_at.map_or(0, |at| now.saturating_duration_since(at).as_millis() as u64);
        let ceiling = self.pending.front().map_or(self.sent, |&(_, bytes)| bytes);
        (self.heard + since * BYTES_PER_MS).min(ceiling) / BYTES_PER_MS
    }

    /// The caller interrupted at `now`: what they heard of the reply, if it was still playing.
    /// Forgets the reply; the marks Twilio echoes for the cleared audio are then ignored.
    pub fn interrupt(&mut self, now: Instant) -> Option<Interrupted> {
        if !self.is_playing() {
            return None;
        }
        let audio_end_ms = self.played_ms(now);
        let item_id = self.item_id.take()?;
        *self = Playback { next_mark: self.next_mark, ..Playback::default() };
        Some(Interrupted { item_id, audio_end_ms })
    }
}

/// Bytes in base64 text (without decoding it).
pub fn base64_len(encoded: &str) -> u64 {
    let padding = encoded.bytes().rev().take_while(|&b| b == b'=').count() as u64;
    (encoded.len() as u64 / 4 * 3).saturating_sub(padding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn heard_audio_follows_the_echoed_marks() {
        let start = Instant::now();
        let mut playback = Playback::default();
        let marks: Vec<String> = (0..3).map(|_| playback.sent("item_a", 1600, start)).collect();
        assert!(playback.is_playing());
        assert_eq!(playback.played_ms(start), 0, "the first mark caps what was played");
        assert!(playback.echoed(&marks[1], start + Duration::from_millis(400)));
        // 100 ms after the second mark (400 ms) came back, 500 ms had played.
        assert_eq!(playback.played_ms(start + Duration::from_millis(500)), 500);
        // Never past the next pending mark.
        assert_eq!(playback.played_ms(start + Duration::from_secs(9)), 600);
        let interrupted = playback.interrupt(start + Duration::from_millis(450)).unwrap();
        assert_eq!(interrupted, Interrupted { item_id: "item_a".into(), audio_end_ms: 450 });
        assert!(!playback.is_playing());
        assert!(!playback.echoed(&marks[2], start), "a cleared mark echoes back late");
    }

    #[test]
    fn a_reply_heard_to_the_end_is_not_interrupted() {
        let now = Instant::now();
        let mut playback = Playback::default();
        let mark = playback.sent("item_a", 800, now);
        assert!(playback.echoed(&mark, now));
        assert!(!playback.is_playing());
        assert_eq!(playback.interrupt(now), None);
        let next = playback.sent("item_b", 160, now);
        assert_ne!(next, mark, "mark names stay unique across replies");
        assert!(playback.is_playing());
    }

    #[test]
    fn base64_lengths_count_bytes() {
        use base64::Engine;
        for n in 0..10 {
            let encoded = base64::engine::general_purpose::STANDARD.encode(vec![0xffu8; n]);
            assert_eq!(base64_len(&encoded), n as u64);
        }
    }
}
