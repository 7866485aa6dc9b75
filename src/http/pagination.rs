//! `page`/`per_page` pagination: validated once, answered in one envelope shape.

use serde::Serialize;
use serde::ser::SerializeMap;

use super::error::{AppError, Result};
use crate::db::Counted;

/// Items per page when the client does not say.
pub const DEFAULT_PER_PAGE: i64 = 50;
/// Largest page a client may ask for.
pub const MAX_PER_PAGE: i64 = 200;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based page number.
    pub page: i64,
    /// Items per page, 1 to [`MAX_PER_PAGE`].
    pub per_page: i64,
}

impl Page {
    /// Validates the raw query values: `page >= 1`, `1 <= per_page <= 200`.
    pub fn from_query(page: Option<i64>, per_page: Option<i64>) -> Result<Self> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
        if page < 1 {
            return Err(AppError::invalid_field("page", "must be 1 or more"));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(AppError::invalid_field("per_page", format!("must be between 1 and {MAX_PER_PAGE}")));
        }
        Ok(Page { page, per_page })
    }

    /// Rows to skip. Saturates, so an absurd page number yields an empty page, not an overflow.
    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// `{"<key>": items, "total", "page", "pages", "per_page"}`, serialized straight from
    /// the items (no intermediate JSON tree).
    pub fn envelope<T: Serialize>(&self, key: &'static str, items: T, total: i64) -> Envelope<T> {
        Envelope { key, items, total, page: *self }
    }
}

impl Page {
    /// This page's rows and the total, from `fetch(limit, offset)`: a query whose rows
    /// each carry the total ([`Counted`]).
    pub async fn rows_and_total<T, F, Fut>(&self, fetch: F) -> sqlx::Result<(Vec<T>, i64)>
    where
        F: Fn(i64, i64) -> Fut,
        Fut: Future<Output = sqlx::Result<Vec<Counted<T>>>>,
    {
        let rows = fetch(self.per_page, self.offset()).await?;
        let total = match rows.first() {
            Some(row) => row.total,
            // Past the last page no row carries the total; the query's first row does.
            None if self.page > 1 => fetch(1, 0).await?.first().map_or(0, |row| row.total),
            None => 0,
        };
        Ok((rows.into_iter().map(|counted| counted.row).collect(), total))
    }
}

/// A page of items with its position; see [`Page::envelope`].
#[derive(Debug)]
pub struct Envelope<T> {
    key: &'static str,
    items: T,
    total: i64,
    page: Page,
}

impl<T: Serialize> Serialize for Envelope<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry(self.key, &self.items)?;
        map.serialize_entry("total", &self.total)?;
        map.serialize_entry("page", &self.page.page)?;
        map.serialize_entry("pages", &((self.total + self.page.per_page - 1) / self.page.per_page))?;
        map.serialize_entry("per_page", &self.page.per_page)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(Page::from_query(None, None).unwrap(), Page { page: 1, per_page: 50 });
        assert!(Page::from_query(Some(0), None).is_err());
        assert!(Page::from_query(Some(-1), None).is_err());
        assert!(Page::from_query(None, Some(0)).is_err());
        assert!(Page::from_query(None, Some(201)).is_err());
        assert!(Page::from_query(None, Some(200)).is_ok());
    }

    #[test]
    fn pages_round_up_and_offsets_saturate() {
        let page = Page { page: 2, per_page: 50 };
        let json = |total| serde_json::to_value(page.envelope("xs", Vec::<i32>::new(), total)).unwrap();
        assert_eq!(json(101)["pages"], 3);
        assert_eq!(json(0)["pages"], 0);
        assert_eq!(json(0), serde_json::json!({"xs": [], "total": 0, "page": 2, "pages": 0, "per_page": 50}));
        assert_eq!(page.offset(), 50);
        assert_eq!(Page { page: i64::MAX, per_page: 200 }.offset(), i64::MAX);
    }
}
