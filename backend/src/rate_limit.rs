//! Rate limits on public and credential-checking endpoints, answered with 429 + `Retry-After`.
//!
//! Limits are kept in memory per instance (GCRA via `governor`). Behind a load balancer with N
//! instances an attacker gets at most N times the quota, which is still a hard bound.

use std::{
    hash::Hash,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    num::NonZeroU32,
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
};
use governor::{Quota, RateLimiter, clock::Clock as _, clock::DefaultClock};

use crate::{error::ApiError, state::AppState};

pub struct Limiter<K: Hash + Eq + Clone> {
    inner: governor::DefaultKeyedRateLimiter<K>,
    enabled: bool,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// `burst` requests at once, then one more every `per`.
    pub fn new(burst: u32, per: Duration) -> Self {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(per)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            inner: RateLimiter::keyed(quota),
            enabled: true,
        }
    }

    fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    pub fn check(&self, key: &K) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        self.inner.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::TooManyRequests {
                retry_after_secs: wait.as_secs().max(1),
            }
        })
    }

    /// Forget keys whose quota is fully replenished (bounds memory).
    pub fn shrink(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }
}

/// Every limit of the server, one field per protected action.
pub struct RateLimits {
    /// Login attempts from one client address.
    pub login_per_ip: Limiter<IpAddr>,
    /// Login attempts for one account (keyed by a hash of the e-mail, known or not, so the limit
    /// itself does not reveal which accounts exist).
    pub login_per_account: Limiter<[u8; 32]>,
    /// Registrations from one client address (a company NAT registers colleagues: generous).
    pub registration_per_ip: Limiter<IpAddr>,
    /// Manage-link requests from one client address.
    pub manage_per_ip: Limiter<IpAddr>,
    /// Pairing attempts from one client address.
    pub pairing_per_ip: Limiter<IpAddr>,
    /// Pairing attempts from everywhere together: bounds guessing of the 40-bit codes even from
    /// many addresses.
    pub pairing_global: Limiter<()>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(true)
    }
}

impl RateLimits {
    /// The server's limits; `enabled: false` only for load tests on loopback
    /// (`--disable-rate-limits`).
    pub fn new(enabled: bool) -> Self {
        Self {
            login_per_ip: Limiter::new(20, Duration::from_secs(3)).enabled(enabled),
            login_per_account: Limiter::new(5, Duration::from_secs(60)).enabled(enabled),
            registration_per_ip: Limiter::new(30, Duration::from_secs(2)).enabled(enabled),
            manage_per_ip: Limiter::new(60, Duration::from_millis(500)).enabled(enabled),
            pairing_per_ip: Limiter::new(10, Duration::from_secs(6)).enabled(enabled),
            pairing_global: Limiter::new(200, Duration::from_millis(100)).enabled(enabled),
        }
    }

    pub fn shrink(&self) {
        self.login_per_ip.shrink();
        self.login_per_account.shrink();
        self.registration_per_ip.shrink();
        self.manage_per_ip.shrink();
        self.pairing_per_ip.shrink();
    }
}

/// The client's address for rate limiting: the peer address, or the last `X-Forwarded-For` hop
/// when the server is configured to trust its proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.config.trust_forwarded_for
            && let Some(ip) = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
                .next_back()
        {
            return Ok(Self(ip));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(Self(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_retry_time() {
        let limiter = Limiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(limiter.check(&"k").is_ok());
        }
        match limiter.check(&"k") {
            Err(ApiError::TooManyRequests { retry_after_secs }) => {
                assert!((1..=60).contains(&retry_after_secs));
            }
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(limiter.check(&"other").is_ok(), "keys are independent");
    }

    #[test]
    fn a_disabled_limiter_lets_everything_through() {
        let limiter = Limiter::new(1, Duration::from_secs(60)).enabled(false);
        for _ in 0..10 {
            assert!(limiter.check(&"k").is_ok());
        }
    }
}
