//! The languages a receptionist speaks: the BCP-47 codes a business may choose, with what
//! Twilio needs for each (`<Gather language>`, a `<Say>` voice), the words a caller says to
//! choose one, and the few standing phrases of a standard-mode call in that language.
//!
//! Only languages whose phrases are written here correctly are offered; adding one is one
//! more entry in [`LANGUAGES`].

/// One language a business can serve.
#[derive(Debug, PartialEq, Eq)]
pub struct Language {
    /// BCP-47 code, as Twilio's `<Gather language>` and `<Say language>` take it.
    pub code: &'static str,
    /// Its name in English, for the model's instructions and the owner's notices.
    pub name: &'static str,
    /// Amazon Polly voice for `<Say>` (Twilio's own text-to-speech).
    pub say_voice: &'static str,
    /// "For Spanish, say Spanish", in the language itself.
    pub offer: &'static str,
    /// What a caller says to choose it, lower case without accents (recognisers in another
    /// language may write "espanol" or "Spanish" for "español").
    pub choice_words: &'static [&'static str],
    /// The re-prompt when nothing was recognised.
    pub did_not_catch: &'static str,
    /// The second chance after silence.
    pub still_there: &'static str,
    /// The polite end after silence.
    pub goodbye: &'static str,
}

impl Language {
    /// The primary subtag (`es` of `es-MX`): two codes with the same one are the same
    /// language to a caller choosing by name.
    pub fn primary(&self) -> &'static str {
        self.code.split('-').next().unwrap_or(self.code)
    }
}

/// US English: the default, and the language of everything not yet translated.
pub const ENGLISH: &Language = &LANGUAGES[0];

const ENGLISH_WORDS: &[&str] = &["english", "ingles", "anglais", "englisch", "inglese", "engels"];
const SPANISH_WORDS: &[&str] = &["espanol", "spanish", "castellano"];
const FRENCH_WORDS: &[&str] = &["francais", "french"];
const PORTUGUESE_WORDS: &[&str] = &["portugues", "portuguese"];

const SPANISH_DID_NOT_CATCH: &str = "Perdón, no le entendí. ¿Puede repetirlo?";
const SPANISH_STILL_THERE: &str = "¿Sigue ahí? ¿En qué puedo ayudarle?";
const SPANISH_GOODBYE: &str = "Gracias por llamar. ¡Adiós!";
const FRENCH_DID_NOT_CATCH: &str = "Pardon, je n'ai pas compris. Pouvez-vous répéter ?";
const FRENCH_STILL_THERE: &str = "Êtes-vous toujours là ? Comment puis-je vous aider ?";
const FRENCH_GOODBYE: &str = "Merci de votre appel. Au revoir !";
const PORTUGUESE_DID_NOT_CATCH: &str = "Desculpe, não entendi. Pode repetir?";
const PORTUGUESE_STILL_THERE: &str = "Ainda está aí? Como posso ajudar?";
const PORTUGUESE_GOODBYE: &str = "Obrigado por ligar. Até logo!";

