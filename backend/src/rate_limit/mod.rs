//! Rate limits on public and credential-checking endpoints, answered with 429 + `Retry-After`.
//!
//! Limits are kept in memory per instance (GCRA). Behind a load balancer with N instances an
//! attacker gets at most N times the quota, which is still a hard bound.
//!
//! Every limit that counts clients counts *networks* ([`client_network`]): an IPv4 address, or an
//! IPv6 /64. Two kinds of limit:
//!
//! - **Ordinary use** (registering, using one's own manage link): a plain bucket ([`Limiter`]).
//!   Registration is counted per network, or per (event, network) with a venue-sized quota from
//!   the event's own venue networks during its on-site hours ([`venue`]); a manage link is counted
//!   per link, so a crowd behind one address translator never shares one bucket.
//! - **Guessing a secret** (a password, a manage token, a pairing code): failures are counted per
//!   (target, network) and per target from all networks together ([`Guesses`]). An attempt is
//!   counted when it begins, before anything about the secret is looked up, and given back only
//!   when it turns out right.
//!
//! Every number is configurable ([`LimitSettings`], `consentry serve --limit-…`); docs/SECURITY.md
//! gives the defaults and the reasoning.

pub mod venue;

use std::{
    collections::HashMap,
    fmt,
    hash::Hash,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    num::NonZeroU32,
    str::FromStr,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::request::Parts,
};
use governor::{Quota, RateLimiter, clock::Clock as _, clock::DefaultClock};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use uuid::Uuid;

use crate::error::ApiError;

// ---------------------------------------------------------------------------------------------
// Rates

/// A limit's numbers: `burst` at once, then one more every `period`. Written `BURST/PERIOD`, the
/// period in `ms`, `s`, `m` or `h`: `30/2s` is 30 at once, then one more every 2 seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub period: Duration,
}

impl Rate {
    pub const fn new(burst: u32, period: Duration) -> Self {
        Self { burst, period }
    }

    fn gcra(self) -> Gcra {
        Gcra {
            burst: self.burst,
            period: self.period,
        }
    }
}

/// The largest burst a limit may name: beyond it a limit limits nothing.
pub const MAX_BURST: u32 = 1_000_000;
/// The longest period a limit may name.
pub const MAX_PERIOD: Duration = Duration::from_secs(24 * 3600);

impl FromStr for Rate {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, String> {
        let expected = || {
            format!(
                "`{input}`: expected BURST/PERIOD, such as 30/2s or 60/500ms (BURST at once, \
                 then one more every PERIOD; PERIOD in ms, s, m or h)"
            )
        };
        let (burst, period) = input.trim().split_once('/').ok_or_else(expected)?;
        let burst: u32 = burst.trim().parse().map_err(|_| expected())?;
        if !(1..=MAX_BURST).contains(&burst) {
            return Err(format!("`{input}`: the burst must be 1 to {MAX_BURST}"));
        }
        let period = period.trim();
        let digits = period
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(period.len());
        let (amount, unit) = period.split_at(digits);
        let amount: u64 = amount.parse().map_err(|_| expected())?;
        let millis_per_unit = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(expected()),
        };
        let period = Duration::from_millis(amount.saturating_mul(millis_per_unit));
        if period.is_zero() || period > MAX_PERIOD {
            return Err(format!("`{input}`: the period must be 1ms to 24h"));
        }
        Ok(Self { burst, period })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.period.as_millis();
        let (amount, unit) = [(3_600_000, "h"), (60_000, "m"), (1000, "s")]
            .into_iter()
            .find(|(per_unit, _)| millis.is_multiple_of(*per_unit))
            .map_or((millis, "ms"), |(per_unit, unit)| (millis / per_unit, unit));
        write!(f, "{}/{amount}{unit}", self.burst)
    }
}

// ---------------------------------------------------------------------------------------------
// Settings

