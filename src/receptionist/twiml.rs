//! A small TwiML writer. Every text and attribute value goes through [`escape`], so a
//! business name like `Bob & Sons <Plumbing>`, a caller saying `"quote"`, or a greeting
//! pasted with a character XML forbids (U+FFFF, a control character) can never break the
//! document Twilio reads.

use std::fmt::Write as _;

use super::languages::{ENGLISH, Language};
use crate::markup::escape;

/// A TwiML `<Response>` under construction.
#[derive(Debug, Default, Clone)]
pub struct Response {
    verbs: Vec<Verb>,
}

/// What is spoken: synthesized audio at a URL, or Twilio's own text-to-speech.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Speech {
    /// `<Play>url</Play>`.
    Play(String),
    /// `<Say>text</Say>` in a language, with that language's voice.
    Say(String, &'static Language),
}

/// A `<Gather input="speech">`: speaks its prompts, then posts what the caller says to `action`.
#[derive(Debug, Clone)]
pub struct Gather {
    /// Absolute URL Twilio posts the speech result to.
    pub action: String,
    /// Seconds of silence before giving up and moving to the next verb.
    pub timeout_seconds: u32,
    /// What is spoken while listening.
    pub prompts: Vec<Speech>,
    /// The language the recogniser listens for.
    pub language: &'static Language,
}

/// A `<Dial>` to one number.
#[derive(Debug, Clone)]
pub struct Dial {
    /// Where Twilio posts the outcome (`DialCallStatus`) when the dial ends; without it
    /// the call continues with the next verb.
    pub action: Option<String>,
    /// Number shown to the person called.
    pub caller_id: Option<String>,
    /// Seconds to ring before giving up.
    pub timeout_seconds: u32,
    /// E.164 number to ring.
    pub number: String,
}

/// A `<Connect><Stream>`: Twilio opens a WebSocket to `stream_url` and streams the call's
/// audio both ways; when the stream ends it requests `action` for what comes next.
#[derive(Debug, Clone)]
pub struct Connect {
    /// Absolute URL Twilio posts to when the stream ends.
    pub action: String,
    /// `wss://` URL of the media stream. Twilio drops query strings here: per-call values
    /// go in `parameters`.
    pub stream_url: String,
    /// `<Parameter>`s, delivered in the stream's `start` message.
    pub parameters: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
enum Verb {
    Speech(Speech),
    Gather(Gather),
    Dial(Dial),
    Connect(Connect),
    Pause(u32),
    Redirect(String),
    Hangup,
    Reject,
    Message(String),
}

impl Response {
    /// An empty response.
    pub fn new() -> Self {
        Self::default()
    }

    /// Speaks `speech`.
    pub fn speak(mut self, speech: Speech) -> Self {
        self.verbs.push(Verb::Speech(speech));
        self
    }

    /// `<Say>` in English with Twilio's voice.
    pub fn say(self, text: impl Into<String>) -> Self {
        self.speak(Speech::Say(text.into(), ENGLISH))
    }

    /// `<Play>` of an audio URL.
    pub fn play(self, url: impl Into<String>) -> Self {
        self.speak(Speech::Play(url.into()))
    }

    /// Listens for speech.
    pub fn gather(mut self, gather: Gather) -> Self {
        self.verbs.push(Verb::Gather(gather));
        self
    }

    /// Rings a number.
    pub fn dial(mut self, dial: Dial) -> Self {
        self.verbs.push(Verb::Dial(dial));
        self
    }

    /// Streams the call's audio to a WebSocket.
    pub fn connect(mut self, connect: Connect) -> Self {
        self.verbs.push(Verb::Connect(connect));
        self
    }

    /// Waits `seconds` in silence.
    pub fn pause(mut self, seconds: u32) -> Self {
        self.verbs.push(Verb::Pause(seconds));
        self
    }

    /// Continues the call with the TwiML at `url`.
    pub fn redirect(mut self, url: impl Into<String>) -> Self {
        self.verbs.push(Verb::Redirect(url.into()));
        self
    }

    /// Ends the call.
    pub fn hangup(mut self) -> Self {
        self.verbs.push(Verb::Hangup);
        self
    }

    /// Refuses the call unanswered, as if the line were busy (`<Reject reason="busy"/>`):
    /// nothing is answered, so nothing is billed for it.
    pub fn reject_busy(mut self) -> Self {
        self.verbs.push(Verb::Reject);
        self
    }

    /// Texts `text` back to the sender of a message (an SMS webhook's answer).
    pub fn message(mut self, text: impl Into<String>) -> Self {
        self.verbs.push(Verb::Message(text.into()));
        self
    }

