//! Rate limits on public and credential-checking endpoints, answered with 429 + `Retry-After`.
//!
//! Limits are kept in memory per instance (GCRA via `governor`). Behind a load balancer with N
//! instances an attacker gets at most N times the quota, which is still a hard bound.

use std::{
    collections::HashMap,
    hash::Hash,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    num::NonZeroU32,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::request::Parts,
};
use governor::{Quota, RateLimiter, clock::Clock as _, clock::DefaultClock};

use crate::error::ApiError;

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
    /// Login attempts from one client address, whatever the account.
    pub login_per_ip: Limiter<IpAddr>,
    /// Failed logins per (account, address) and per account (keyed by a hash of the e-mail, known
    /// or not, so the limit itself does not reveal which accounts exist).
    pub login_failures: LoginFailures,
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
            login_failures: LoginFailures::new(enabled),
            registration_per_ip: Limiter::new(30, Duration::from_secs(2)).enabled(enabled),
            manage_per_ip: Limiter::new(60, Duration::from_millis(500)).enabled(enabled),
            pairing_per_ip: Limiter::new(10, Duration::from_secs(6)).enabled(enabled),
            pairing_global: Limiter::new(200, Duration::from_millis(100)).enabled(enabled),
        }
    }

    pub fn shrink(&self) {
        self.login_per_ip.shrink();
        self.login_failures.shrink(Instant::now());
        self.registration_per_ip.shrink();
        self.manage_per_ip.shrink();
        self.pairing_per_ip.shrink();
    }
}

// ---------------------------------------------------------------------------------------------
// Failed logins

/// Failed logins one client address may make for one account: that many at once, then one more
/// every [`LOGIN_FAILURE_PERIOD`].
pub const LOGIN_FAILURES_PER_ADDRESS: u32 = 5;
pub const LOGIN_FAILURE_PERIOD: Duration = Duration::from_secs(60);
/// Failed logins one account takes from all addresses together: that many at once, then one more
/// every [`LOGIN_CEILING_PERIOD`] (200 an hour once used up, plus one uncharged guess an hour for
/// each address that has not failed before: about 200 + N an hour from N addresses). It bounds
/// guessing spread over many addresses; it never refuses an address that has not failed for the
/// account.
pub const LOGIN_ACCOUNT_CEILING: u32 = 200;
pub const LOGIN_CEILING_PERIOD: Duration = Duration::from_secs(18);
/// How long an address that failed for an account stays subject to the account's ceiling.
pub const LOGIN_FAILURE_MEMORY: Duration = Duration::from_secs(3600);

/// The network a client address stands for in the login limits: an IPv4 address itself, an IPv6
/// address its /64 (one host usually holds a whole /64, so counting its addresses one by one would
/// give it 2^64 fresh addresses).
pub fn login_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                v6.to_bits() & !((1u128 << 64) - 1),
            )),
        },
    }
}

/// A GCRA bucket: `burst` events at once, then one every `period`. Its state is the theoretical
/// arrival time (`None`: never used).
#[derive(Debug, Clone, Copy)]
struct Gcra {
    burst: u32,
    period: Duration,
}

impl Gcra {
    /// How long until one more event is allowed; `None` if it is allowed now.
    fn wait(self, tat: Option<Instant>, now: Instant) -> Option<Duration> {
        let ahead = tat?.checked_duration_since(now)?;
        let allowance = self.period.saturating_mul(self.burst.saturating_sub(1));
        ahead.checked_sub(allowance).filter(|wait| !wait.is_zero())
    }

    /// The state after one more event.
    fn add(self, tat: Option<Instant>, now: Instant) -> Instant {
        tat.map_or(now, |tat| tat.max(now)) + self.period
    }

    /// Whether the bucket is back to full (its state can be forgotten).
    fn full(tat: Option<Instant>, now: Instant) -> bool {
        tat.is_none_or(|tat| tat <= now)
    }
}

const PER_ADDRESS: Gcra = Gcra {
    burst: LOGIN_FAILURES_PER_ADDRESS,
    period: LOGIN_FAILURE_PERIOD,
};
const CEILING: Gcra = Gcra {
    burst: LOGIN_ACCOUNT_CEILING,
    period: LOGIN_CEILING_PERIOD,
};

#[derive(Debug, Default)]
struct AccountFailures {
    /// The account's ceiling, across all addresses.
    ceiling: Option<Instant>,
    addresses: HashMap<IpAddr, AddressFailures>,
}