/// Failed logins one network may make for one account: that many at once, then one more every
/// [`LOGIN_FAILURE_PERIOD`].
pub const LOGIN_FAILURES_PER_ADDRESS: u32 = 5;
pub const LOGIN_FAILURE_PERIOD: Duration = Duration::from_secs(60);
/// Failed logins one account takes from all networks together: that many at once, then one more
/// every [`LOGIN_CEILING_PERIOD`] (200 an hour once used up, plus one uncharged guess an hour for
/// each network that has not failed before: about 200 + N an hour from N networks). It bounds
/// guessing spread over many networks; it never refuses a network that has not failed for the
/// account.
pub const LOGIN_ACCOUNT_CEILING: u32 = 200;
pub const LOGIN_CEILING_PERIOD: Duration = Duration::from_secs(18);
/// How long a network that failed for a target stays subject to the target's ceiling.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(3600);

/// Every limit's numbers. The defaults are what `consentry serve` uses without `--limit-…` flags;
/// docs/SECURITY.md explains each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// `false` only for load tests on loopback (`--disable-rate-limits`).
    pub enabled: bool,
    /// Failed login attempts from one network, whatever the account (password spraying, and the
    /// password-hashing work each attempt costs).
    pub login: Rate,
    /// Failed logins per (account, network).
    pub login_failures: Rate,
    /// Failed logins per account, from all networks (refuses only networks that failed for it).
    pub login_failures_per_account: Rate,
    /// Registrations from one network.
    pub registration: Rate,
    /// Registrations for one event from one of its venue networks during its on-site hours, per
    /// (event, network).
    pub registration_at_venue: Rate,
    /// Requests with one valid manage link (or e-mail change link), per link.
    pub manage_link: Rate,
    /// Manage-link and e-mail-change look-ups that open nothing, per network.
    pub manage_failures: Rate,
    /// The same from all networks together (refuses only networks that failed).
    pub manage_failures_total: Rate,
    /// Booth links asked for by e-mail from one network (each may send a mail).
    pub booth_mail: Rate,
    /// Booth links asked for one address, from all networks (bounds mail sent to one inbox).
    pub booth_mail_per_address: Rate,
    /// Wrong pairing codes per network.
    pub pairing_failures: Rate,
    /// Wrong pairing codes from all networks together (refuses only networks that failed).
    pub pairing_failures_total: Rate,
}

