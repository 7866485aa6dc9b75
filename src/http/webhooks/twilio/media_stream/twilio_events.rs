//! The messages of Twilio Media Streams (bidirectional `<Connect><Stream>`), as JSON text
//! frames: what Twilio sends, and the three kinds the server sends back.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// A message from Twilio.
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Inbound {
    /// The socket is open (first message).
    Connected,
    /// The stream starts: which call, and the `<Parameter>`s from the TwiML.
    Start { start: Start },
    /// 20 ms of the caller's audio: base64 mu-law at 8 kHz.
    Media { media: Media },
    /// Playback reached a mark the server sent (or the audio before it was cleared).
    Mark { mark: MarkName },
    /// The stream ended: the caller hung up, or the server closed it.
    Stop,
    /// Anything else (`dtmf`, ...).
    #[serde(other)]
    Other,
}

/// The `start` message's details.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Start {
    /// The stream, named in everything the server sends.
    pub stream_sid: String,
    /// The call.
    pub call_sid: String,
    /// The TwiML's `<Parameter>`s.
    #[serde(default)]
    pub custom_parameters: HashMap<String, String>,
}

/// A `media` message's audio.
#[derive(Debug, Deserialize)]
pub struct Media {
    /// Base64 mu-law.
    pub payload: String,
}

/// A mark's name.
#[derive(Debug, Deserialize, Serialize)]
pub struct MarkName {
    /// As the server named it.
    pub name: String,
}

/// A message to Twilio.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Outbound<'a> {
    /// Audio to play to the caller: base64 mu-law at 8 kHz.
    Media {
        #[serde(rename = "streamSid")]
        stream_sid: &'a str,
        media: OutboundMedia<'a>,
    },
    /// Asks Twilio to echo `name` once everything sent before it has played.
    Mark {
        #[serde(rename = "streamSid")]
        stream_sid: &'a str,
        mark: OutboundMark<'a>,
    },
    /// Drops the audio not yet played (Twilio echoes the marks it drops).
    Clear {
        #[serde(rename = "streamSid")]
        stream_sid: &'a str,
    },
}

/// Outbound audio.
#[derive(Debug, Serialize)]
pub struct OutboundMedia<'a> {
    /// Base64 mu-law.
    pub payload: &'a str,
}

/// An outbound mark.
#[derive(Debug, Serialize)]
pub struct OutboundMark<'a> {
    /// Echoed back by Twilio.
    pub name: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn twilio_messages_read_and_write_in_twilio_shape() {
        let start: Inbound = serde_json::from_value(json!({
            "event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
            "start": {"accountSid": "AC1", "streamSid": "MZ1", "callSid": "CA1", "tracks": ["inbound"],
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                      "customParameters": {"token": "t"}}
        }))
        .unwrap();
        let Inbound::Start { start } = start else { panic!("{start:?}") };
        assert_eq!((start.stream_sid.as_str(), start.call_sid.as_str()), ("MZ1", "CA1"));
        assert_eq!(start.custom_parameters["token"], "t");
        let dtmf: Inbound = serde_json::from_value(json!({"event": "dtmf", "dtmf": {"digit": "1"}})).unwrap();
        assert!(matches!(dtmf, Inbound::Other));
        let clear = serde_json::to_value(Outbound::Clear { stream_sid: "MZ1" }).unwrap();
        assert_eq!(clear, json!({"event": "clear", "streamSid": "MZ1"}));
        let mark = Outbound::Mark { stream_sid: "MZ1", mark: OutboundMark { name: "3" } };
        assert_eq!(
            serde_json::to_value(mark).unwrap(),
            json!({"event": "mark", "streamSid": "MZ1", "mark": {"name": "3"}})
        );
    }
}