#[derive(Debug)]
struct AddressFailures {
    tat: Instant,
    last: Instant,
}

/// What [`LoginFailures::begin`] counted, to give back on success.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct LoginAttempt {
    account: [u8; 32],
    ip: IpAddr,
    charged_ceiling: bool,
}

/// Failed logins, per (account, client address) and per account.
///
/// Counting failures per address *and account* means that failures from one address never stop
/// the right password from another: five wrong passwords from an attacker's address limit that
/// address, not the organiser. The per-account ceiling bounds guessing spread over many addresses,
/// and applies only to addresses that have themselves failed for the account within the last
/// [`LOGIN_FAILURE_MEMORY`], so it cannot be used to lock the organiser out either: beyond it, each
/// address gets one guess an hour.
///
/// An attempt is counted as a failure when it begins (so parallel attempts cannot all slip through
/// before the first fails) and given back when the password turns out right.
pub struct LoginFailures {
    accounts: Mutex<HashMap<[u8; 32], AccountFailures>>,
    enabled: bool,
}

impl LoginFailures {
    pub fn new(enabled: bool) -> Self {
        Self {
            accounts: Mutex::new(HashMap::new()),
            enabled,
        }
    }

    fn accounts(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], AccountFailures>> {
        self.accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Before checking a password for `account` from `ip`: refused (429) when this address has
    /// used up its failures for the account, or when the account's ceiling is reached and this
    /// address has failed for it recently; otherwise counted as a failure until [`Self::succeeded`].
    pub fn begin(
        &self,
        account: [u8; 32],
        ip: IpAddr,
        now: Instant,
    ) -> Result<LoginAttempt, ApiError> {
        let attempt = LoginAttempt {
            account,
            ip,
            charged_ceiling: false,
        };
        if !self.enabled {
            return Ok(attempt);
        }
        let mut accounts = self.accounts();
        let failures = accounts.entry(account).or_default();
        let address = failures.addresses.get(&ip);
        let refused = |wait: Duration| ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        };
        if let Some(wait) = PER_ADDRESS.wait(address.map(|a| a.tat), now) {
            return Err(refused(wait));
        }
        let failed_recently =
            address.is_some_and(|a| now.saturating_duration_since(a.last) < LOGIN_FAILURE_MEMORY);
        let over_ceiling = CEILING.wait(failures.ceiling, now);
        if failed_recently && let Some(wait) = over_ceiling {
            return Err(refused(wait));
        }
        // Beyond the ceiling an address that has not failed still gets its guess, uncharged: the
        // ceiling then stays where it is instead of moving further away.
        let charged_ceiling = over_ceiling.is_none();
        if charged_ceiling {
            failures.ceiling = Some(CEILING.add(failures.ceiling, now));
        }
        let tat = PER_ADDRESS.add(address.map(|a| a.tat), now);
        failures
            .addresses
            .insert(ip, AddressFailures { tat, last: now });
        Ok(LoginAttempt {
            charged_ceiling,
            ..attempt
        })
    }

    /// The password was right: the address's failures for the account are forgotten, and the
    /// attempt is given back to the ceiling.
    pub fn succeeded(&self, attempt: LoginAttempt) {
        if !self.enabled {
            return;
        }
        let mut accounts = self.accounts();
        let Some(failures) = accounts.get_mut(&attempt.account) else {
            return;
        };
        failures.addresses.remove(&attempt.ip);
        if attempt.charged_ceiling {
            failures.ceiling = failures
                .ceiling
                .and_then(|tat| tat.checked_sub(CEILING.period));
        }
    }

    /// Forget what no longer limits anyone (bounds memory).
    pub fn shrink(&self, now: Instant) {
        let mut accounts = self.accounts();
        accounts.retain(|_, failures| {
            failures.addresses.retain(|_, a| {
                !Gcra::full(Some(a.tat), now)
                    || now.saturating_duration_since(a.last) < LOGIN_FAILURE_MEMORY
            });
            !failures.addresses.is_empty() || !Gcra::full(failures.ceiling, now)
        });
        accounts.shrink_to_fit();
    }
}

