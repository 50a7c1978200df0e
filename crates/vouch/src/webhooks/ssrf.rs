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

/// Is `s` made of what a URI (RFC 3986) may hold: unreserved and reserved characters (`[` and `]`
/// only around an IPv6 host, one `#`), and `%` followed by two hex digits? Anything else must be
/// percent-encoded by the sender. The error is the first character that is not.
pub fn uri_text(s: &str) -> Result<(), char> {
    let bytes = s.as_bytes();
    let authority_start = s.find("//").map_or(0, |i| i + 2);
    let authority_end = s[authority_start..]
        .find(['/', '?', '#'])
        .map_or(s.len(), |i| authority_start + i);
    let fragment = s.find('#');
    for (i, c) in s.char_indices() {
        let ok = match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' => true,
            '-' | '.' | '_' | '~' | ':' | '/' | '?' | '@' => true,
            '#' => fragment == Some(i),
            '[' | ']' => (authority_start..authority_end).contains(&i),
            '!' | '$' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' | ';' | '=' => true,
            '%' => bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
            _ => false,
        };
        if !ok {
            return Err(c);
        }
    }
    Ok(())
}

/// Letters, digits, `-`, `.` and `_`: what a host name (IDNs in their `xn--` form) is made of.
pub fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
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
    if let Err(c) = uri_text(url) {
        return Err(UrlRejection::Malformed(format!(
            "{c:?} is not allowed in a URL; percent-encode it"
        )));
    }
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
        Some(url::Host::Domain(d)) if !is_host_name(d) => {
            return Err(UrlRejection::Malformed(format!("{d:?} is not a host name")))
        }
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
mod tests;

#[cfg(test)]
mod arbitrary_urls {
    use super::*;

    proptest::proptest! {
        /// Any text as a destination URL: accepted only as an http(s) URL to a public host,
        /// refused with a reason otherwise, never a panic.
        #[test]
        fn arbitrary_text_is_accepted_or_refused_never_a_panic(s in "\\PC{0,80}") {
            if let Ok(u) = check_url(&s, false) {
                proptest::prop_assert!(matches!(u.scheme(), "http" | "https"), "{u}");
                proptest::prop_assert!(u.host().is_some(), "{u}");
            }
        }

        #[test]
        fn arbitrary_hosts_after_a_scheme(host in "[ -~]{0,40}", https in proptest::bool::ANY) {
            let scheme = if https { "https" } else { "http" };
            let _ = check_url(&format!("{scheme}://{host}/hook"), false);
            let _ = check_url(&format!("{scheme}://{host}/hook"), true);
        }
    }
}
