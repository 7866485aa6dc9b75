//! Connecting Cal.com (issue 19): the business gives an API key it made in Cal.com and which
//! Cal.com event type each of its services is booked as. The key is checked with Cal.com,
//! then sealed ([`crate::secrets`]) before it is stored; no answer or log ever carries it.

use axum::extract::State;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::calendar::{CalendarConnection, ConnectionRow, GOOGLE_NOT_TOLD, revoke_google, token_key};
use crate::clients::calcom::CalComError;
use crate::http::AppState;
use crate::http::error::{AppError, AuthErrors, ErrorBody, InputErrors, Result};
use crate::http::extract::{AppJson, CustomerUser};

/// Longest API key accepted; Cal.com's are far shorter.
const MAX_KEY_LEN: usize = 500;

/// The Cal.com routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(connect_calcom))
}

/// One service booked as one Cal.com event type, as stored in
/// `calendar_connections.calcom_event_types` (a JSON array, in the business's service order).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CalComEventType {
    /// The service's name, as the business spells it in its booking settings.
    pub service: String,
    /// Cal.com's event type id.
    pub event_type_id: i64,
}

/// The Cal.com account to connect. No `Debug`: it holds the key.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectCalCom {
    /// An API key made in Cal.com (Settings > Developer > API keys).
    #[schema(value_type = String, example = "cal_live_0123456789abcdef")]
    pub api_key: Option<Value>,
    /// Each service (by its name in the booking settings) and the id of the Cal.com event
    /// type it is booked as; ids may be sent as text. A service left out, or mapped to `""`
    /// or `null`, is not booked through Cal.com. At least one service must be mapped.
    #[schema(value_type = BTreeMap<String, i64>, example = json!({"Haircut": 1234}))]
    pub event_types: Option<Value>,
}

/// `PUT /api/portal/calendar/calcom`.
#[utoipa::path(
    put,
    path = "/calendar/calcom",
    tag = "portal",
    summary = "Connect Cal.com",
    description = "Checks the API key with Cal.com, then stores it sealed with the mapping of services to \
                   event types, replacing any connected calendar. When a Google calendar was connected, its \
                   access is revoked and `message` says so. The answer never carries the key.",
    request_body = ConnectCalCom,
    responses((status = 200, body = CalendarConnection), AuthErrors, InputErrors,
        (status = 502, description = "Cal.com could not be reached or failed", body = ErrorBody),
        (status = 503, description = "CALENDAR_TOKEN_KEY is not configured", body = ErrorBody)),
    security(("customer_token" = []))
)]
async fn connect_calcom(
    user: CustomerUser,
    State(state): State<AppState>,
    AppJson(connect): AppJson<ConnectCalCom>,
) -> Result<AppJson<CalendarConnection>> {
    let api_key = api_key(connect.api_key)?;
    let customer = crate::db::customers::find(&state.db, user.id)
        .await?
        .ok_or(AppError::Unauthorized("invalid or expired token"))?;
    let services: Vec<String> = customer
        .booking
        .and_then(|booking| booking.parse())
        .map(|booking| booking.services.into_iter().map(|service| service.name).collect())
        .unwrap_or_default();
    let event_types = event_types(connect.event_types, &services)?;
    let key = token_key(&state.config)?;

    // Checked before anything is stored: a key Cal.com refuses is never kept.
    state.clients.calcom.check_key(api_key.expose_secret()).await.map_err(calcom_failure)?;
    let sealed = key.seal(api_key.expose_secret().as_bytes()).map_err(anyhow::Error::from)?;

    let mut tx = state.db.begin().await?;
    let replaced =
        sqlx::query!("SELECT provider, secret FROM calendar_connections WHERE customer_id = $1 FOR UPDATE", user.id)
            .fetch_optional(&mut *tx)
            .await?;
    let row = sqlx::query_as!(
        ConnectionRow,
        r#"INSERT INTO calendar_connections (customer_id, provider, status, secret, calcom_event_types)
           SELECT id, 'calcom', 'connected', $2, $3 FROM customers WHERE id = $1
           ON CONFLICT (customer_id) DO UPDATE
           SET provider = 'calcom', status = 'connected', secret = EXCLUDED.secret,
               write_calendar_id = NULL, busy_calendar_ids = '[]', calcom_event_types = EXCLUDED.calcom_event_types,
               last_error = NULL, last_error_at = NULL, reconnect_emailed_at = NULL, updated_at = now()
           RETURNING provider, status, secret, write_calendar_id, busy_calendar_ids, calcom_event_types,
                     last_error, last_error_at"#,
        user.id,
        sealed,
        serde_json::to_value(&event_types).map_err(anyhow::Error::from)?
    )
    .fetch_optional(&mut *tx)
    .await?
    // The business was deleted meanwhile.
    .ok_or(AppError::Unauthorized("invalid or expired token"))?;
    tx.commit().await?;
    tracing::info!(customer.id = user.id, services = event_types.len(), "Cal.com connected");

    let mut connection = CalendarConnection::from(Some(row));
    // Google is told only once Cal.com is stored: a failure above leaves Google connected.
    if let Some(old) = replaced.filter(|old| old.provider == "google") {
        connection.message = Some(if revoke_google(&state, user.id, &old.secret).await {
            "Cal.com is connected; the Google calendar was disconnected".into()
        } else {
            format!("Cal.com is connected; the Google calendar was disconnected, but {GOOGLE_NOT_TOLD}")
        });
    }
    Ok(AppJson(connection))
}

