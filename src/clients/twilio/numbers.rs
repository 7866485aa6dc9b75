//! Phone numbers: searching Twilio's stock (AvailablePhoneNumbers), buying, listing,
//! rewiring and releasing the account's numbers (IncomingPhoneNumbers).

use serde::Deserialize;

use super::{Twilio, TwilioError};

/// Numbers read per page when listing the account's numbers (Twilio's largest page).
const PAGE_SIZE: &str = "1000";

/// What to look for in Twilio's stock of local numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NumberSearch {
    /// ISO country code (`US`).
    pub country: String,
    /// Three-digit area code (US and Canada).
    pub area_code: Option<String>,
    /// Digits (or `*` wildcards) the number must contain.
    pub contains: Option<String>,
}

/// A number Twilio offers.
#[derive(Debug, Clone, Deserialize)]
pub struct AvailableNumber {
    /// E.164.
    pub phone_number: String,
    /// City, when Twilio knows it.
    #[serde(default)]
    pub locality: Option<String>,
    /// State or province, when Twilio knows it.
    #[serde(default)]
    pub region: Option<String>,
}

#[derive(Deserialize)]
struct AvailablePage {
    #[serde(default)]
    available_phone_numbers: Vec<AvailableNumber>,
}

/// A number on the account, with where its calls and call events go.
#[derive(Debug, Clone, Deserialize)]
pub struct IncomingNumber {
    /// `PN...`.
    pub sid: String,
    /// E.164.
    pub phone_number: String,
    /// The label shown in Twilio's console.
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// Where Twilio asks what to do with a call.
    #[serde(default)]
    pub voice_url: Option<String>,
    /// `POST` or `GET`.
    #[serde(default)]
    pub voice_method: Option<String>,
    /// Where Twilio reports a call's end.
    #[serde(default)]
    pub status_callback: Option<String>,
    /// `POST` or `GET`.
    #[serde(default)]
    pub status_callback_method: Option<String>,
    /// Where Twilio posts a text the number receives.
    #[serde(default)]
    pub sms_url: Option<String>,
    /// `POST` or `GET`.
    #[serde(default)]
    pub sms_method: Option<String>,
}

#[derive(Deserialize)]
struct IncomingPage {
    #[serde(default)]
    incoming_phone_numbers: Vec<IncomingNumber>,
    #[serde(default)]
    next_page_uri: Option<String>,
}

/// Where a number's calls and texts must go: this server's voice, status and SMS webhooks,
/// all POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wiring {
    /// `{API_BASE_URL}/api/webhooks/twilio/voice`.
    pub voice_url: String,
    /// `{API_BASE_URL}/api/webhooks/twilio/status`.
    pub status_callback: String,
    /// `{API_BASE_URL}/api/webhooks/twilio/sms`.
    pub sms_url: String,
}

impl Wiring {
    /// The form fields that wire a number, plus its label.
    fn form<'a>(&'a self, friendly_name: &'a str) -> [(&'static str, &'a str); 7] {
        [
            ("VoiceUrl", &self.voice_url),
            ("VoiceMethod", "POST"),
            ("StatusCallback", &self.status_callback),
            ("StatusCallbackMethod", "POST"),
            ("SmsUrl", &self.sms_url),
            ("SmsMethod", "POST"),
            ("FriendlyName", friendly_name),
        ]
    }
}

impl Twilio {
    /// Voice-capable local numbers on offer that match `search` (at most Twilio's first page).
    #[tracing::instrument(skip_all)]
    pub async fn available_numbers(&self, search: &NumberSearch) -> Result<Vec<AvailableNumber>, TwilioError> {
        let url = self.account_url(&format!("AvailablePhoneNumbers/{}/Local.json", search.country))?;
        let mut query = vec![("VoiceEnabled", "true")];
        if let Some(area_code) = &search.area_code {
            query.push(("AreaCode", area_code));
        }
        if let Some(contains) = &search.contains {
            query.push(("Contains", contains));
        }
        let page: AvailablePage = self.send(|http| http.get(&url).query(&query)).await?;
        Ok(page.available_phone_numbers)
    }

    /// Buys `phone_number` with its calls and texts wired to `wiring`.
    #[tracing::instrument(skip_all)]
    pub async fn buy_number(
        &self,
        phone_number: &str,
        wiring: &Wiring,
        friendly_name: &str,
    ) -> Result<IncomingNumber, TwilioError> {
        let url = self.account_url("IncomingPhoneNumbers.json")?;
        let mut form = vec![("PhoneNumber", phone_number)];
        form.extend(wiring.form(friendly_name));
        self.send(|http| http.post(&url).form(&form)).await
    }

    /// Every number on the account (following Twilio's pages), or only `phone_number`.
    #[tracing::instrument(skip_all)]
    pub async fn account_numbers(&self, phone_number: Option<&str>) -> Result<Vec<IncomingNumber>, TwilioError> {
        let first = self.account_url("IncomingPhoneNumbers.json")?;
        let mut query = vec![("PageSize", PAGE_SIZE)];
        if let Some(number) = phone_number {
            query.push(("PhoneNumber", number));
        }
        let mut page: IncomingPage = self.send(|http| http.get(&first).query(&query)).await?;
        let mut numbers = std::mem::take(&mut page.incoming_phone_numbers);
        while let Some(next) = page.next_page_uri.take() {
            // The next page's address is a path with its query; it carries the page token.
            let url = format!("{}{next}", self.base_url);
            page = self.send(|http| http.get(&url)).await?;
            numbers.append(&mut page.incoming_phone_numbers);
        }
        // Twilio matches `PhoneNumber` loosely (a prefix); keep the exact number only.
        if let Some(number) = phone_number {
            numbers.retain(|found| found.phone_number == number);
        }
        Ok(numbers)
    }

    /// Points number `sid`'s calls and texts at `wiring`.
    #[tracing::instrument(skip_all)]
    pub async fn wire_number(
        &self,
        sid: &str,
        wiring: &Wiring,
        friendly_name: &str,
    ) -> Result<IncomingNumber, TwilioError> {
        let url = self.account_url(&format!("IncomingPhoneNumbers/{sid}.json"))?;
        let form = wiring.form(friendly_name);
        self.send(|http| http.post(&url).form(&form)).await
    }

    /// Releases number `sid` (gives it back to Twilio; its monthly fee stops). A number
    /// already gone counts as released.
    #[tracing::instrument(skip_all)]
    pub async fn release_number(&self, sid: &str) -> Result<(), TwilioError> {
        let url = self.account_url(&format!("IncomingPhoneNumbers/{sid}.json"))?;
        match self.send::<serde_json::Value>(|http| http.delete(&url)).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_not_found() => Ok(()),
            Err(error) => Err(error),
        }
    }
}
