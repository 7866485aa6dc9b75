//! Outgoing calls (the Calls resource): the portal's test call rings the owner.

use serde::Deserialize;

use super::{Twilio, TwilioError};

/// An outgoing call to place.
#[derive(Debug, Clone)]
pub struct OutgoingCall<'a> {
    /// Who is rung (E.164).
    pub to: &'a str,
    /// The caller ID: a number on the account (E.164).
    pub from: &'a str,
    /// Where Twilio fetches the call's TwiML when it is answered (POST).
    pub url: &'a str,
    /// Where Twilio reports the call's end (POST).
    pub status_callback: &'a str,
}

/// A call Twilio accepted to place.
#[derive(Debug, Clone, Deserialize)]
pub struct PlacedCall {
    /// `CA...`.
    pub sid: String,
}

impl Twilio {
    /// Asks Twilio to place `call`.
    #[tracing::instrument(skip_all)]
    pub async fn place_call(&self, call: &OutgoingCall<'_>) -> Result<PlacedCall, TwilioError> {
        let url = self.account_url("Calls.json")?;
        let form = [
            ("To", call.to),
            ("From", call.from),
            ("Url", call.url),
            ("Method", "POST"),
            ("StatusCallback", call.status_callback),
            ("StatusCallbackMethod", "POST"),
        ];
        self.send(|http| http.post(&url).form(&form)).await
    }
}