/// The API key, trimmed, or 422 on `api_key`.
fn api_key(value: Option<Value>) -> Result<SecretString> {
    let Some(Value::String(key)) = value else {
        return Err(AppError::invalid_field("api_key", "is required: an API key made in Cal.com"));
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(AppError::invalid_field("api_key", "is required: an API key made in Cal.com"));
    }
    if key.chars().count() > MAX_KEY_LEN || key.chars().any(char::is_control) {
        return Err(AppError::invalid_field("api_key", "is not a Cal.com API key"));
    }
    Ok(SecretString::from(key.to_owned()))
}

/// The mapping, checked against the business's `services`, in their order; 422 naming
/// `event_types` or `event_types.<name>`.
fn event_types(value: Option<Value>, services: &[String]) -> Result<Vec<CalComEventType>> {
    let Some(Value::Object(entries)) = value else {
        return Err(AppError::invalid_field(
            "event_types",
            "is required: an object mapping service names to Cal.com event type ids",
        ));
    };
    if services.is_empty() {
        return Err(AppError::invalid_field(
            "event_types",
            "the business has no services yet: add them to the booking settings first",
        ));
    }
    let mut ids: Vec<Option<i64>> = vec![None; services.len()];
    for (name, id) in entries {
        let field = format!("event_types.{name}");
        // Service names are unique ignoring case, so the owner's capitals need not match.
        let Some(index) = services.iter().position(|s| s.trim().eq_ignore_ascii_case(name.trim())) else {
            return Err(AppError::invalid_field(&field, "is not one of the business's services"));
        };
        let Some(id) = event_type_id(&id).map_err(|reason| AppError::invalid_field(&field, reason))? else {
            continue;
        };
        if ids[index].replace(id).is_some() {
            return Err(AppError::invalid_field(&field, "names a service already mapped"));
        }
    }
    let mapped: Vec<CalComEventType> = services
        .iter()
        .zip(ids)
        .filter_map(|(service, id)| Some(CalComEventType { service: service.clone(), event_type_id: id? }))
        .collect();
    if mapped.is_empty() {
        return Err(AppError::invalid_field("event_types", "must map at least one service to a Cal.com event type"));
    }
    Ok(mapped)
}

/// An event type id: a whole number above 0, as a number or as digits; `None` for `""` or
/// `null` (the service is not booked through Cal.com).
fn event_type_id(value: &Value) -> Result<Option<i64>, &'static str> {
    const REASON: &str = "must be a Cal.com event type id (a whole number above 0)";
    let id = match value {
        Value::Null => return Ok(None),
        Value::String(text) if text.trim().is_empty() => return Ok(None),
        Value::String(text) if text.trim().bytes().all(|b| b.is_ascii_digit()) => text.trim().parse::<i64>().ok(),
        Value::Number(number) => number.as_i64(),
        _ => None,
    };
    id.filter(|&id| id > 0).map(Some).ok_or(REASON)
}

/// A failed key check as the portal sees it.
fn calcom_failure(error: CalComError) -> AppError {
    match error {
        CalComError::BadKey => AppError::invalid_field(
            "api_key",
            "Cal.com refused this API key: check it in Cal.com (Settings > Developer > API keys)",
        ),
        CalComError::Transport(error) => {
            tracing::warn!(error = %format!("{error:#}"), "Cal.com key check failed");
            AppError::BadGateway("Cal.com could not be reached to check the API key; try again".into())
        }
        other => {
            tracing::warn!(error = %other, "Cal.com key check failed");
            AppError::BadGateway(format!("Cal.com could not check the API key: {other}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn services() -> Vec<String> {
        vec!["Haircut".into(), "Colour".into(), "Beard trim".into()]
    }

    fn ids(value: Value) -> Vec<(String, i64)> {
        event_types(Some(value), &services()).unwrap().into_iter().map(|m| (m.service, m.event_type_id)).collect()
    }

    fn refusal(value: Value) -> String {
        event_types(Some(value), &services()).unwrap_err().to_string()
    }

    #[test]
    fn ids_may_be_numbers_or_digits_and_come_back_in_service_order() {
        assert_eq!(
            ids(json!({"beard trim": " 7 ", "Haircut": 1234, "Colour": ""})),
            [("Haircut".to_owned(), 1234), ("Beard trim".to_owned(), 7)]
        );
    }

    #[test]
    fn bad_mappings_name_the_field() {
        assert_eq!(refusal(json!({"Nails": 1})), "event_types.Nails: is not one of the business's services");
        for bad in [json!("12a"), json!(0), json!(-3), json!(1.5), json!(true), json!("-1")] {
            assert!(refusal(json!({"Haircut": bad})).starts_with("event_types.Haircut: must be"), "{bad}");
        }
        assert!(refusal(json!({"Haircut": 1, "haircut": 2})).contains("already mapped"));
        assert!(refusal(json!({"Haircut": null})).starts_with("event_types: must map at least one"));
        assert!(event_types(Some(json!([1])), &services()).unwrap_err().to_string().starts_with("event_types: is"));
        assert!(event_types(Some(json!({"Haircut": 1})), &[]).unwrap_err().to_string().contains("no services"));
    }

    #[test]
    fn the_key_is_required_and_trimmed() {
        assert_eq!(api_key(Some(json!(" cal_live_1 "))).unwrap().expose_secret(), "cal_live_1");
        for bad in [None, Some(json!("  ")), Some(json!(12))] {
            assert!(api_key(bad).unwrap_err().to_string().starts_with("api_key: is required"));
        }
    }
}
