//! SSRF guard for webhook deliveries (API.md §5): destination URLs must be http(s), and
//! deliveries to loopback, private, link-local and other non-public addresses are refused unless
//! the server is configured to allow them.
//!
//! Two layers:
//! - [`check_url`] is a static check, run when a destination is created/updated **and before every
//!   send**. reqwest never calls the DNS resolver for IP-literal URLs (`http://127.0.0.1/`), so
//!   this is the only place IP literals are judged.
//! - [`GuardedResolver`], installed by [`client`], judges the addresses a host name resolves to at
//!   connect time. reqwest connects only to the addresses the resolver returns, so DNS rebinding
//!   (public at check time, private at send time) cannot bypass the guard.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why a destination URL (or the address it resolves to) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRejection {
    #[error("destination URL scheme must be http or https")]
    Scheme,
    #[error("destination URL has no host")]
    NoHost,
    #[error("destination URL must not contain credentials (user:pass@)")]
    Credentials,
    #[error("destination {0} is not a public address (SSRF guard)")]
    NonPublicAddress(String),
    #[error("destination host {0} could not be resolved (SSRF guard)")]
    Unresolvable(String),
    #[error("malformed destination URL: {0}")]
    Malformed(String),
}

fn v4_in(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn v6_in(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn v4_is_public(ip: Ipv4Addr) -> bool {
    const BLOCKED: &[([u8; 4], u32)] = &[
        ([0, 0, 0, 0], 8),       // "this network", includes 0.0.0.0
        ([10, 0, 0, 0], 8),      // private
        ([100, 64, 0, 0], 10),   // CGNAT
        ([127, 0, 0, 0], 8),     // loopback
        ([169, 254, 0, 0], 16),  // link-local (cloud metadata)
        ([172, 16, 0, 0], 12),   // private
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // TEST-NET-1
        ([192, 88, 99, 0], 24),  // deprecated 6to4 relay anycast
        ([192, 168, 0, 0], 16),  // private
        ([198, 18, 0, 0], 15),   // benchmarking
        ([198, 51, 100, 0], 24), // TEST-NET-2
        ([203, 0, 113, 0], 24),  // TEST-NET-3
        ([224, 0, 0, 0], 4),     // multicast
        ([240, 0, 0, 0], 4),     // reserved, includes broadcast 255.255.255.255
    ];
    !BLOCKED.iter().any(|&(net, prefix)| v4_in(ip, net, prefix))
}

fn v6_is_public(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    // IPv4-mapped ::ffff:a.b.c.d: judge the embedded address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_is_public(v4);
    }
    // NAT64 well-known prefix 64:ff9b::/96: judge the embedded address.
    if v6_in(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        let o = ip.octets();
        return v4_is_public(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    // 6to4 2002::/16: judge the embedded address (bits 16..48).
    if seg[0] == 0x2002 {
        let v4 = (u32::from(seg[1]) << 16) | u32::from(seg[2]);
        return v4_is_public(Ipv4Addr::from(v4));
    }
    const BLOCKED: &[([u16; 8], u32)] = &[
        ([0, 0, 0, 0, 0, 0, 0, 0], 96), // ::, ::1, IPv4-compatible ::a.b.c.d
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64), // discard-only
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF assignments, includes Teredo 2001::/32
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), // unique-local
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), // link-local
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), // site-local (deprecated)
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), // multicast
    ];
    if BLOCKED.iter().any(|&(net, prefix)| v6_in(ip, net, prefix)) {
        return false;
    }
    // Only 2000::/3 is allocated as global unicast; everything else is reserved.
    v6_in(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3)
}

/// Is this address publicly routable? `false` for loopback, private, link-local, CGNAT,
/// unspecified, `0/8`, broadcast, multicast, documentation, benchmarking, reserved (`240/4`),
/// IETF `192.0.0/24`, unique-local, site-local, IPv4-compatible, Teredo and discard addresses.
/// IPv4-mapped, NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`) addresses are judged by their
/// embedded IPv4 address. IPv6 outside `2000::/3` (global unicast) is never public.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_is_public(v4),
        IpAddr::V6(v6) => v6_is_public(v6),
    }
}