/// Every language a business may choose.
pub const LANGUAGES: &[Language] = &[
    Language {
        code: "en-US",
        name: "English",
        say_voice: "Polly.Joanna",
        offer: "For English, say English.",
        choice_words: ENGLISH_WORDS,
        did_not_catch: super::conversation::DID_NOT_CATCH,
        still_there: super::conversation::STILL_THERE,
        goodbye: super::conversation::GOODBYE,
    },
    Language {
        code: "en-GB",
        name: "English (UK)",
        say_voice: "Polly.Amy",
        offer: "For English, say English.",
        choice_words: ENGLISH_WORDS,
        did_not_catch: super::conversation::DID_NOT_CATCH,
        still_there: super::conversation::STILL_THERE,
        goodbye: super::conversation::GOODBYE,
    },
    Language {
        code: "es-US",
        name: "Spanish (US)",
        say_voice: "Polly.Lupe",
        offer: "Para español, diga español.",
        choice_words: SPANISH_WORDS,
        did_not_catch: SPANISH_DID_NOT_CATCH,
        still_there: SPANISH_STILL_THERE,
        goodbye: SPANISH_GOODBYE,
    },
    Language {
        code: "es-MX",
        name: "Spanish (Mexico)",
        say_voice: "Polly.Mia",
        offer: "Para español, diga español.",
        choice_words: SPANISH_WORDS,
        did_not_catch: SPANISH_DID_NOT_CATCH,
        still_there: SPANISH_STILL_THERE,
        goodbye: SPANISH_GOODBYE,
    },
    Language {
        code: "es-ES",
        name: "Spanish (Spain)",
        say_voice: "Polly.Lucia",
        offer: "Para español, diga español.",
        choice_words: SPANISH_WORDS,
        did_not_catch: SPANISH_DID_NOT_CATCH,
        still_there: SPANISH_STILL_THERE,
        goodbye: SPANISH_GOODBYE,
    },
    Language {
        code: "fr-FR",
        name: "French (France)",
        say_voice: "Polly.Lea",
        offer: "Pour le français, dites français.",
        choice_words: FRENCH_WORDS,
        did_not_catch: FRENCH_DID_NOT_CATCH,
        still_there: FRENCH_STILL_THERE,
        goodbye: FRENCH_GOODBYE,
    },
    Language {
        code: "fr-CA",
        name: "French (Canada)",
        say_voice: "Polly.Chantal",
        offer: "Pour le français, dites français.",
        choice_words: FRENCH_WORDS,
        did_not_catch: FRENCH_DID_NOT_CATCH,
        still_there: FRENCH_STILL_THERE,
        goodbye: FRENCH_GOODBYE,
    },
    Language {
        code: "de-DE",
        name: "German",
        say_voice: "Polly.Vicki",
        offer: "Für Deutsch sagen Sie bitte Deutsch.",
        choice_words: &["deutsch", "german"],
        did_not_catch: "Entschuldigung, das habe ich nicht verstanden. Können Sie das bitte wiederholen?",
        still_there: "Sind Sie noch da? Wie kann ich Ihnen helfen?",
        goodbye: "Vielen Dank für Ihren Anruf. Auf Wiederhören!",
    },
    Language {
        code: "it-IT",
        name: "Italian",
        say_voice: "Polly.Carla",
        offer: "Per l'italiano, dica italiano.",
        choice_words: &["italiano", "italian"],
        did_not_catch: "Mi scusi, non ho capito. Può ripetere?",
        still_there: "È ancora in linea? Come posso aiutarla?",
        goodbye: "Grazie per aver chiamato. Arrivederci!",
    },
    Language {
        code: "pt-BR",
        name: "Portuguese (Brazil)",
        say_voice: "Polly.Camila",
        offer: "Para português, diga português.",
        choice_words: PORTUGUESE_WORDS,
        did_not_catch: PORTUGUESE_DID_NOT_CATCH,
        still_there: PORTUGUESE_STILL_THERE,
        goodbye: PORTUGUESE_GOODBYE,
    },
    Language {
        code: "pt-PT",
        name: "Portuguese (Portugal)",
        say_voice: "Polly.Ines",
        offer: "Para português, diga português.",
        choice_words: PORTUGUESE_WORDS,
        did_not_catch: PORTUGUESE_DID_NOT_CATCH,
        still_there: PORTUGUESE_STILL_THERE,
        goodbye: PORTUGUESE_GOODBYE,
    },
    Language {
        code: "nl-NL",
        name: "Dutch",
        say_voice: "Polly.Lotte",
        offer: "Voor Nederlands, zeg Nederlands.",
        choice_words: &["nederlands", "dutch"],
        did_not_catch: "Sorry, dat heb ik niet verstaan. Kunt u het herhalen?",
        still_there: "Bent u er nog? Waarmee kan ik u helpen?",
        goodbye: "Bedankt voor uw telefoontje. Tot ziens!",
    },
];

/// Most languages a business serves.
pub const MAX_LANGUAGES: usize = 5;

/// The supported language with this code (exact, as in [`LANGUAGES`]).
pub fn find(code: &str) -> Option<&'static Language> {
    LANGUAGES.iter().find(|language| language.code == code)
}

