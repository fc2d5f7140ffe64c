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
    fn networks_are_ranges_or_single_addresses() {
        assert!(parse_network("10.0.0.0/8").is_ok());
        assert!(parse_network("10.0.0.7").unwrap().contains(&"10.0.0.7".parse::<IpAddr>().unwrap()));
        assert!(parse_network("::1").is_ok());
        assert!(parse_network("not-an-ip").is_err());
    }
}
