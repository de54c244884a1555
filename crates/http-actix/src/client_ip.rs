//! The client's IP address: the socket peer, or what a trusted proxy says.
//!
//! Forwarding headers are written by whoever sends the request, so they are
//! believed only when the peer is a configured proxy, and then only as far back
//! as the chain of trusted proxies goes: walking the list from the nearest hop,
//! the first address that is not a trusted proxy is the client. Only the one
//! header the operator says the proxies write is read: a proxy that writes
//! `X-Forwarded-For` passes a client's own `Forwarded` through untouched, and
//! the other way round.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderMap};
use ipnet::IpNet;

/// The header trusted proxies write the client's address in (`http.forwarded_header`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For`, as nginx, HAProxy and most load balancers write it.
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239), its `for=` parameters.
    Forwarded,
}

/// A `http.forwarded_header` value that names neither header.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a forwarding header: write x-forwarded-for or forwarded")]
pub struct InvalidForwardedHeader(String);

impl ForwardedHeader {
    /// Parses `x-forwarded-for` or `forwarded`, in any case.
    pub fn parse(value: &str) -> Result<Self, InvalidForwardedHeader> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("x-forwarded-for") {
            Ok(Self::XForwardedFor)
        } else if value.eq_ignore_ascii_case("forwarded") {
            Ok(Self::Forwarded)
        } else {
            Err(InvalidForwardedHeader(value.to_owned()))
        }
    }

    /// The addresses this header lists, client first; `None` for an entry
    /// that is not an IP. Several header lines read as one list.
    fn hops(self, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
        match self {
            Self::Forwarded => elements(headers, header::FORWARDED)
                .map(|element| forwarded_param(element, "for").and_then(parse_node))
                .collect(),
            Self::XForwardedFor => elements(headers, header::X_FORWARDED_FOR)
                .map(parse_node)
                .collect(),
        }
    }

    /// The scheme the client used to reach the first proxy: `X-Forwarded-Proto`
    /// beside `X-Forwarded-For`, the `proto=` of `Forwarded`. The first entry
    /// is the client-facing hop's when proxies append, and the only one when
    /// they overwrite.
    fn proto(self, headers: &HeaderMap) -> Option<&str> {
        match self {
            Self::Forwarded => {
                elements(headers, header::FORWARDED).find_map(|element| forwarded_param(element, "proto"))
            }
            Self::XForwardedFor => elements(headers, header::X_FORWARDED_PROTO).next(),
        }
    }
}

/// The proxies whose forwarding header is believed, and which header that is.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardedHeader,
}

/// A `http.trusted_proxies` entry that is neither an address nor a CIDR range.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR range")]
pub struct InvalidProxy(String);

impl TrustedProxies {
    /// The proxies in `nets`, which write `header`.
    pub fn new(nets: Vec<IpNet>, header: ForwardedHeader) -> Self {
        Self { nets, header }
    }

    /// Parses addresses (`10.0.0.1`, `::1`) and ranges (`10.0.0.0/8`) of
    /// proxies that write `header`.
    pub fn parse<S: AsRef<str>>(entries: &[S], header: ForwardedHeader) -> Result<Self, InvalidProxy> {
        let nets = entries
            .iter()
            .map(|entry| Self::parse_entry(entry.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self::new(nets, header))
    }

    /// Parses one entry: a range (`10.0.0.0/8`), or an address (`10.0.0.1`,
    /// `::1`) as the range of just that address.
    pub fn parse_entry(entry: &str) -> Result<IpNet, InvalidProxy> {
        let entry = entry.trim();
        entry
            .parse::<IpNet>()
            .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| InvalidProxy(entry.to_owned()))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// Whether `req` comes straight from a trusted proxy (whose headers are believed).
    pub(crate) fn sent_by_proxy(&self, req: &HttpRequest) -> bool {
        req.peer_addr().is_some_and(|peer| self.trusts(peer.ip()))
    }

    /// The client address of `req`.
    pub(crate) fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = canonical(req.peer_addr()?.ip());
        Some(self.resolve(peer, req.headers()))
    }

    /// The scheme the client used: what a trusted proxy says, else the connection's.
    /// (actix's `connection_info()` believes `X-Forwarded-Proto` from anyone.)
    pub(crate) fn scheme(&self, req: &HttpRequest) -> &'static str {
        let connection = if req.app_config().secure() {
            "https"
        } else {
            "http"
        };
        req.peer_addr()
            .and_then(|peer| self.forwarded_scheme(peer.ip(), req.headers()))
            .unwrap_or(connection)
    }

    /// `https` or `http` as a trusted `peer` forwards it; `None` from anyone else.
    fn forwarded_scheme(&self, peer: IpAddr, headers: &HeaderMap) -> Option<&'static str> {
        if !self.trusts(peer) {
            return None;
        }
        let proto = self.header.proto(headers)?.trim_matches('"');
        ["https", "http"]
            .into_iter()
            .find(|scheme| proto.eq_ignore_ascii_case(scheme))
    }

    fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops = self.header.hops(headers);
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

/// The comma-separated elements of every `name` header line, in order.
fn elements(headers: &HeaderMap, name: header::HeaderName) -> impl Iterator<Item = &str> {
    headers
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
}