    /// The XML document; `<Response/>` when there is nothing to do.
    pub fn to_xml(&self) -> String {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        if self.verbs.is_empty() {
            xml.push_str("<Response/>");
            return xml;
        }
        xml.push_str("<Response>");
        for verb in &self.verbs {
            write_verb(&mut xml, verb);
        }
        xml.push_str("</Response>");
        xml
    }
}

fn write_speech(xml: &mut String, speech: &Speech) {
    match speech {
        Speech::Play(url) => {
            let _ = write!(xml, "<Play>{}</Play>", escape(url));
        }
        Speech::Say(text, language) => {
            let _ = write!(
                xml,
                "<Say voice=\"{}\" language=\"{}\">{}</Say>",
                escape(language.say_voice),
                escape(language.code),
                escape(text)
            );
        }
    }
}

fn write_verb(xml: &mut String, verb: &Verb) {
    match verb {
        Verb::Speech(speech) => write_speech(xml, speech),
        Verb::Gather(gather) => {
            let _ = write!(
                xml,
                "<Gather input=\"speech\" action=\"{}\" method=\"POST\" timeout=\"{}\" speechTimeout=\"auto\" \
                 language=\"{}\" actionOnEmptyResult=\"false\">",
                escape(&gather.action),
                gather.timeout_seconds,
                escape(gather.language.code)
            );
            for prompt in &gather.prompts {
                write_speech(xml, prompt);
            }
            xml.push_str("</Gather>");
        }
        Verb::Dial(dial) => {
            xml.push_str("<Dial");
            if let Some(action) = &dial.action {
                let _ = write!(xml, " action=\"{}\" method=\"POST\"", escape(action));
            }
            if let Some(caller_id) = &dial.caller_id {
                let _ = write!(xml, " callerId=\"{}\"", escape(caller_id));
            }
            let _ =
                write!(xml, " timeout=\"{}\"><Number>{}</Number></Dial>", dial.timeout_seconds, escape(&dial.number));
        }
        Verb::Connect(connect) => {
            let _ = write!(
                xml,
                "<Connect action=\"{}\" method=\"POST\"><Stream url=\"{}\">",
                escape(&connect.action),
                escape(&connect.stream_url)
            );
            for (name, value) in &connect.parameters {
                let _ = write!(xml, "<Parameter name=\"{}\" value=\"{}\"/>", escape(name), escape(value));
            }
            xml.push_str("</Stream></Connect>");
        }
        Verb::Pause(seconds) => {
            let _ = write!(xml, "<Pause length=\"{seconds}\"/>");
        }
        Verb::Redirect(url) => {
            let _ = write!(xml, "<Redirect method=\"POST\">{}</Redirect>", escape(url));
        }
        Verb::Hangup => xml.push_str("<Hangup/>"),
        Verb::Reject => xml.push_str("<Reject reason=\"busy\"/>"),
        Verb::Message(text) => {
            let _ = write!(xml, "<Message>{}</Message>", escape(text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_characters_are_escaped_everywhere() {
        let xml = Response::new()
            .say("Bob & Sons <Plumbing> \"24/7\" it's \u{7}here")
            .gather(Gather {
                action: "https://x.test/gather?a=1&b=\"2\"".into(),
                timeout_seconds: 5,
                prompts: vec![Speech::Play("https://x.test/tts?t=a&s=b".into())],
                language: ENGLISH,
            })
            .dial(Dial {
                action: Some("https://x.test/gather?x=1&y=2".into()),
                caller_id: Some("+1<555>".into()),
                timeout_seconds: 30,
                number: "+1&2".into(),
            })
            .redirect("https://x.test/r?a=<b>")
            .hangup()
            .to_xml();
        let doc = roxmltree::Document::parse(&xml).expect("valid XML");
        let say = doc.descendants().find(|n| n.has_tag_name("Say")).unwrap();
        assert_eq!(say.text(), Some("Bob & Sons <Plumbing> \"24/7\" it's here"));
        let gather = doc.descendants().find(|n| n.has_tag_name("Gather")).unwrap();
        assert_eq!(gather.attribute("action"), Some("https://x.test/gather?a=1&b=\"2\""));
        assert_eq!(gather.attribute("input"), Some("speech"));
        let dial = doc.descendants().find(|n| n.has_tag_name("Dial")).unwrap();
        assert_eq!(dial.attribute("callerId"), Some("+1<555>"));
        assert_eq!(dial.attribute("timeout"), Some("30"));
        assert_eq!(dial.attribute("action"), Some("https://x.test/gather?x=1&y=2"));
        assert_eq!(dial.children().find(|n| n.has_tag_name("Number")).unwrap().text(), Some("+1&2"));
        assert!(xml.ends_with("<Hangup/></Response>"));
    }

    #[test]
    fn characters_xml_forbids_are_dropped_from_every_text_and_attribute() {
        let bad = |text: &str| format!("\u{FFFF}{text}\u{FFFE}\u{1}\u{B}\u{1B}");
        let xml = Response::new()
            .say(bad("Hello"))
            .gather(Gather {
                action: bad("https://x.test/gather"),
                timeout_seconds: 5,
                prompts: vec![Speech::Say(bad("Speak"), ENGLISH), Speech::Play(bad("https://x.test/a.mp3"))],
                language: ENGLISH,
            })
            .dial(Dial {
                action: Some(bad("https://x.test/dial")),
                caller_id: Some(bad("+14155550100")),
                timeout_seconds: 30,
                number: bad("+14155550101"),
            })
            .connect(Connect {
                action: bad("https://x.test/stream-ended"),
                stream_url: bad("wss://x.test/media-stream"),
                parameters: vec![(bad("token"), bad("abc"))],
            })
            .redirect(bad("https://x.test/r"))
            .to_xml();

        let doc = roxmltree::Document::parse(&xml).expect("valid XML");
        let text =
            |tag: &str| doc.descendants().filter(|n| n.has_tag_name(tag)).filter_map(|n| n.text()).collect::<Vec<_>>();
        assert_eq!(text("Say"), ["Hello", "Speak"]);
        assert_eq!(text("Play"), ["https://x.test/a.mp3"]);
        assert_eq!(text("Number"), ["+14155550101"]);
        assert_eq!(text("Redirect"), ["https://x.test/r"]);
        let attribute = |tag: &str, name: &str| {
            doc.descendants().find(|n| n.has_tag_name(tag)).and_then(|n| n.attribute(name)).map(str::to_owned)
        };
        assert_eq!(attribute("Gather", "action").as_deref(), Some("https://x.test/gather"));
        assert_eq!(attribute("Dial", "callerId").as_deref(), Some("+14155550100"));
        assert_eq!(attribute("Stream", "url").as_deref(), Some("wss://x.test/media-stream"));
        assert_eq!(attribute("Parameter", "name").as_deref(), Some("token"));
        assert_eq!(attribute("Parameter", "value").as_deref(), Some("abc"));
    }

    #[test]
    fn a_connect_carries_its_stream_and_parameters() {
        let xml = Response::new()
            .connect(Connect {
                action: "https://x.test/stream-ended".into(),
                stream_url: "wss://x.test/media-stream".into(),
                parameters: vec![("token".into(), "a&b\"c".into())],
            })
            .to_xml();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let connect = doc.descendants().find(|n| n.has_tag_name("Connect")).unwrap();
        assert_eq!(connect.attribute("action"), Some("https://x.test/stream-ended"));
        let stream = connect.children().find(|n| n.has_tag_name("Stream")).unwrap();
        assert_eq!(stream.attribute("url"), Some("wss://x.test/media-stream"));
        let parameter = stream.children().find(|n| n.has_tag_name("Parameter")).unwrap();
        assert_eq!((parameter.attribute("name"), parameter.attribute("value")), (Some("token"), Some("a&b\"c")));
    }

    #[test]
    fn a_message_is_escaped_and_nothing_is_an_empty_response() {
        let xml = Response::new().message("Bob & Sons <Plumbing>: \"C\" \u{1}cancels").to_xml();
        let doc = roxmltree::Document::parse(&xml).expect("valid XML");
        let message = doc.root_element().children().find(|n| n.has_tag_name("Message")).unwrap();
        assert_eq!(message.text(), Some("Bob & Sons <Plumbing>: \"C\" cancels"));
        assert_eq!(Response::new().to_xml(), "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>");
    }

    #[test]
    fn gathers_and_says_carry_their_language_and_its_voice() {
        let spanish = super::super::languages::find("es-MX").unwrap();
        let xml = Response::new()
            .gather(Gather {
                action: "https://x.test/gather".into(),
                timeout_seconds: 5,
                prompts: vec![Speech::Say("¿En qué puedo ayudarle?".into(), spanish)],
                language: spanish,
            })
            .say("Goodbye")
            .to_xml();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let gather = doc.descendants().find(|n| n.has_tag_name("Gather")).unwrap();
        assert_eq!(gather.attribute("language"), Some("es-MX"));
        let says: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("Say"))
            .map(|n| (n.attribute("language").unwrap(), n.attribute("voice").unwrap()))
            .collect();
        assert_eq!(says, [("es-MX", "Polly.Mia"), ("en-US", "Polly.Joanna")]);
    }

    #[test]
    fn verbs_keep_their_order() {
        let xml = Response::new().pause(1).say("a").play("https://x.test/a.mp3").hangup().to_xml();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let names: Vec<&str> = doc.root_element().children().map(|n| n.tag_name().name()).collect();
        assert_eq!(names, ["Pause", "Say", "Play", "Hangup"]);
    }
}
