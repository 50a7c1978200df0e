//! Starts smtp_sink.py (aiosmtpd) on a free loopback port and reads what it received.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sink {
    pub port: u16,
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
    child: Option<Child>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Sink {
    /// A sink that is not running yet: its port is reserved, nothing listens.
    pub fn stopped() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        Sink {
            port: free_port(),
            dir: tmp.path().join("mail"),
            _tmp: tmp,
            child: None,
        }
    }

    pub fn start() -> Self {
        let mut s = Self::stopped();
        s.run();
        s
    }

    pub fn run(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mail/smtp_sink.py");
        let mut child = Command::new("python3")
            .args([script, "--port", &self.port.to_string(), "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (scripts/test.sh installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("ready"),
            "smtp sink did not start: {line:?}"
        );
        self.child = Some(child);
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The recipients of every conversation that reached RCPT, in order (tries, not messages).
    pub fn rcpt_tries(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("rcpt.log"))
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Every message received, oldest first, as raw text.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} emails arrived",
                m.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The decoded text of a message's parts (quoted-printable and base64 undone).
pub fn decoded(raw: &str) -> String {
    let mut out = String::new();
    let lines = raw.split("\r\n");
    let mut encoding = String::new();
    let mut in_body = false;
    let mut body = String::new();
    let flush = |enc: &str, body: &mut String, out: &mut String| {
        if enc.contains("base64") {
            use base64::Engine;
            let joined: String = body.split_whitespace().collect();
            if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(joined) {
                out.push_str(&String::from_utf8_lossy(&b));
            }
        } else if enc.contains("quoted-printable") {
            let bytes = quoted_printable(body);
            out.push_str(&String::from_utf8_lossy(&bytes));
        } else {
            out.push_str(body);
        }
        out.push('\n');
        body.clear();
    };
    for l in lines {
        let lower = l.to_ascii_lowercase();
        if lower.starts_with("content-transfer-encoding:") {
            encoding = lower;
            in_body = false;
        } else if l.is_empty() && !encoding.is_empty() && !in_body {
            in_body = true;
        } else if l.starts_with("--") && in_body {
            flush(&encoding, &mut body, &mut out);
            in_body = false;
            encoding.clear();
        } else if in_body {
            body.push_str(l);
            body.push_str("\r\n");
        }
    }
    if in_body {
        flush(&encoding, &mut body, &mut out);
    }
    out.replace("\r\n", "\n")
}

fn quoted_printable(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() + 1 {
            if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            if let (Some(h), Some(l)) = (b.get(i + 1), b.get(i + 2)) {
                if let Ok(v) = u8::from_str_radix(&format!("{}{}", *h as char, *l as char), 16) {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The value of a top-level header (first occurrence, unfolded).
pub fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next()?;
    let mut value: Option<String> = None;
    for line in head.split("\r\n") {
        if let Some(v) = value.as_mut() {
            if line.starts_with(' ') || line.starts_with('\t') {
                v.push(' ');
                v.push_str(line.trim_start());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case(name) {
                value = Some(v.trim().to_string());
            }
        }
    }
    value
}

/// Every top-level header name, in order.
pub fn header_names(raw: &str) -> Vec<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or("");
    head.split("\r\n")
        .filter(|l| !l.starts_with(' ') && !l.starts_with('\t'))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_ascii_lowercase()))
        .collect()
}
