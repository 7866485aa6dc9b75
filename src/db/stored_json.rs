//! JSON documents the server writes to a `json` column and reads back whole.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::types::Json;
use sqlx::{Decode, Encode, Postgres, Type};

/// A `json` column holding a `T`, kept as text.
///
/// Responses pass the text through unchanged instead of building a `T` and writing it out
/// again (for the customers list that round trip was more than half of the server's time),
/// and code that needs the values calls [`StoredJson::parse`]. The server validated the
/// value as a `T` before writing it. Written as `json`, not `jsonb`, so the text (and the
/// order of its keys: Monday first) comes back exactly as written.
#[derive(Debug, Clone)]
pub struct StoredJson<T> {
    raw: Box<RawValue>,
    of: PhantomData<fn() -> T>,
}

impl<T: Serialize> StoredJson<T> {
    /// `value`'s JSON, ready to bind.
    pub fn new(value: &T) -> Self {
        let text = serde_json::to_string(value).expect("settings always serialize");
        StoredJson { raw: RawValue::from_string(text).expect("serde_json writes valid JSON"), of: PhantomData }
    }
}

impl<T: DeserializeOwned> StoredJson<T> {
    /// The value as a `T`, or `None` (with a warning) if the stored document is not one,
    /// as data written before a rule tightened might be: the business keeps working
    /// without that setting instead of failing every request that reads it.
    pub fn parse(&self) -> Option<T> {
        match serde_json::from_str(self.raw.get()) {
            Ok(value) => Some(value),
            Err(error) => {
                tracing::warn!(%error, ty = std::any::type_name::<T>(), "stored JSON does not match its type");
                None
            }
        }
    }
}

impl<T> Serialize for StoredJson<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

/// PostgreSQL's `json` type.
const JSON_OID: Oid = Oid(114);

impl<T> Type<Postgres> for StoredJson<T> {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(JSON_OID)
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <Json<Box<RawValue>> as Type<Postgres>>::compatible(ty)
    }
}

impl<T> Encode<'_, Postgres> for StoredJson<T> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // The binary form of `json` is its text.
        buf.extend_from_slice(self.raw.get().as_bytes());
        Ok(IsNull::No)
    }
}

impl<'r, T> Decode<'r, Postgres> for StoredJson<T> {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let Json(raw) = <Json<Box<RawValue>> as Decode<'r, Postgres>>::decode(value)?;
        Ok(StoredJson { raw, of: PhantomData })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored<T>(text: &str) -> StoredJson<T> {
        StoredJson { raw: RawValue::from_string(text.to_owned()).unwrap(), of: PhantomData }
    }

    #[test]
    fn serializes_the_stored_text_unchanged() {
        let hours = stored::<serde_json::Value>(
            r#"{"monday": {"open": "09:00", "close": "17:00"}, "sunday": {"closed": true}}"#,
        );
        assert_eq!(
            serde_json::to_string(&hours).unwrap(),
            r#"{"monday": {"open": "09:00", "close": "17:00"}, "sunday": {"closed": true}}"#
        );
    }

    #[test]
    fn new_writes_the_value_compactly_in_field_order() {
        #[derive(Serialize)]
        struct Day {
            open: &'static str,
            close: &'static str,
        }
        let day = StoredJson::new(&Day { open: "09:00", close: "17:00" });
        assert_eq!(serde_json::to_string(&day).unwrap(), r#"{"open":"09:00","close":"17:00"}"#);
    }

    #[test]
    fn parses_to_its_type_or_to_none() {
        assert_eq!(stored::<Vec<u8>>("[1, 2]").parse(), Some(vec![1, 2]));
        assert_eq!(stored::<Vec<u8>>(r#"{"not": "a list"}"#).parse(), None);
    }
}