/// The value of parameter `name` (`for`, `proto`) in one `Forwarded` element.
fn forwarded_param<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    element
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
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
        TrustedProxies::parse(entries, ForwardedHeader::XForwardedFor).unwrap()
    }

    fn forwarded_proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries, ForwardedHeader::Forwarded).unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let forged = headers(&[("x-forwarded-for", "1.1.1.1"), ("forwarded", "for=2.2.2.2")]);
        assert_eq!(proxies(&[]).resolve(ip("9.9.9.9"), &forged), ip("9.9.9.9"));
        assert_eq!(
            proxies(&["10.0.0.0/8"]).resolve(ip("9.9.9.9"), &forged),
            ip("9.9.9.9")
        );
        assert_eq!(
            forwarded_proxies(&["10.0.0.0/8"]).resolve(ip("9.9.9.9"), &forged),
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
    fn a_client_forwarded_header_is_ignored_when_proxies_write_x_forwarded_for() {
        // nginx appended the real client to X-Forwarded-For and passed the client's Forwarded on.
        let both = headers(&[("forwarded", "for=6.6.6.6"), ("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(
            proxies(&["10.0.0.1"]).resolve(ip("10.0.0.1"), &both),
            ip("203.0.113.7")
        );
        let forwarded_only = headers(&[("forwarded", "for=6.6.6.6")]);
        assert_eq!(
            proxies(&["10.0.0.1"]).resolve(ip("10.0.0.1"), &forwarded_only),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_client_x_forwarded_for_is_ignored_when_proxies_write_forwarded() {
        let both = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=203.0.113.7;proto=https"),
        ]);
        assert_eq!(
            forwarded_proxies(&["10.0.0.1"]).resolve(ip("10.0.0.1"), &both),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn forwarded_node_forms_are_read() {
        let trusted = forwarded_proxies(&["10.0.0.1"]);
        let v6 = headers(&[("forwarded", "for=\"[2001:db8::17]:4711\";proto=https")]);
        assert_eq!(trusted.resolve(ip("10.0.0.1"), &v6), ip("2001:db8::17"));
        let v4_port = headers(&[("forwarded", "for=198.51.100.2:8080, for=10.0.0.1")]);
        assert_eq!(trusted.resolve(ip("10.0.0.1"), &v4_port), ip("198.51.100.2"));
        let spaced = headers(&[("forwarded", "proto=http; For=198.51.100.3")]);
        assert_eq!(trusted.resolve(ip("10.0.0.1"), &spaced), ip("198.51.100.3"));
    }

    #[test]
    fn garbage_ends_the_chain_at_the_last_believed_address() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let garbage = headers(&[("x-forwarded-for", "1.1.1.1, not-an-ip, 10.0.0.2")]);
        assert_eq!(trusted.resolve(ip("10.0.0.1"), &garbage), ip("10.0.0.2"));
        assert_eq!(trusted.resolve(ip("10.0.0.1"), &headers(&[])), ip("10.0.0.1"));
        let obfuscated = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(
            forwarded_proxies(&["10.0.0.0/8"]).resolve(ip("10.0.0.1"), &obfuscated),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn mapped_ipv6_peers_match_ipv4_ranges() {
        let trusted = proxies(&["127.0.0.1"]);
        let chain = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(trusted.resolve(ip("::ffff:127.0.0.1"), &chain), ip("203.0.113.9"));
    }

    #[test]
    fn the_scheme_is_believed_from_trusted_proxies_only() {
        let https = headers(&[("x-forwarded-proto", "HTTPS")]);
        let trusted = proxies(&["10.0.0.1"]);
        assert_eq!(trusted.forwarded_scheme(ip("10.0.0.1"), &https), Some("https"));
        assert_eq!(trusted.forwarded_scheme(ip("9.9.9.9"), &https), None);
        assert_eq!(trusted.forwarded_scheme(ip("10.0.0.1"), &headers(&[])), None);
        let odd = headers(&[("x-forwarded-proto", "gopher")]);
        assert_eq!(trusted.forwarded_scheme(ip("10.0.0.1"), &odd), None);
        // Each header mode reads its own scheme field.
        let forwarded = headers(&[
            ("x-forwarded-proto", "http"),
            (
                "forwarded",
                "for=203.0.113.7;proto=https, for=10.0.0.2;proto=http",
            ),
        ]);
        assert_eq!(
            forwarded_proxies(&["10.0.0.1"]).forwarded_scheme(ip("10.0.0.1"), &forwarded),
            Some("https")
        );
        assert_eq!(trusted.forwarded_scheme(ip("10.0.0.1"), &forwarded), Some("http"));
    }

    #[test]
    fn bad_entries_are_refused() {
        let header = ForwardedHeader::default();
        assert!(TrustedProxies::parse(&["10.0.0.0/33"], header).is_err());
        assert!(TrustedProxies::parse(&["proxy.internal"], header).is_err());
    }

    #[test]
    fn forwarded_header_names_parse_in_any_case() {
        assert_eq!(
            ForwardedHeader::parse("X-Forwarded-For").unwrap(),
            ForwardedHeader::XForwardedFor
        );
        assert_eq!(
            ForwardedHeader::parse("forwarded").unwrap(),
            ForwardedHeader::Forwarded
        );
        assert_eq!(ForwardedHeader::default(), ForwardedHeader::XForwardedFor);
        assert!(ForwardedHeader::parse("x-real-ip").is_err());
    }
}