impl LimitSettings {
    pub const DEFAULT: Self = Self {
        enabled: true,
        login: Rate::new(20, Duration::from_secs(3)),
        login_failures: Rate::new(LOGIN_FAILURES_PER_ADDRESS, LOGIN_FAILURE_PERIOD),
        login_failures_per_account: Rate::new(LOGIN_ACCOUNT_CEILING, LOGIN_CEILING_PERIOD),
        registration: Rate::new(30, Duration::from_secs(2)),
        registration_at_venue: Rate::new(300, Duration::from_millis(200)),
        manage_link: Rate::new(60, Duration::from_millis(500)),
        manage_failures: Rate::new(20, Duration::from_secs(3)),
        manage_failures_total: Rate::new(1000, Duration::from_millis(100)),
        booth_mail: Rate::new(60, Duration::from_secs(2)),
        booth_mail_per_address: Rate::new(3, Duration::from_secs(600)),
        pairing_failures: Rate::new(10, Duration::from_secs(6)),
        pairing_failures_total: Rate::new(200, Duration::from_millis(100)),
    };
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

// ---------------------------------------------------------------------------------------------
// Networks

/// The network a client address stands for in every limit: an IPv4 address itself (an
/// IPv4-mapped IPv6 address as that IPv4 address), an IPv6 address its /64 (one host or one home
/// usually holds a whole /64, so counting its addresses one by one would give it 2^64 fresh
/// buckets).
pub fn client_network(ip: IpAddr) -> IpAddr {
    match plain_address(ip) {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !((1u128 << 64) - 1))),
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack socket reports for an IPv4
/// client) as the IPv4 address it is; any other address as it is.
pub fn plain_address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

// ---------------------------------------------------------------------------------------------
// Ordinary use

pub struct Limiter<K: Hash + Eq + Clone> {
    inner: governor::DefaultKeyedRateLimiter<K>,
    enabled: bool,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// `rate.burst` requests at once, then one more every `rate.period`.
    pub fn new(rate: Rate) -> Self {
        let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(rate.period)
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

/// What a manage link (or an e-mail change link) is counted by: a keyed hash of its token, under a
/// key that lives only in this process. The token itself is not kept, and the key is not the
/// stored lookup hash, so the limiter's memory does not point at a database row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkKey([u8; 32]);

/// Every limit of the server, one field per protected action.
pub struct RateLimits {
    /// Failed logins from one network, whatever the account.
    pub login: Guesses<()>,
    /// Failed logins per (account, network) and per account (keyed by a hash of the e-mail, known
    /// or not, so the limit itself does not reveal which accounts exist).
    pub login_failures: Guesses<[u8; 32]>,
    /// Registrations from one network.
    pub registration: Limiter<IpAddr>,
    /// Registrations for one event from one of its venue networks while it is on site.
    pub registration_at_venue: Limiter<(Uuid, IpAddr)>,
    /// Requests with one valid manage or e-mail change link.
    pub manage_link: Limiter<LinkKey>,
    /// Look-ups of manage and e-mail change links that open nothing, per network and in all.
    pub manage_failures: Guesses<()>,
    /// Booth links asked for by e-mail, per network.
    pub booth_mail: Limiter<IpAddr>,
    /// Booth links asked for one address (by a keyed hash of event and address, known or not,
    /// so the limit itself does not tell registered addresses apart).
    pub booth_mail_per_address: Limiter<LinkKey>,
    /// Wrong pairing codes, per network and in all: bounds guessing of the 40-bit codes even from
    /// many networks.
    pub pairing_failures: Guesses<()>,
    link_key: [u8; 32],
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(LimitSettings::DEFAULT)
    }
}

impl RateLimits {
    pub fn new(settings: LimitSettings) -> Self {
        let on = settings.enabled;
        let mut link_key = [0; 32];
        rand::rng().fill_bytes(&mut link_key);
        Self {
            login: Guesses::new(settings.login, None, on),
            login_failures: Guesses::new(
                settings.login_failures,
                Some(settings.login_failures_per_account),
                on,
            ),
            registration: Limiter::new(settings.registration).enabled(on),
            registration_at_venue: Limiter::new(settings.registration_at_venue).enabled(on),
            manage_link: Limiter::new(settings.manage_link).enabled(on),
            manage_failures: Guesses::new(
                settings.manage_failures,
                Some(settings.manage_failures_total),
                on,
            ),
            booth_mail: Limiter::new(settings.booth_mail).enabled(on),
            booth_mail_per_address: Limiter::new(settings.booth_mail_per_address).enabled(on),
            pairing_failures: Guesses::new(
                settings.pairing_failures,
                Some(settings.pairing_failures_total),
                on,
            ),
            link_key,
        }
    }

    /// The key a valid link's requests are counted by.
    pub fn link_key(&self, token: &str) -> LinkKey {
        // HMAC takes a key of any length: the error case cannot happen.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.link_key) else {
            return LinkKey([0; 32]);
        };
        mac.update(token.as_bytes());
        LinkKey(mac.finalize().into_bytes().into())
    }

    /// A registration for `event` from `client`: counted per (event, network) with the venue
    /// quota when the event's venue networks hold the client now ([`venue::trusted`]), per
    /// network otherwise.
    pub fn check_registration(
        &self,
        event: Uuid,
        client: IpAddr,
        at_venue: bool,
    ) -> Result<(), ApiError> {
        let network = client_network(client);
        if at_venue {
            self.registration_at_venue.check(&(event, network))
        } else {
            self.registration.check(&network)
        }
    }

