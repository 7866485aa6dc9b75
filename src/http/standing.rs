//! Whether the account behind a valid token still stands: an admin that exists, a business
//! that is not cancelled, either at the token generation the token was issued in (a new
//! password starts a new generation; see migration 7).
//!
//! Read by primary key and kept for [`STANDING_TTL`]: the dashboards send several requests
//! per page, and the lookup doubled the database work of the cheapest ones (the stats
//! figures fell by about 40 % in bench/RESULTS.md). Changes made through this instance
//! forget the account at once; a change made elsewhere (another instance, Stripe's webhook)
//! is seen within [`STANDING_TTL`].

use std::time::Duration;

use sqlx::PgPool;

use crate::auth::Role;

/// How long a looked-up standing is trusted.
pub const STANDING_TTL: Duration = Duration::from_secs(2);
/// Most accounts remembered at once.
const CAPACITY: u64 = 100_000;

/// Where an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// It exists and may use tokens of this generation.
    Active { generation: i32 },
    /// Deleted, or a cancelled business: no token works.
    Closed,
}

/// Recently looked-up standings, by role and row id.
#[derive(Debug)]
pub struct Standings {
    recent: moka::sync::Cache<(Role, i64), Standing>,
}

impl Default for Standings {
    fn default() -> Self {
        Standings { recent: moka::sync::Cache::builder().max_capacity(CAPACITY).time_to_live(STANDING_TTL).build() }
    }
}

impl Standings {
    /// The account's standing, from the last [`STANDING_TTL`] or the database.
    pub async fn of(&self, db: &PgPool, role: Role, id: i64) -> sqlx::Result<Standing> {
        if let Some(standing) = self.recent.get(&(role, id)) {
            return Ok(standing);
        }
        let generation = match role {
            Role::Admin => {
                sqlx::query_scalar!("SELECT token_generation FROM admins WHERE id = $1", id).fetch_optional(db).await?
            }
            Role::Customer => {
                sqlx::query_scalar!(
                    "SELECT token_generation FROM customers \
                     WHERE id = $1 AND subscription_status NOT IN ('cancelled', 'canceled')",
                    id
                )
                .fetch_optional(db)
                .await?
            }
        };
        let standing = match generation {
            Some(generation) => Standing::Active { generation },
            None => Standing::Closed,
        };
        self.recent.insert((role, id), standing);
        Ok(standing)
    }

    /// Forgets an account whose password or status this instance just changed.
    pub fn forget(&self, role: Role, id: i64) {
        self.recent.invalidate(&(role, id));
    }
}
