//! The client's IP address: the socket peer, or what a trusted proxy says.
//!
//! `X-Forwarded-For` and `Forwarded` are written by whoever sends the request,
//! so they are believed only when the peer is a configured proxy, and then only
//! as far back as the chain of trusted proxies goes: walking the list from the
//! nearest hop, the first address that is not a trusted proxy is the client.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderMap};
use ipnet::IpNet;

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

/// A `http.trusted_proxies` entry that is neither an address nor a CIDR range.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR range")]
pub struct InvalidProxy(String);

impl TrustedProxies {
    /// Parses addresses (`10.0.0.1`, `::1`) and ranges (`10.0.0.0/8`).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, InvalidProxy> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| InvalidProxy(entry.to_owned()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client address of `req`.
    pub(crate) fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = canonical(req.peer_addr()?.ip());
        Some(self.resolve(peer, req.headers()))
    }

    fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops = forwarded_hops(headers);
        let mut client = peer;
        // Nearest hop first; stop at the first address no trusted proxy vouches for.
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) => {
                    client = canonical(*ip);
                    if !self.trusts(client) {
                        break;
                    }
                }
                // An unreadable entry ends the trusted chain: keep the last address we believe.
                None => break,
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`) compares as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The addresses listed by `Forwarded` (preferred, RFC 7239) or else
/// `X-Forwarded-For`, client first; `None` for an entry that is not an IP.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all(header::FORWARDED)
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|value| value.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(name, _)| name.eq_ignore_ascii_case("for"))
                    .and_then(|(_, node)| parse_node(node))
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|entry| parse_node(entry.trim()))
        .collect()
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:80`, `"[::1]:80"`, `::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    // IPv4 with a port; a bare IPv6 address was handled above.
    node.rsplit_once(':')?
        .0
        .parse::<std::net::Ipv4Addr>()
        .ok()
        .map(IpAddr::V4)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries).unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let forged = headers(&[("x-forwarded-for", "1.1.1.1"), ("forwarded", "for=2.2.2.2")]);
        assert_eq!(proxies(&[]).resolve(ip("9.9.9.9"), &forged), ip("9.9.9.9"));
        assert_eq!(
            proxies(&["10.0.0.0/8"]).resolve(ip("9.9.9.9"), &forged),
            ip("9.9.9.9")
        );
    }

    #[test]
    fn a_trusted_proxy_is_believed_up_to_the_first_untrusted_hop() {
        let trusted = proxies(&["10.0.0.0/8", "192.168.1.1"]);
        // The client forged the first entry; the proxies appended the rest.
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 192.168.1.1")]);
        assert_eq!(trusted.resolve(ip("10.1.2.3"), &chain), ip("203.0.113.7"));
    }

    #[test]
    fn forwarded_is_preferred_and_its_node_forms_are_read() {
        let trusted = proxies(&["10.0.0.1"]);
        let both = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("forwarded", "for=\"[2001:db8::17]:4711\";proto=https"),
        ]);
        assert_eq!(trusted.resolve(ip("10.0.0.1"), &both), ip("2001:db8::17"));
        let v4_port = headers(&[("forwarded", "for=198.51.100.2:8080, for=10.0.0.1")]);
        assert_eq!(trusted.resolve(ip("10.0.0.1"), &v4_port), ip("198.51.100.2"));
    }

    #[test]
    fn garbage_ends_the_chain_at_the_last_believed_address() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let garbage = headers(&[("x-forwarded-for", "1.1.1.1, not-an-ip, 10.0.0.2")]);
        assert_eq!(trusted.resolve(ip("10.0.0.1"), &garbage), ip("10.0.0.2"));
        let obfuscated = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(trusted.resolve(ip("10.0.0.1"), &obfuscated), ip("10.0.0.1"));
        assert_eq!(trusted.resolve(ip("10.0.0.1"), &headers(&[])), ip("10.0.0.1"));
    }

    #[test]
    fn mapped_ipv6_peers_match_ipv4_ranges() {
        let trusted = proxies(&["127.0.0.1"]);
        let chain = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(trusted.resolve(ip("::ffff:127.0.0.1"), &chain), ip("203.0.113.9"));
    }

    #[test]
    fn bad_entries_are_refused() {
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["proxy.internal"]).is_err());
    }
}
