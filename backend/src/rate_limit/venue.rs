//! Venue networks: the address ranges an organiser names as the venue's own (its Wi-Fi's public
//! addresses), where every attendee and booth shares one address behind the venue's address
//! translator. From those networks, during the event's on-site hours, ordinary use of that event
//! (registering for it) is counted per (event, network) with a venue-sized quota instead of the
//! per-network one; limits on guessing secrets stay as they are.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use time::{Duration, OffsetDateTime};

use super::plain_address;
use crate::{error::FieldError, problem::ProblemCode};

/// The most networks one event may name: a venue has one or two uplinks, not a list of the
/// Internet.
pub const MAX_VENUE_NETWORKS: usize = 8;
/// The broadest IPv4 network an event may name (a /16 is 65 536 addresses: a campus, not a
/// provider).
pub const MIN_IPV4_PREFIX: u8 = 16;
/// The broadest IPv6 network: a /48 is what one site is usually given.
pub const MIN_IPV6_PREFIX: u8 = 48;
/// How long before the start the venue counts as on site: doors, badge pick-up and booth set-up
/// come before the first talk.
pub const OPENS_BEFORE_START: Duration = Duration::hours(3);

/// An IPv4 or IPv6 network, `address/prefix`, its host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct VenueNetwork {
    address: IpAddr,
    prefix: u8,
}

/// Why a network was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkError {
    /// Not `address` or `address/prefix`, an IPv4-mapped IPv6 network, or a prefix too long.
    Invalid,
    /// A prefix shorter than [`MIN_IPV4_PREFIX`] or [`MIN_IPV6_PREFIX`].
    TooBroad,
}

impl VenueNetwork {
    /// `203.0.113.0/24`, `2001:db8:5::/48`, or a single address. Host bits are cleared
    /// (`203.0.113.7/24` is `203.0.113.0/24`).
    pub fn parse(input: &str) -> Result<Self, NetworkError> {
        let input = input.trim();
        let (address, prefix) = match input.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (input, None),
        };
        let address: IpAddr = address.parse().map_err(|_| NetworkError::Invalid)?;
        let (bits, least) = match address {
            IpAddr::V4(_) => (32, MIN_IPV4_PREFIX),
            // Clients are matched as IPv4 (`plain_address`), so a mapped network would hold
            // nobody: refused rather than silently useless.
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => return Err(NetworkError::Invalid),
            IpAddr::V6(_) => (128, MIN_IPV6_PREFIX),
        };
        let prefix = match prefix {
            None => bits,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 3 => {
                p.parse().map_err(|_| NetworkError::Invalid)?
            }
            Some(_) => return Err(NetworkError::Invalid),
        };
        if prefix > bits {
            return Err(NetworkError::Invalid);
        }
        if prefix < least {
            return Err(NetworkError::TooBroad);
        }
        Ok(Self {
            address: mask(address, prefix),
            prefix,
        })
    }

    /// Whether `client` is in this network (an IPv4-mapped address counts as its IPv4 address).
    pub fn contains(&self, client: IpAddr) -> bool {
        let client = plain_address(client);
        client.is_ipv4() == self.address.is_ipv4() && mask(client, self.prefix) == self.address
    }
}

fn mask(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let keep = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(v4.to_bits() & keep))
        }
        IpAddr::V6(v6) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(v6.to_bits() & keep))
        }
    }
}

impl fmt::Display for VenueNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// Check an event's venue networks (`field` is the API's name for the list): each one valid and
/// no broader than a /16 or a /48, at most [`MAX_VENUE_NETWORKS`]. Returns them cleaned, sorted
/// and de-duplicated, as `address/prefix`.
pub fn validate(field: &str, inputs: &[String]) -> Result<Vec<String>, FieldError> {
    if inputs.len() > MAX_VENUE_NETWORKS {
        return Err(FieldError::new(
            ProblemCode::TooManyNetworks,
            field,
            format!("At most {MAX_VENUE_NETWORKS} networks."),
        )
        .with_limit(MAX_VENUE_NETWORKS));
    }
    let mut networks = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let network = VenueNetwork::parse(input).map_err(|e| match e {
            NetworkError::Invalid => FieldError::new(
                ProblemCode::InvalidNetwork,
                format!("{field}[{i}]"),
                "Must be an IPv4 or IPv6 network such as 203.0.113.0/24 or 2001:db8:5::/48.",
            ),
            NetworkError::TooBroad => FieldError::new(
                ProblemCode::NetworkTooBroad,
                format!("{field}[{i}]"),
                format!(
                    "A venue network is at most an IPv4 /{MIN_IPV4_PREFIX} or an IPv6 \
                     /{MIN_IPV6_PREFIX}."
                ),
            ),
        })?;
        networks.push(network);
    }
    networks.sort();
    networks.dedup();
    Ok(networks.iter().map(ToString::to_string).collect())
}

/// The stored form: the cleaned networks, comma-separated (empty: none).
pub fn store(networks: &[String]) -> String {
    networks.join(",")
}

/// Read the stored form; anything unreadable (there should be nothing) counts as no network, so
/// it never widens a limit.
pub fn parse_stored(stored: &str) -> Vec<VenueNetwork> {
    stored
        .split(',')
        .filter_map(|n| VenueNetwork::parse(n).ok())
        .collect()
}

