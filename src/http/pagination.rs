//! `page`/`per_page` pagination: validated once, answered in one envelope shape.

use serde::Serialize;

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
        if page < 1 {
            return Err(AppError::invalid_field("page", "must be 1 or more"));
        }
        let per_page = super::validate::count("per_page", per_page, DEFAULT_PER_PAGE, MAX_PER_PAGE)?;
        Ok(Page { page, per_page })
    }

    /// Rows to skip. Saturates, so an absurd page number yields an empty page, not an overflow.
    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// Where this page stands among `total` items.
    pub fn info(&self, total: i64) -> PageInfo {
        PageInfo { total, page: self.page, pages: (total + self.per_page - 1) / self.per_page, per_page: self.per_page }
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

/// A page's position, flattened into each list's answer after its items:
/// `{"<items>": [...], "total", "page", "pages", "per_page"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PageInfo {
    /// Items in all pages.
    pub total: i64,
    /// This page, from 1.
    pub page: i64,
    /// How many pages there are.
    pub pages: i64,
    /// Items per page.
    pub per_page: i64,
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
        assert_eq!(page.info(101).pages, 3);
        assert_eq!(page.info(100).pages, 2);
        assert_eq!(page.info(0), PageInfo { total: 0, page: 2, pages: 0, per_page: 50 });
        assert_eq!(page.offset(), 50);
        assert_eq!(Page { page: i64::MAX, per_page: 200 }.offset(), i64::MAX);
    }
}