/// A business's languages as stored (codes, main first), unknown codes skipped; English
/// when none is left.
pub fn of_business(codes: &[String]) -> Vec<&'static Language> {
    let languages: Vec<_> = codes.iter().filter_map(|code| find(code)).collect();
    if languages.is_empty() { vec![ENGLISH] } else { languages }
}

/// Why a list of language codes is refused: the field (`languages` or `languages[i]`) and
/// the reason.
pub fn check(codes: &[String]) -> Result<Vec<String>, (String, String)> {
    if codes.is_empty() || codes.len() > MAX_LANGUAGES {
        return Err((
            "languages".into(),
            format!("give 1 to {MAX_LANGUAGES} language codes, the main one first ({} were sent)", codes.len()),
        ));
    }
    let mut chosen: Vec<&'static Language> = Vec::with_capacity(codes.len());
    for (i, code) in codes.iter().enumerate() {
        let field = format!("languages[{i}]");
        // BCP-47 codes are case-insensitive; they are stored as the table writes them.
        let Some(language) = LANGUAGES.iter().find(|language| language.code.eq_ignore_ascii_case(code.trim())) else {
            let known: Vec<&str> = LANGUAGES.iter().map(|l| l.code).collect();
            return Err((field, format!("`{code}` is not a supported language; use one of: {}", known.join(", "))));
        };
        if let Some(same) = chosen.iter().find(|other| other.primary() == language.primary()) {
            let reason = if same.code == language.code {
                format!("{} is listed twice", language.code)
            } else {
                // A caller chooses by saying the language's name, which is the same for both.
                format!("{} is the same language as {}, already listed; keep one of them", language.code, same.code)
            };
            return Err((field, reason));
        }
        chosen.push(language);
    }
    Ok(chosen.iter().map(|language| language.code.to_owned()).collect())
}

/// The language a caller chooses by saying its name ("español", "Spanish please"), among
/// `languages` other than `current`. Only a short utterance counts: "do you have staff who
/// speak Spanish?" is a question for the receptionist, not a choice.
pub fn chosen_by(said: &str, languages: &[&'static Language], current: &Language) -> Option<&'static Language> {
    const MOST_WORDS: usize = 4;
    let plain = fold(said);
    let words: Vec<&str> = plain.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).collect();
    if words.is_empty() || words.len() > MOST_WORDS {
        return None;
    }
    languages
        .iter()
        .copied()
        .filter(|language| language.primary() != current.primary())
        .find(|language| words.iter().any(|word| language.choice_words.contains(word)))
}

/// Lower case without the accents of the languages above, so "Español" and "espanol" match.
fn fold(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            other => other,
        })
        .collect()
}

