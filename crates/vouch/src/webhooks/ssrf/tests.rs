//! The guard's tests: refusals, resolution, redirects and body caps, on loopback only.
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
        (
            "http://\t/nohost",
            Malformed("'\\t' is not allowed in a URL; percent-encode it".into()),
        ),
        (
            "https://x:7318/\u{af}n",
            Malformed("'¯' is not allowed in a URL; percent-encode it".into()),
        ),
        (
            "https://example.com/a|b",
            Malformed("'|' is not allowed in a URL; percent-encode it".into()),
        ),
        (
            "https://example.com/%4",
            Malformed("'%' is not allowed in a URL; percent-encode it".into()),
        ),
        (
            "https://example.com/#a#b",
            Malformed("'#' is not allowed in a URL; percent-encode it".into()),
        ),
        (
            "https://example.com/[x]",
            Malformed("'[' is not allowed in a URL; percent-encode it".into()),
        ),
        (
            "https://ex*ample.com/",
            Malformed("\"ex*ample.com\" is not a host name".into()),
        ),
        (
            " http://example.com/",
            Malformed("' ' is not allowed in a URL; percent-encode it".into()),
        ),
        (
            "http:example.com",
            Malformed("expected scheme://host".into()),
        ),
    ];
    for (url, want) in table {
        assert_eq!(check_url(url, false), Err(want), "{url}");
    }
    assert!(matches!(check_url("not a url", false), Err(Malformed(_))));
    // What RFC 3986 allows stays allowed: IPv6 hosts, escapes, sub-delims, one fragment.
    for ok in [
        "https://[2001:4860::8888]:8443/a?b=c",
        "https://example.com/a%20b/c;d=e?f=g&h=i+j#k/l?m",
        "https://my_host.example.com/~x/(y)*,!$'",
    ] {
        assert!(check_url(ok, false).is_ok(), "{ok}");
    }
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