/// The client's address for rate limiting: the peer address, or the last `X-Forwarded-For` hop
/// when the server is configured to trust its proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Whether the server sits behind a proxy whose `X-Forwarded-For` it believes (`--trust-forwarded-for`).
/// The application state hands it to [`ClientIp`] (`FromRef`), so this module needs nothing else of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustForwardedFor(pub bool);

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
    TrustForwardedFor: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if TrustForwardedFor::from_ref(state).0
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

    const ACCOUNT: [u8; 32] = [7; 32];

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    fn retry_after(result: Result<LoginAttempt, ApiError>) -> u64 {
        match result {
            Err(ApiError::TooManyRequests { retry_after_secs }) => retry_after_secs,
            other => panic!("expected 429, got {other:?}"),
        }
    }

    #[test]
    fn failures_limit_the_address_that_made_them_and_not_another() {
        let failures = LoginFailures::new(true);
        let now = Instant::now();
        for _ in 0..LOGIN_FAILURES_PER_ADDRESS {
            let _ = failures.begin(ACCOUNT, ip(1), now).unwrap();
        }
        assert_eq!(retry_after(failures.begin(ACCOUNT, ip(1), now)), 60);
        // Another address, or the same address for another account, is not limited.
        failures.succeeded(failures.begin(ACCOUNT, ip(2), now).unwrap());
        let _ = failures.begin([8; 32], ip(1), now).unwrap();
        // One more failure a minute later.
        let later = now + LOGIN_FAILURE_PERIOD;
        let _ = failures.begin(ACCOUNT, ip(1), later).unwrap();
        assert!(failures.begin(ACCOUNT, ip(1), later).is_err());
    }

    #[test]
    fn a_success_forgets_the_address_failures_and_gives_back_its_attempt() {
        let failures = LoginFailures::new(true);
        let now = Instant::now();
        for _ in 0..LOGIN_FAILURES_PER_ADDRESS - 1 {
            let _ = failures.begin(ACCOUNT, ip(1), now).unwrap();
        }
        failures.succeeded(failures.begin(ACCOUNT, ip(1), now).unwrap());
        for _ in 0..LOGIN_FAILURES_PER_ADDRESS {
            let _ = failures.begin(ACCOUNT, ip(1), now).unwrap();
        }
        assert!(failures.begin(ACCOUNT, ip(1), now).is_err());
    }

    #[test]
    fn the_account_ceiling_refuses_addresses_that_failed_but_not_new_ones() {
        let failures = LoginFailures::new(true);
        let now = Instant::now();
        let per = LOGIN_FAILURES_PER_ADDRESS - 1;
        let addresses = LOGIN_ACCOUNT_CEILING / per;
        for n in 0..addresses {
            for _ in 0..per {
                let _ = failures.begin(ACCOUNT, ip(n), now).unwrap();
            }
        }
        // The ceiling is reached: an address that failed is refused, though it has one left…
        assert_eq!(retry_after(failures.begin(ACCOUNT, ip(0), now)), 18);
        // …while a new address gets one guess, and a right password from it gets in.
        let _ = failures.begin(ACCOUNT, ip(addresses), now).unwrap();
        assert!(failures.begin(ACCOUNT, ip(addresses), now).is_err());
        failures.succeeded(failures.begin(ACCOUNT, ip(addresses + 1), now).unwrap());
        // Guessing from new addresses does not push the ceiling further away.
        let later = now + LOGIN_CEILING_PERIOD;
        let _ = failures.begin(ACCOUNT, ip(0), later).unwrap();
        assert!(failures.begin(ACCOUNT, ip(1), later).is_err());
        // An hour after its last failure an address is new again.
        let _ = failures
            .begin(ACCOUNT, ip(2), now + LOGIN_FAILURE_MEMORY)
            .unwrap();
    }

    #[test]
    fn an_ipv6_host_counts_as_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(login_network(a), login_network(b));
        assert_ne!(login_network(a), login_network(c));
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(login_network(v4), v4);
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(login_network(mapped), v4);
    }

    #[test]
    fn shrinking_forgets_only_what_no_longer_limits() {
        let failures = LoginFailures::new(true);
        let now = Instant::now();
        for _ in 0..LOGIN_FAILURES_PER_ADDRESS {
            let _ = failures.begin(ACCOUNT, ip(1), now).unwrap();
        }
        failures.shrink(now + LOGIN_FAILURE_PERIOD * 2);
        assert!(failures.begin(ACCOUNT, ip(1), now).is_err());
        failures.shrink(now + LOGIN_FAILURE_MEMORY);
        assert!(failures.accounts().is_empty());
    }

    #[test]
    fn a_disabled_limiter_lets_everything_through() {
        let limiter = Limiter::new(1, Duration::from_secs(60)).enabled(false);
        for _ in 0..10 {
            assert!(limiter.check(&"k").is_ok());
        }
    }
}