/// Static check of a destination URL, used when a destination is created/updated and **before
/// each send**: scheme http/https only, a host is required, userinfo (`user:pass@`) is refused,
/// and an IP-literal host must be public unless `allow_private`. The url crate normalizes
/// decimal/octal/hex IPv4 forms (`http://2130706433/`, `http://0177.0.0.1/`) to dotted form first.
///
/// Host names are accepted here; the addresses they resolve to are judged at connect time by
/// [`GuardedResolver`]. reqwest does not call the resolver for IP-literal URLs, so callers must run
/// this check before every send, not only when the destination is saved.
pub fn check_url(url: &str, allow_private: bool) -> Result<url::Url, UrlRejection> {
    let parsed = url::Url::parse(url).map_err(|e| match e {
        url::ParseError::EmptyHost => UrlRejection::NoHost,
        other => UrlRejection::Malformed(other.to_string()),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(UrlRejection::Scheme);
    }
    // The url crate is lenient with special schemes (`http:///x` and `http:x` become `http://x/`,
    // an empty `@` is dropped), so the raw authority is inspected as well, after the same
    // preprocessing as the URL standard (trim C0/space, drop ASCII tab and newline).
    let cleaned: String = url
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let rest = cleaned.split_once(':').map_or("", |(_, rest)| rest);
    let Some(authority) = rest.strip_prefix("//") else {
        return Err(UrlRejection::Malformed("expected scheme://host".into()));
    };
    let authority = authority.split(['/', '\\', '?', '#']).next();
    let authority = authority.unwrap_or_default();
    if authority.is_empty() {
        return Err(UrlRejection::NoHost);
    }
    if authority.contains('@') || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlRejection::Credentials);
    }
    let ip = match parsed.host() {
        None => return Err(UrlRejection::NoHost),
        Some(url::Host::Domain("")) => return Err(UrlRejection::NoHost),
        Some(url::Host::Domain(_)) => return Ok(parsed),
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
    };
    if !allow_private && !is_public(ip) {
        return Err(UrlRejection::NonPublicAddress(ip.to_string()));
    }
    Ok(parsed)
}

/// A reqwest DNS resolver that resolves with tokio's `lookup_host` and drops every non-public
/// address (unless `allow_private`). If nothing acceptable remains it fails with a
/// [`UrlRejection`] naming the host. reqwest connects only to the addresses returned here, so DNS
/// rebinding cannot bypass the check. Note that reqwest does not call the resolver at all for
/// IP-literal URLs; those are covered by [`check_url`], which callers run before every send.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let mut resolved = lookup(&host).await;
            // An absolute name ("localhost.") that the system resolver cannot find is retried
            // without the root dot, as curl and browsers do; the result is filtered all the same.
            if resolved.is_empty() {
                if let Some(relative) = host.strip_suffix('.').filter(|h| !h.is_empty()) {
                    resolved = lookup(relative).await;
                }
            }
            if resolved.is_empty() {
                return Err(UrlRejection::Unresolvable(host).into());
            }
            let kept: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if kept.is_empty() {
                tracing::warn!(%host, addrs = ?resolved, "webhook destination resolves only to non-public addresses");
                return Err(UrlRejection::NonPublicAddress(host).into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

async fn lookup(host: &str) -> Vec<SocketAddr> {
    match tokio::net::lookup_host((host, 0)).await {
        Ok(addrs) => addrs.collect(),
        Err(e) => {
            tracing::debug!(%host, error = %e, "webhook destination lookup failed");
            Vec::new()
        }
    }
}

/// Finds the [`UrlRejection`] (raised by [`GuardedResolver`]) in a reqwest error's source chain.
pub fn rejection_of(err: &reqwest::Error) -> Option<&UrlRejection> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(r) = e.downcast_ref::<UrlRejection>() {
            return Some(r);
        }
        source = e.source();
    }
    None
}

/// A reqwest client for webhook deliveries: redirects are not followed, the [`GuardedResolver`]
/// is installed, `timeout` per request, connect timeout `min(timeout, 10s)`, no proxy. The user
/// agent is left to the caller. IP-literal URLs bypass the resolver: run [`check_url`] before
/// every send.
pub fn client(allow_private: bool, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(GuardedResolver { allow_private }))
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .no_proxy()
        .pool_max_idle_per_host(32)
        .tcp_nodelay(true)
        .build()
}