    pub fn shrink(&self) {
        let now = Instant::now();
        self.login.shrink(now);
        self.login_failures.shrink(now);
        self.registration.shrink();
        self.registration_at_venue.shrink();
        self.manage_link.shrink();
        self.manage_failures.shrink(now);
        self.booth_mail.shrink();
        self.booth_mail_per_address.shrink();
        self.pairing_failures.shrink(now);
    }
}

// ---------------------------------------------------------------------------------------------
// Guessing a secret

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

    /// The state with one event given back.
    fn remove(self, tat: Option<Instant>) -> Option<Instant> {
        tat.and_then(|tat| tat.checked_sub(self.period))
    }

    /// Whether the bucket is back to full (its state can be forgotten).
    fn full(tat: Option<Instant>, now: Instant) -> bool {
        tat.is_none_or(|tat| tat <= now)
    }
}

#[derive(Debug)]
struct TargetGuesses {
    /// The target's ceiling, across all networks.
    ceiling: Option<Instant>,
    networks: HashMap<IpAddr, NetworkGuesses>,
}

#[derive(Debug)]
struct NetworkGuesses {
    tat: Instant,
    /// When this network last failed for the target (an attempt counts as failed until given
    /// back); `None` once every attempt was given back.
    last_failure: Option<Instant>,
}

/// What [`Guesses::begin`] counted, to give back when the guess was right.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Guess<T> {
    target: T,
    network: IpAddr,
    at: Instant,
    /// The network's last failure before this attempt, restored when it is given back.
    previous_failure: Option<Instant>,
    charged_ceiling: bool,
}

/// Failed guesses at a secret, per (target, network) and per target from all networks together.
/// The target is what the secret opens: an account for a password, `()` for manage links or
/// pairing codes (any of which a guess may hit).
///
/// Counting failures per network *and target* means that failures from one network never stop
/// the right secret from another: five wrong passwords from an attacker's network limit that
/// network, not the organiser. The per-target ceiling bounds guessing spread over many networks,
/// and applies only to networks that have themselves failed for the target within the last
/// [`FAILURE_MEMORY`], so it cannot be used to lock everyone else out: beyond it, each network that
/// has not failed gets one guess, and then waits for the ceiling like the others.
///
/// An attempt is counted as a failure when it begins, before the secret is looked up (so a guess
/// learns nothing before it is counted, and parallel attempts cannot all slip through before the
/// first fails), and given back when the secret turns out right.
pub struct Guesses<T: Hash + Eq + Copy> {
    per_network: Gcra,
    ceiling: Option<Gcra>,
    targets: Mutex<HashMap<T, TargetGuesses>>,
    enabled: bool,
}

impl<T: Hash + Eq + Copy> Guesses<T> {
    /// `per_network` failures per (target, network); `ceiling`, if any, per target.
    pub fn new(per_network: Rate, ceiling: Option<Rate>, enabled: bool) -> Self {
        Self {
            per_network: per_network.gcra(),
            ceiling: ceiling.map(Rate::gcra),
            targets: Mutex::new(HashMap::new()),
            enabled,
        }
    }