/// The stored form as the API shows it.
pub fn listed(stored: &str) -> Vec<String> {
    parse_stored(stored)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Whether the event is on site at `now`: from [`OPENS_BEFORE_START`] before its start until its
/// end (registration closes then anyway).
pub fn on_site(starts_at: OffsetDateTime, ends_at: OffsetDateTime, now: OffsetDateTime) -> bool {
    starts_at - OPENS_BEFORE_START <= now && now < ends_at
}

/// Whether `client` counts as the event's venue at `now`: it is in one of the event's venue
/// networks and the event is on site.
pub fn trusted(
    networks: &[VenueNetwork],
    starts_at: OffsetDateTime,
    ends_at: OffsetDateTime,
    client: IpAddr,
    now: OffsetDateTime,
) -> bool {
    on_site(starts_at, ends_at, now) && networks.iter().any(|n| n.contains(client))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_are_parsed_and_cleaned() {
        for (input, shown) in [
            ("203.0.113.0/24", "203.0.113.0/24"),
            (" 203.0.113.7/24 ", "203.0.113.0/24"),
            ("203.0.113.7", "203.0.113.7/32"),
            ("10.1.0.0/16", "10.1.0.0/16"),
            ("2001:db8:5::/48", "2001:db8:5::/48"),
            ("2001:DB8:5:1::9/64", "2001:db8:5:1::/64"),
            ("2001:db8::1", "2001:db8::1/128"),
        ] {
            assert_eq!(
                VenueNetwork::parse(input).unwrap().to_string(),
                shown,
                "{input}"
            );
        }
        for bad in [
            "",
            "venue",
            "203.0.113.0/",
            "203.0.113.0/33",
            "203.0.113.0/+24",
            "203.0.113.0/24/1",
            "2001:db8::/129",
            "::ffff:203.0.113.0/120",
            "203.0.113.0/0024",
        ] {
            assert_eq!(
                VenueNetwork::parse(bad),
                Err(NetworkError::Invalid),
                "{bad:?}"
            );
        }
        for broad in [
            "0.0.0.0/0",
            "10.0.0.0/8",
            "172.16.0.0/15",
            "::/0",
            "2001:db8::/47",
        ] {
            assert_eq!(
                VenueNetwork::parse(broad),
                Err(NetworkError::TooBroad),
                "{broad:?}"
            );
        }
    }

    #[test]
    fn a_network_holds_its_addresses_and_no_others() {
        let v4 = VenueNetwork::parse("203.0.113.0/24").unwrap();
        assert!(v4.contains(ip("203.0.113.1")));
        assert!(v4.contains(ip("203.0.113.255")));
        assert!(v4.contains(ip("::ffff:203.0.113.9")));
        assert!(!v4.contains(ip("203.0.114.1")));
        assert!(!v4.contains(ip("2001:db8::1")));
        let v6 = VenueNetwork::parse("2001:db8:5::/48").unwrap();
        assert!(v6.contains(ip("2001:db8:5:ffff::1")));
        assert!(!v6.contains(ip("2001:db8:6::1")));
        assert!(!v6.contains(ip("203.0.113.1")));
        let host = VenueNetwork::parse("198.51.100.7").unwrap();
        assert!(host.contains(ip("198.51.100.7")));
        assert!(!host.contains(ip("198.51.100.8")));
    }

    #[test]
    fn a_list_is_checked_entry_by_entry_and_bounded() {
        let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            validate(
                "venue_networks",
                &list(&["2001:db8:5::/48", "203.0.113.9/24", "203.0.113.0/24"])
            )
            .unwrap(),
            ["203.0.113.0/24", "2001:db8:5::/48"]
        );
        let broad =
            validate("venue_networks", &list(&["203.0.113.0/24", "0.0.0.0/0"])).unwrap_err();
        assert_eq!(
            (broad.code, broad.field.as_str()),
            (ProblemCode::NetworkTooBroad, "venue_networks[1]")
        );
        let invalid = validate("venue_networks", &list(&["wifi"])).unwrap_err();
        assert_eq!(
            (invalid.code, invalid.field.as_str()),
            (ProblemCode::InvalidNetwork, "venue_networks[0]")
        );
        let many: Vec<String> = (0..=MAX_VENUE_NETWORKS)
            .map(|i| format!("10.{i}.0.0/16"))
            .collect();
        assert_eq!(
            validate("venue_networks", &many).unwrap_err().code,
            ProblemCode::TooManyNetworks
        );
        assert!(validate("venue_networks", &many[..MAX_VENUE_NETWORKS]).is_ok());
        let stored = store(
            &validate(
                "venue_networks",
                &list(&["203.0.113.0/24", "2001:db8:5::/48"]),
            )
            .unwrap(),
        );
        assert_eq!(listed(&stored), ["203.0.113.0/24", "2001:db8:5::/48"]);
        assert!(parse_stored("").is_empty());
    }

    #[test]
    fn the_venue_counts_from_three_hours_before_the_start_until_the_end() {
        let starts = datetime!(2026-12-01 09:00 UTC);
        let ends = datetime!(2026-12-02 17:00 UTC);
        let venue = parse_stored("203.0.113.0/24");
        let inside = ip("203.0.113.20");
        let at = |now| trusted(&venue, starts, ends, inside, now);
        assert!(!at(datetime!(2026-12-01 05:59:59 UTC)));
        assert!(at(datetime!(2026-12-01 06:00 UTC)));
        assert!(at(datetime!(2026-12-01 23:00 UTC)));
        assert!(at(datetime!(2026-12-02 16:59:59 UTC)));
        assert!(!at(datetime!(2026-12-02 17:00 UTC)));
        // Outside the networks, never; without networks, nobody.
        assert!(!trusted(&venue, starts, ends, ip("198.51.100.1"), starts));
        assert!(!trusted(&[], starts, ends, inside, starts));
    }
}
