//! Who is on the other end of a connection, when proxies stand in between.

use std::net::IpAddr;

pub use ipnet::IpNet;

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the right-most address
/// of X-Forwarded-For that is not itself a trusted proxy (entries further left are the client's own claims,
/// which anyone can forge).
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    forwarded_for
        .into_iter()
        .flat_map(|header| header.rsplit(','))
        .map_while(|entry| entry.trim().parse::<IpAddr>().ok())
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

/// Every X-Forwarded-For line, in order, as one list: a proxy may append its own line instead of extending the
/// client's, and reading only the first would let the client choose its address.
pub fn forwarded_for(headers: &http::HeaderMap) -> Option<String> {
    let lines: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    (!lines.is_empty()).then(|| lines.join(","))
}

/// The part of a client's address that names the client for limits and throttles: an IPv4 address whole, an
/// IPv6 address by its /64 (one host is given a /64 to rotate through, so a finer key is no limit at all).
pub fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => ipnet::Ipv6Net::new(v6, 64).expect("64 is a valid prefix").trunc().to_string(),
    }
}

/// The client `ip` counts as: itself for IPv4, its /64 for IPv6 (one host is handed a whole /64 and can
/// rotate through it), so limits per client cannot be escaped by changing addresses within it.
pub fn client_net(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => IpAddr::V6(ipnet::Ipv6Net::new(v6, 64).expect("64 is a valid prefix").network()),
    }
}

/// Parses an IP range (`10.0.0.0/8`) or a single address (`10.0.0.7`), for trusted-proxy settings.
pub fn parse_network(value: &str) -> Result<IpNet, String> {
    value
        .parse::<IpNet>()
        .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{value:?} is neither an IP address nor a CIDR range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| parse_network(n).unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(peer, Some("1.2.3.4"), &nets(&["10.0.0.0/8"])), peer);
        assert_eq!(client_ip(peer, Some("1.2.3.4"), &[]), peer);
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_address_is_the_client() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let trusted = nets(&["10.0.0.0/8", "192.0.2.1"]);
        // The client claimed 1.2.3.4 itself; the proxies saw 198.51.100.7.
        let header = "1.2.3.4, 198.51.100.7, 10.0.0.5";
        assert_eq!(client_ip(proxy, Some(header), &trusted), "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(proxy, None, &trusted), proxy);
        assert_eq!(client_ip(proxy, Some("garbage"), &trusted), proxy);
    }

    #[test]
    fn every_forwarded_for_line_counts_so_a_client_line_first_cannot_win() {
        let mut headers = http::HeaderMap::new();
        headers.append("x-forwarded-for", "6.6.6.6".parse().unwrap());
        headers.append("x-forwarded-for", "198.51.100.7".parse().unwrap());
        let joined = forwarded_for(&headers).unwrap();
        let client = client_ip("10.0.0.2".parse().unwrap(), Some(&joined), &nets(&["10.0.0.0/8"]));
        assert_eq!(client, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(forwarded_for(&http::HeaderMap::new()), None);
    }

    #[test]
    fn networks_are_ranges_or_single_addresses() {
        assert!(parse_network("10.0.0.0/8").is_ok());
        assert!(parse_network("10.0.0.7").unwrap().contains(&"10.0.0.7".parse::<IpAddr>().unwrap()));
        assert!(parse_network("::1").is_ok());
        assert!(parse_network("not-an-ip").is_err());
    }

    #[test]
    fn an_ipv6_client_is_keyed_by_its_64_and_an_ipv4_client_by_its_address() {
        let key = |ip: &str| client_key(ip.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("198.51.100.7"), "198.51.100.7");
    }
}
