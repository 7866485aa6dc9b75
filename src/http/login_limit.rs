//! Password guessing limits, per client address and per account, so neither one address
//! trying many accounts nor many addresses trying one account get far. Logins and password
//! changes (whose current password is a guess too, with a stolen token) count in the same
//! buckets. Answers 429 with `Retry-After`. Counters live in this process: behind several
//! instances each allows its own share, which still bounds guessing.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::AppState;
use super::error::AppError;
use crate::auth::Role;

/// Attempts per minute from one address (an office behind one IP has several staff).
const PER_ADDRESS_PER_MINUTE: u32 = 20;
/// Attempts per minute on one account.
const PER_ACCOUNT_PER_MINUTE: u32 = 5;
/// Forget idle counters once this many are held.
const MAX_TRACKED_KEYS: usize = 10_000;

/// The two limiters.
#[derive(Debug)]
pub struct LoginLimiter {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_account: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        let quota = |per_minute: u32| Quota::per_minute(NonZeroU32::new(per_minute).expect("non-zero quota"));
        Self {
            by_address: DefaultKeyedRateLimiter::keyed(quota(PER_ADDRESS_PER_MINUTE)),
            by_account: DefaultKeyedRateLimiter::keyed(quota(PER_ACCOUNT_PER_MINUTE)),
            clock: DefaultClock::default(),
        }
    }
}

/// The account bucket of `role`'s account with `email`: the same for a login and a password
/// change, so guesses at either count together.
pub fn account_key(role: Role, email: &str) -> String {
    let role = match role {
        Role::Admin => "admin",
        Role::Customer => "customer",
    };
    format!("{role}:{}", email.to_lowercase())
}

impl LoginLimiter {
    /// Counts one attempt on `account` (see [`account_key`]) from `address`.
    pub fn check(&self, address: Option<IpAddr>, account: &str) -> Result<(), AppError> {
        if self.by_address.len() > MAX_TRACKED_KEYS {
            self.by_address.retain_recent();
        }
        if self.by_account.len() > MAX_TRACKED_KEYS {
            self.by_account.retain_recent();
        }
        let too_many = |not_until: governor::NotUntil<_>| {
            let wait = not_until.wait_time_from(self.clock.now());
            AppError::TooManyRequests { retry_after_seconds: wait.as_secs().max(1) }
        };
        if let Some(address) = address {
            self.by_address.check_key(&address).map_err(too_many)?;
        }
        self.by_account.check_key(&account.to_lowercase()).map_err(too_many)?;
        Ok(())
    }
}

/// The client's address: the TCP peer, or behind one trusted proxy (`TRUST_FORWARDED_FOR`)
/// the last `X-Forwarded-For` entry, the one the proxy itself added.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.config.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
                .next_back();
            if forwarded.is_some() {
                return Ok(ClientAddress(forwarded));
            }
        }
        Ok(ClientAddress(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())))
    }
}
