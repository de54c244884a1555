//! The keys subjects' budgets are kept under.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};

/// The bits of an IPv6 address that name its /64 network.
const IPV6_64_MASK: u128 = u128::MAX << 64;

/// The key a client address's budgets are kept under: an IPv4 address as
/// itself; an IPv6 address by its /64 network, the usual smallest assignment,
/// so that a client cannot get a fresh budget from each of its 2^64
/// addresses; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as its IPv4
/// address. Text that is no address is keyed as given.
pub fn ip_key(ip: &str) -> Cow<'_, str> {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => Cow::Owned(v4.to_string()),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => Cow::Owned(v4.to_string()),
            None => {
                let network = Ipv6Addr::from_bits(v6.to_bits() & IPV6_64_MASK);
                Cow::Owned(format!("{network}/64"))
            }
        },
        Err(_) => Cow::Borrowed(ip),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_addresses_are_keyed_apart() {
        assert_eq!(ip_key("203.0.113.7"), "203.0.113.7");
        assert_ne!(ip_key("203.0.113.7"), ip_key("203.0.113.8"));
    }

    #[test]
    fn ipv6_addresses_are_keyed_by_their_64() {
        assert_eq!(ip_key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(
            ip_key("2001:db8:1:2::1"),
            ip_key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(ip_key("2001:db8:1:2::1"), ip_key("2001:db8:1:3::1"));
        // Another spelling of the same address is the same key.
        assert_eq!(ip_key("2001:DB8:1:2:0:0:0:1"), ip_key("2001:db8:1:2::1"));
    }

    #[test]
    fn ipv4_mapped_ipv6_is_its_ipv4_address() {
        assert_eq!(ip_key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_ne!(ip_key("::ffff:203.0.113.7"), ip_key("::ffff:203.0.113.8"));
    }

    #[test]
    fn text_that_is_no_address_is_keyed_as_given() {
        for text in ["", "unknown", "203.0.113.7:443", "fe80::1%eth0", "2001:db8::/64"] {
            assert_eq!(ip_key(text), text);
        }
    }
}
