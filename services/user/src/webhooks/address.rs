//! Which URLs a webhook may call (server-side request forgery): only public internet addresses, unless the
//! development setting allows others.
//!
//! An endpoint's URL is checked when it is saved ([`check_url`]: scheme, no credentials, a host that resolves
//! to public addresses only) and again on every connection: the deliverer's resolver ([`PublicOnly`]) drops any
//! non-public answer, so a name that resolves to an internal address by the time of delivery (DNS rebinding)
//! reaches nothing, and a URL with a literal address is checked before it is called ([`literal_is_allowed`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::Settings;

/// The longest URL taken.
pub const MAX_URL_CHARS: usize = 2000;

/// Whether `ip` is an address on the public internet: not loopback, private, link-local, shared (CGNAT),
/// multicast, broadcast, documentation, benchmarking or reserved, nor an IPv6 form of one of those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                   // "this network"
        || a == 10                             // private
        || a == 127                            // loopback
        || (a == 100 && (64..=127).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)              // link-local (cloud metadata services live here)
        || (a == 172 && (16..=31).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)      // documentation
        || (a == 192 && b == 88 && c == 99)    // 6to4 relay anycast
        || (a == 192 && b == 168)              // private
        || (a == 198 && (18..=19).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100)   // documentation
        || (a == 203 && b == 0 && c == 113)    // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // An IPv4 address written as IPv6 (mapped, compatible, or NAT64) is judged as that address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    if segments[..6] == [0, 0, 0, 0, 0, 0] || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = segments[6].to_be_bytes();
        let [c, d] = segments[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    let first = segments[0];
    !(first < 0x0100 // ::/8 beyond the forms above: reserved (IPv4-translated ::ffff:0:a.b.c.d among them)
        || (first == 0x64 && segments[1] == 0xff9b && segments[2] == 1) // local-use NAT64 (64:ff9b:1::/48)
        || ip.is_unspecified()
        || ip.is_loopback()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (first & 0xff00) == 0xff00 // multicast
        || (first == 0x2001 && segments[1] == 0x0db8) // documentation
        || first == 0x2002 // 6to4: an IPv4 address inside
        || (first == 0x2001 && segments[1] == 0)) // Teredo: an IPv4 address inside
}

/// Parses and checks an endpoint URL under `settings`: http(s) (https only unless private addresses are
/// allowed), at most [`MAX_URL_CHARS`], no credentials, and a host whose every address is public (unless
/// allowed). The reason when refused, in words an admin understands.
pub async fn check_url(raw: &str, settings: &Settings) -> Result<url::Url, String> {
    let raw = raw.trim();
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(format!("the URL is longer than {MAX_URL_CHARS} characters"));
    }
    let url = url::Url::parse(raw).map_err(|e| format!("the URL is not valid: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if !settings.https_only => {}
        "http" => return Err("the URL must be https://".into()),
        _ => return Err("the URL must be https:// (or http:// in development)".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not carry credentials: receivers verify the signature instead".into());
    }
    let Some(host) = url.host_str() else { return Err("the URL has no host".into()) };
    if settings.allow_private {
        return Ok(url);
    }
    if !literal_is_allowed(&url, settings) {
        return Err("the URL's address is not a public internet address".into());
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| format!("the URL's host {host} does not resolve"))?
        .collect();
    if addresses.is_empty() {
        return Err(format!("the URL's host {host} does not resolve"));
    }
    if addresses.iter().any(|address| !is_public(address.ip())) {
        return Err(format!("the URL's host {host} resolves to an address that is not a public internet address"));
    }
    Ok(url)
}

/// Whether a URL whose host is a literal address may be called (a URL with a name is checked by [`PublicOnly`]
/// when it connects).
pub fn literal_is_allowed(url: &url::Url, settings: &Settings) -> bool {
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return true,
    };
    settings.allow_private || is_public(ip)
}

/// A resolver that answers only the public addresses of a name, and fails when it has none.
#[derive(Clone, Copy, Debug, Default)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let public: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|address| is_public(address.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} has no public internet address").into());
            }
            let addresses: Addrs = Box::new(public.into_iter());
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn settings(allow_private: bool) -> Settings {
        Settings { allow_private, https_only: !allow_private, timeout: Duration::from_secs(1), retries: vec![] }
    }

    #[test]
    fn only_public_internet_addresses_are_public() {
        for private in [
            "0.0.0.0",
            "10.1.2.3",
            "127.0.0.1",
            "100.64.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "2002:a00:1::",
            "::ffff:0:a9fe:a9fe",
            "64:ff9b:1::a9fe:a9fe",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private} counted as public");
        }
        for public in ["1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "::ffff:8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public} counted as private");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_for_scheme_credentials_and_address() {
        let public = settings(false);
        let refusal =
            |url: &'static str, settings: Settings| async move { check_url(url, &settings).await.unwrap_err() };
        assert!(refusal("http://1.1.1.1/hook", public.clone()).await.contains("https://"));
        assert!(refusal("ftp://example.com/", settings(true)).await.contains("https://"));
        assert!(refusal("https://user:pw@1.1.1.1/", public.clone()).await.contains("credentials"));
        assert!(refusal("https://127.0.0.1/", public.clone()).await.contains("public"));
        assert!(refusal("https://[::1]:8443/", public.clone()).await.contains("public"));
        assert!(refusal("https://169.254.169.254/latest/meta-data", public.clone()).await.contains("public"));
        assert!(refusal("https://localhost/", public.clone()).await.contains("public"));
        assert!(refusal("not a url", public.clone()).await.contains("not valid"));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert!(check_url(&long, &public).await.unwrap_err().contains("longer"));
        assert!(check_url("https://1.1.1.1/hook", &public).await.is_ok());
        assert!(check_url("http://127.0.0.1:9/hook", &settings(true)).await.is_ok());
    }

    #[tokio::test]
    async fn the_resolver_answers_public_addresses_only() {
        let name: Name = "localhost".parse().unwrap();
        let refused = PublicOnly.resolve(name).await.err().expect("localhost is not public");
        assert!(refused.to_string().contains("no public internet address"), "{refused}");
    }
}