    fn targets(&self) -> std::sync::MutexGuard<'_, HashMap<T, TargetGuesses>> {
        self.targets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Before checking a secret for `target` from `network` ([`client_network`]): refused (429)
    /// when this network has used up its failures for the target, or when the target's ceiling is
    /// reached and this network has failed for it recently; otherwise counted as a failure until
    /// given back.
    pub fn begin(&self, target: T, network: IpAddr, now: Instant) -> Result<Guess<T>, ApiError> {
        let mut guess = Guess {
            target,
            network,
            at: now,
            previous_failure: None,
            charged_ceiling: false,
        };
        if !self.enabled {
            return Ok(guess);
        }
        let mut targets = self.targets();
        let guesses = targets.entry(target).or_insert_with(|| TargetGuesses {
            ceiling: None,
            networks: HashMap::new(),
        });
        let known = guesses.networks.get(&network);
        let refused = |wait: Duration| ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        };
        if let Some(wait) = self.per_network.wait(known.map(|n| n.tat), now) {
            return Err(refused(wait));
        }
        guess.previous_failure = known.and_then(|n| n.last_failure);
        if let Some(ceiling) = self.ceiling {
            let failed_recently = guess
                .previous_failure
                .is_some_and(|last| now.saturating_duration_since(last) < FAILURE_MEMORY);
            let over_ceiling = ceiling.wait(guesses.ceiling, now);
            if failed_recently && let Some(wait) = over_ceiling {
                return Err(refused(wait));
            }
            // Beyond the ceiling a network that has not failed still gets its guess, uncharged:
            // the ceiling then stays where it is instead of moving further away.
            guess.charged_ceiling = over_ceiling.is_none();
            if guess.charged_ceiling {
                guesses.ceiling = Some(ceiling.add(guesses.ceiling, now));
            }
        }
        let tat = self.per_network.add(known.map(|n| n.tat), now);
        guesses.networks.insert(
            network,
            NetworkGuesses {
                tat,
                last_failure: Some(now),
            },
        );
        Ok(guess)
    }

    /// The secret was right, and it was the target's own (a password): the network's failures
    /// for the target are forgotten, and the attempt is given back to the ceiling.
    pub fn succeeded(&self, guess: Guess<T>) {
        if !self.enabled {
            return;
        }
        let mut targets = self.targets();
        let Some(guesses) = targets.get_mut(&guess.target) else {
            return;
        };
        guesses.networks.remove(&guess.network);
        if guess.charged_ceiling {
            guesses.ceiling = self.ceiling.and_then(|c| c.remove(guesses.ceiling));
        }
    }

    /// The attempt was not a failure (a valid link, a right pairing code, or an error that says
    /// nothing about the secret): it is given back, and only it. Earlier failures of the network
    /// stay counted, so holding one valid secret does not buy fresh guesses.
    pub fn give_back(&self, guess: Guess<T>) {
        if !self.enabled {
            return;
        }
        let mut targets = self.targets();
        let Some(guesses) = targets.get_mut(&guess.target) else {
            return;
        };
        if let Some(network) = guesses.networks.get_mut(&guess.network) {
            if let Some(tat) = self.per_network.remove(Some(network.tat)) {
                network.tat = tat;
            }
            // Unless a later attempt from the network has marked it since.
            if network.last_failure == Some(guess.at) {
                network.last_failure = guess.previous_failure;
            }
        }
        if guess.charged_ceiling {
            guesses.ceiling = self.ceiling.and_then(|c| c.remove(guesses.ceiling));
        }
    }

    /// Forget what no longer limits anyone (bounds memory).
    pub fn shrink(&self, now: Instant) {
        // Without a ceiling, when a network failed last matters to nobody.
        let remembered = self.ceiling.is_some();
        let mut targets = self.targets();
        targets.retain(|_, guesses| {
            guesses.networks.retain(|_, n| {
                !Gcra::full(Some(n.tat), now)
                    || remembered
                        && n.last_failure.is_some_and(|last| {
                            now.saturating_duration_since(last) < FAILURE_MEMORY
                        })
            });
            !guesses.networks.is_empty() || !Gcra::full(guesses.ceiling, now)
        });
        targets.shrink_to_fit();
    }
}

// ---------------------------------------------------------------------------------------------
// The client