/// The standard-mode greeting's offers of the other languages, each in its own words.
pub fn offers(languages: &[&'static Language]) -> Vec<&'static Language> {
    languages.iter().skip(1).copied().collect()
}

/// What the model is told about languages in a realtime call: follow the caller among the
/// business's languages, else the main one with a short apology.
pub fn realtime_instructions(languages: &[&'static Language]) -> String {
    let main = languages.first().copied().unwrap_or(ENGLISH);
    if languages.len() <= 1 {
        return format!(
            "\n## Language\nSpeak {}. If the caller speaks another language, apologise briefly (in their language if \
             you can) that you can only help in {}, and carry on in {}.\n",
            main.name, main.name, main.name
        );
    }
    let names: Vec<&str> = languages.iter().map(|language| language.name).collect();
    format!(
        "\n## Languages\nThis business serves callers in: {}. Greet in {} (the main language). Answer in the language \
         the caller speaks when it is one of these, and switch if they switch. If they speak any other language, \
         apologise briefly that you can only help in {} and carry on in {}.\n",
        names.join(", "),
        main.name,
        names.join(" or "),
        main.name
    )
}

/// What the model is told about the language of a standard-mode reply: the call's current
/// language (the main one, or the one the caller chose).
pub fn reply_instructions(current: &Language, languages: &[&'static Language]) -> String {
    let main = languages.first().copied().unwrap_or(ENGLISH);
    if current.code == main.code {
        format!(
            "\n## Language\nReply in {} ({}), whatever language the caller's words are in: the phone line listens \
             for {} only.\n",
            current.name, current.code, current.name
        )
    } else {
        format!(
            "\n## Language\nThe caller chose {}: reply only in {} ({}) for the rest of the call.\n",
            current.name, current.name, current.code
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(codes: &[&str]) -> Vec<String> {
        codes.iter().map(|code| (*code).to_owned()).collect()
    }

    #[test]
    fn every_entry_is_complete_and_unique() {
        for (i, language) in LANGUAGES.iter().enumerate() {
            assert!(LANGUAGES[..i].iter().all(|other| other.code != language.code), "{}", language.code);
            assert!(language.say_voice.starts_with("Polly."));
            assert!(!language.choice_words.is_empty());
            assert!(language.choice_words.iter().all(|word| fold(word) == *word), "{}", language.code);
        }
        assert_eq!(ENGLISH.code, "en-US");
    }

    #[test]
    fn lists_are_checked_naming_the_entry() {
        assert_eq!(check(&codes(&["es-MX", "en-US"])).unwrap(), ["es-MX", "en-US"]);
        assert_eq!(check(&codes(&[" es-mx", "EN-us"])).unwrap(), ["es-MX", "en-US"]);
        assert_eq!(check(&codes(&[])).unwrap_err().0, "languages");
        assert_eq!(check(&codes(&["en-US", "es-MX", "fr-FR", "de-DE", "it-IT", "pt-BR"])).unwrap_err().0, "languages");
        let (field, reason) = check(&codes(&["en-US", "es-MX", "xx-YY"])).unwrap_err();
        assert_eq!(field, "languages[2]");
        assert!(reason.starts_with("`xx-YY` is not a supported language"), "{reason}");
        assert_eq!(
            check(&codes(&["en-US", "en-US"])).unwrap_err(),
            ("languages[1]".into(), "en-US is listed twice".into())
        );
        let (field, reason) = check(&codes(&["es-MX", "en-US", "es-ES"])).unwrap_err();
        assert_eq!(field, "languages[2]");
        assert!(reason.contains("same language as es-MX"), "{reason}");
    }

    #[test]
    fn a_short_utterance_naming_a_served_language_chooses_it() {
        let served = [ENGLISH, find("es-MX").unwrap(), find("fr-CA").unwrap()];
        let spanish = Some(find("es-MX").unwrap());
        assert_eq!(chosen_by("Español.", &served, ENGLISH), spanish);
        assert_eq!(chosen_by("espanol please", &served, ENGLISH), spanish);
        assert_eq!(chosen_by("Spanish", &served, ENGLISH), spanish);
        assert_eq!(chosen_by("Français", &served, ENGLISH), Some(find("fr-CA").unwrap()));
        assert_eq!(chosen_by("inglés", &served, find("es-MX").unwrap()), Some(ENGLISH));
        // Not served, already current, or a longer sentence: no choice.
        assert_eq!(chosen_by("Deutsch", &served, ENGLISH), None);
        assert_eq!(chosen_by("español", &served, find("es-MX").unwrap()), None);
        assert_eq!(chosen_by("Do you have staff who speak Spanish?", &served, ENGLISH), None);
        assert_eq!(chosen_by("", &served, ENGLISH), None);
    }

    #[test]
    fn the_instructions_name_the_languages() {
        let served = [find("es-MX").unwrap(), ENGLISH];
        let realtime = realtime_instructions(&served);
        assert!(realtime.contains("Spanish (Mexico), English"), "{realtime}");
        assert!(realtime.contains("Greet in Spanish (Mexico)"), "{realtime}");
        assert!(realtime.contains("apologise briefly"), "{realtime}");
        assert!(reply_instructions(ENGLISH, &served).contains("The caller chose English"));
        assert!(reply_instructions(served[0], &served).contains("Reply in Spanish (Mexico) (es-MX)"));
        assert_eq!(of_business(&codes(&["zz-ZZ"])), [ENGLISH]);
    }
}