/// Reads at most `cap` bytes of a response body (streaming, stopping early) and returns them
/// lossily decoded as UTF-8. A body error ends the read with whatever was received so far.
pub async fn read_capped(mut resp: reqwest::Response, cap: usize) -> String {
    let mut buf: Vec<u8> = Vec::with_capacity(cap.min(64 * 1024));
    while buf.len() < cap {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let take = (cap - buf.len()).min(chunk.len());
                buf.extend_from_slice(&chunk[..take]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[test]
    fn is_public_table() {
        let non_public = "127.0.0.1 127.255.0.9 10.1.2.3 172.16.0.1 172.31.255.255 192.168.1.1 \
            169.254.169.254 100.64.0.1 100.127.255.254 0.0.0.0 0.1.2.3 255.255.255.255 224.0.0.1 \
            239.1.1.1 192.0.2.5 198.51.100.7 203.0.113.9 198.18.0.1 198.19.255.255 240.0.0.1 \
            192.0.0.8 ::1 :: fe80::1 febf::1 fc00::1 fd12:3456::1 fec0::1 ff02::1 2001:db8::1 \
            ::ffff:127.0.0.1 ::ffff:10.0.0.1 ::ffff:169.254.169.254 ::8.8.8.8 ::127.0.0.1 \
            64:ff9b::7f00:1 64:ff9b::a00:1 2002:7f00:1::1 2002:c0a8:101:: 2001::1 \
            2001:0:4136:e378:8000:63bf:3fff:fdd2 100::1 100::ffff:ffff:ffff:ffff 4000::1";
        for s in non_public.split_whitespace() {
            assert!(!is_public(s.parse().unwrap()), "{s} must not be public");
        }
        let public = "8.8.8.8 1.1.1.1 172.32.0.1 100.128.0.1 192.0.3.1 2606:4700:4700::1111 \
            2001:4860:4860::8888 ::ffff:8.8.8.8 64:ff9b::808:808 2002:808:808::1";
        for s in public.split_whitespace() {
            assert!(is_public(s.parse().unwrap()), "{s} must be public");
        }
    }

    #[test]
    fn check_url_refusals() {
        use UrlRejection::*;
        let np = |s: &str| NonPublicAddress(s.to_string());
        let table: Vec<(&str, UrlRejection)> = vec![
            ("http://127.0.0.1/", np("127.0.0.1")),
            ("http://[::1]/", np("::1")),
            ("http://[::ffff:127.0.0.1]/", np("::ffff:127.0.0.1")),
            (
                "http://169.254.169.254/latest/meta-data",
                np("169.254.169.254"),
            ),
            ("http://10.1.2.3/", np("10.1.2.3")),
            ("http://0.0.0.0/", np("0.0.0.0")),
            ("http://2130706433/", np("127.0.0.1")),
            ("http://0177.0.0.1/", np("127.0.0.1")),
            ("http://0x7f.1/", np("127.0.0.1")),
            ("https://[fd00::1]:8443/x", np("fd00::1")),
            ("http://user:pass@example.com/", Credentials),
            ("http://user@example.com/", Credentials),
            ("http://:pw@example.com/", Credentials),
            ("http://@example.com/", Credentials),
            ("http://example.com@127.0.0.1/", Credentials),
            ("ftp://example.com/", Scheme),
            ("file:///etc/passwd", Scheme),
            ("javascript:alert(1)", Scheme),
            ("http:///nohost", NoHost),
            ("http://", NoHost),
            ("http://\t/nohost", NoHost),
            (
                "http:example.com",
                Malformed("expected scheme://host".into()),
            ),
        ];
        for (url, want) in table {
            assert_eq!(check_url(url, false), Err(want), "{url}");
        }
        assert!(matches!(check_url("not a url", false), Err(Malformed(_))));
        // The userinfo trick really targets loopback.
        let u = url::Url::parse("http://example.com@127.0.0.1/").unwrap();
        assert_eq!(u.host_str(), Some("127.0.0.1"));
        // Credentials are refused even when private addresses are allowed.
        assert_eq!(check_url("http://a:b@127.0.0.1/", true), Err(Credentials));
    }

    #[test]
    fn check_url_accepts() {
        for url in [
            "https://example.com/hook",
            "http://8.8.8.8:8080/x?y=1",
            "https://[2606:4700:4700::1111]/",
            "https://localhost/", // host names are judged at connect time
        ] {
            assert!(check_url(url, false).is_ok(), "{url}");
        }
        for url in ["http://127.0.0.1:9/", "http://[::1]/", "http://10.0.0.1/"] {
            assert!(check_url(url, true).is_ok(), "{url}");
        }
    }

    #[tokio::test]
    async fn resolver_drops_non_public() {
        let name = || "localhost".parse().unwrap();
        let err = GuardedResolver {
            allow_private: false,
        }
        .resolve(name())
        .await;
        let err = err.err().unwrap();
        let rej = err.downcast_ref::<UrlRejection>().unwrap();
        assert_eq!(rej, &UrlRejection::NonPublicAddress("localhost".into()));
        let open = GuardedResolver {
            allow_private: true,
        }
        .resolve(name())
        .await;
        let addrs: Vec<_> = open.unwrap().collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }

    /// Accepts connections forever; answers each request with `response`; counts connections.
    async fn serve(response: Vec<u8>) -> (u16, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                counter.fetch_add(1, SeqCst);
                let response = response.clone();
                tokio::spawn(async move {
                    let mut req = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = sock.write_all(&response).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        (port, hits)
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

    #[tokio::test]
    async fn name_resolving_to_loopback_is_refused_at_connect() {
        let (port, hits) = serve(OK.to_vec()).await;
        let c = client(false, Duration::from_secs(2)).unwrap();
        for host in ["localhost.", "localhost"] {
            let url = format!("http://{host}:{port}/");
            assert!(
                check_url(&url, false).is_ok(),
                "names pass the static check"
            );
            let err = c.post(&url).send().await.unwrap_err();
            assert_eq!(
                rejection_of(&err),
                Some(&UrlRejection::NonPublicAddress(host.to_string())),
                "{err:?}"
            );
            let mut chain = String::new();
            let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&err);
            while let Some(e) = src {
                chain.push_str(&format!("{e}: "));
                src = e.source();
            }
            assert!(chain.contains("is not a public address"), "{chain}");
        }
        assert_eq!(hits.load(SeqCst), 0);
    }

    #[tokio::test]
    async fn loopback_reached_when_private_allowed() {
        let (port, hits) = serve(OK.to_vec()).await;
        let c = client(true, Duration::from_secs(5)).unwrap();
        for host in ["127.0.0.1", "localhost"] {
            let url = format!("http://{host}:{port}/hook");
            check_url(&url, true).unwrap();
            let resp = c.post(&url).body("{}").send().await.unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(read_capped(resp, 1024).await, "ok");
        }
        assert!(hits.load(SeqCst) >= 1);
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let (port2, hits2) = serve(OK.to_vec()).await;
        let redirect = format!(
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{port2}/\r\ncontent-length: 0\r\n\r\n"
        );
        let (port1, hits1) = serve(redirect.into_bytes()).await;
        let c = client(true, Duration::from_secs(5)).unwrap();
        let resp = c
            .post(format!("http://127.0.0.1:{port1}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(hits1.load(SeqCst), 1);
        assert_eq!(hits2.load(SeqCst), 0);
    }

    #[tokio::test]
    async fn read_capped_stops_at_cap() {
        let body = "x".repeat(1 << 20);
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let (port, _) = serve(resp.into_bytes()).await;
        let c = client(true, Duration::from_secs(5)).unwrap();
        let url = format!("http://127.0.0.1:{port}/");
        let got = read_capped(c.get(&url).send().await.unwrap(), 1000).await;
        assert_eq!(got.len(), 1000);
        assert!(got.bytes().all(|b| b == b'x'));
        let got = read_capped(c.get(&url).send().await.unwrap(), 0).await;
        assert!(got.is_empty());
    }
}