/// The client's address for rate limiting: the peer address, or the last `X-Forwarded-For` hop
/// when the server is configured to trust its proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The network the limits count this client as ([`client_network`]).
    pub fn network(self) -> IpAddr {
        client_network(self.0)
    }
}

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
    fn rates_are_written_burst_slash_period() {
        for (text, burst, millis) in [
            ("30/2s", 30, 2000),
            ("60/500ms", 60, 500),
            ("5/1m", 5, 60_000),
            ("200/18s", 200, 18_000),
            ("1/24h", 1, 86_400_000),
            (" 10 / 6s ", 10, 6000),
        ] {
            let rate: Rate = text.parse().unwrap();
            assert_eq!(
                rate,
                Rate::new(burst, Duration::from_millis(millis)),
                "{text}"
            );
        }
        for bad in [
            "",
            "30",
            "30/",
            "/2s",
            "30/2",
            "30/2d",
            "0/2s",
            "-1/2s",
            "30/0s",
            "30/25h",
            "x/2s",
            "30/s",
            "30/2.5s",
            "1000001/1s",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_rate_is_shown_as_it_is_written() {
        for text in [
            "30/2s",
            "60/500ms",
            "5/1m",
            "1/24h",
            "300/200ms",
            "7/1500ms",
        ] {
            assert_eq!(text.parse::<Rate>().unwrap().to_string(), text);
        }
        assert_eq!(LimitSettings::DEFAULT.registration.to_string(), "30/2s");
    }

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_retry_time() {
        let limiter = Limiter::new(Rate::new(3, Duration::from_secs(60)));
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
    fn an_ipv6_host_counts_as_its_64_and_a_mapped_address_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_network(a), client_network(b));
        assert_eq!(
            client_network(a),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_ne!(client_network(a), client_network(c));
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(client_network(v4), v4);
        assert_ne!(
            client_network(v4),
            client_network("203.0.113.8".parse().unwrap())
        );
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(client_network(mapped), v4);
        assert_eq!(plain_address(mapped), v4);
    }

    #[test]
    fn a_link_is_counted_by_a_keyed_hash_of_its_token() {
        let limits = RateLimits::default();
        let token = "A".repeat(43);
        assert_eq!(limits.link_key(&token), limits.link_key(&token));
        assert_ne!(limits.link_key(&token), limits.link_key(&"B".repeat(43)));
        // The key is this process's own: not the stored SHA-256, and not another instance's.
        assert_ne!(
            limits.link_key(&token),
            RateLimits::default().link_key(&token)
        );
        assert_ne!(
            crate::crypto::hex(&limits.link_key(&token).0),
            crate::crypto::token_hash(&token)
        );
    }

    #[test]
    fn registrations_from_a_venue_use_the_venue_quota_for_that_event_only() {
        let limits = RateLimits::new(LimitSettings {
            registration: Rate::new(2, Duration::from_secs(60)),
            registration_at_venue: Rate::new(5, Duration::from_secs(60)),
            ..LimitSettings::DEFAULT
        });
        let (event, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let nat = ip(1);
        for _ in 0..5 {
            limits.check_registration(event, nat, true).unwrap();
        }
        assert!(limits.check_registration(event, nat, true).is_err());
        // The venue's bucket is the event's own: elsewhere the network's ordinary bucket applies.
        limits.check_registration(other, nat, true).unwrap();
        for _ in 0..2 {
            limits.check_registration(event, nat, false).unwrap();
        }
        assert!(limits.check_registration(other, nat, false).is_err());
    }

    const ACCOUNT: [u8; 32] = [7; 32];

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    fn login_failures() -> Guesses<[u8; 32]> {
        let settings = LimitSettings::DEFAULT;
        Guesses::new(
            settings.login_failures,
            Some(settings.login_failures_per_account),
            true,
        )
    }

    fn retry_after<T>(result: Result<Guess<T>, ApiError>) -> u64 {
        match result {
            Err(ApiError::TooManyRequests { retry_after_secs }) => retry_after_secs,
            Err(other) => panic!("expected 429, got {other:?}"),
            Ok(_) => panic!("expected 429, got through"),
        }
    }

    #[test]
    fn failures_limit_the_address_that_made_them_and_not_another() {
        let failures = login_failures();
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
        let failures = login_failures();
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
        let failures = login_failures();
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
            .begin(ACCOUNT, ip(2), now + FAILURE_MEMORY)
            .unwrap();
    }

    /// Manage links and pairing codes: one target for every secret of the kind.
    fn link_guesses() -> Guesses<()> {
        Guesses::new(
            Rate::new(3, Duration::from_secs(10)),
            Some(Rate::new(6, Duration::from_secs(1))),
            true,
        )
    }

    #[test]
    fn a_right_secret_is_given_back_but_earlier_failures_stay_counted() {
        let guesses = link_guesses();
        let now = Instant::now();
        // Valid links, any number of them, cost the network nothing.
        for _ in 0..10 {
            guesses.give_back(guesses.begin((), ip(1), now).unwrap());
        }
        // Two wrong guesses, then a valid link: it does not buy the network fresh guesses.
        let _ = guesses.begin((), ip(1), now).unwrap();
        let _ = guesses.begin((), ip(1), now).unwrap();
        guesses.give_back(guesses.begin((), ip(1), now).unwrap());
        let _ = guesses.begin((), ip(1), now).unwrap();
        // Used up: refused before any look-up, whether the next token would be right or not.
        assert_eq!(retry_after(guesses.begin((), ip(1), now)), 10);
        let _ = guesses.begin((), ip(2), now).unwrap();
    }

    #[test]
    fn the_total_refuses_networks_that_failed_and_not_those_that_only_used_valid_links() {
        let guesses = link_guesses();
        let now = Instant::now();
        for n in 0..3 {
            for _ in 0..2 {
                let _ = guesses.begin((), ip(n), now).unwrap();
            }
        }
        // Six failures in all: a network that failed is refused, though it has one left.
        assert_eq!(retry_after(guesses.begin((), ip(0), now)), 1);
        // A network whose attempts were all given back has not failed: it is not refused.
        let valid = guesses.begin((), ip(7), now).unwrap();
        guesses.give_back(valid);
        guesses.give_back(guesses.begin((), ip(7), now).unwrap());
        // Nor is a network that never tried; its failure is counted, and then it waits too.
        let _ = guesses.begin((), ip(8), now).unwrap();
        assert!(guesses.begin((), ip(8), now).is_err());
        // An hour after its last failure a network is new again.
        let _ = guesses.begin((), ip(0), now + FAILURE_MEMORY).unwrap();
    }

    #[test]
    fn without_a_ceiling_only_the_network_is_counted() {
        let attempts: Guesses<()> = Guesses::new(Rate::new(2, Duration::from_secs(3)), None, true);
        let now = Instant::now();
        for n in 0..50 {
            let _ = attempts.begin((), ip(n), now).unwrap();
        }
        let _ = attempts.begin((), ip(0), now).unwrap();
        assert_eq!(retry_after(attempts.begin((), ip(0), now)), 3);
        attempts.shrink(now + Duration::from_secs(6));
        assert!(attempts.targets().values().all(|t| t.networks.is_empty()));
    }

    #[test]
    fn shrinking_forgets_only_what_no_longer_limits() {
        let failures = login_failures();
        let now = Instant::now();
        for _ in 0..LOGIN_FAILURES_PER_ADDRESS {
            let _ = failures.begin(ACCOUNT, ip(1), now).unwrap();
        }
        failures.shrink(now + LOGIN_FAILURE_PERIOD * 2);
        assert!(failures.begin(ACCOUNT, ip(1), now).is_err());
        failures.shrink(now + FAILURE_MEMORY);
        assert!(failures.targets().is_empty());
    }

    #[test]
    fn disabled_limits_let_everything_through() {
        let limiter = Limiter::new(Rate::new(1, Duration::from_secs(60))).enabled(false);
        let guesses: Guesses<()> = Guesses::new(Rate::new(1, Duration::from_secs(60)), None, false);
        let now = Instant::now();
        for _ in 0..10 {
            assert!(limiter.check(&"k").is_ok());
            let _ = guesses.begin((), ip(1), now).unwrap();
        }
    }
}
