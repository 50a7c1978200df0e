//! The real `vouch` binary for crash tests: CLI calls and a `serve` process that is SIGKILLed
//! when dropped, so a failing test leaves no process behind.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_vouch");

/// `vouch` with a clean environment, run in `dir` with `VOUCH_DATA_DIR=dir`.
pub fn vouch(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("VOUCH_") {
            c.env_remove(&k);
        }
    }
    c.env("VOUCH_DATA_DIR", dir).env("RUST_LOG", "info");
    // Load from one key: rate limits too high to bite (they have their own tests).
    for (k, v) in UNLIMITED {
        c.env(k, v);
    }
    c
}

/// The environment that lifts every rate limit out of reach, the counters still running.
pub const UNLIMITED: [(&str, &str); 6] = [
    ("VOUCH_RATE_LIMIT__PER_KEY", "1000000000"),
    ("VOUCH_RATE_LIMIT__SESSION_CREATE", "1000000000"),
    ("VOUCH_RATE_LIMIT__DECISION", "1000000000"),
    ("VOUCH_RATE_LIMIT__PDF", "1000000000"),
    ("VOUCH_RATE_LIMIT__UNAUTHENTICATED", "1000000000"),
    ("VOUCH_RATE_LIMIT__PERSON_PAGES", "1000000000"),
];

/// Runs a CLI command that must succeed; answers its stdout.
pub fn cli(dir: &Path, args: &[&str]) -> String {
    let out = vouch(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run vouch");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "vouch {args:?} failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs a CLI command that must succeed; answers its stdout parsed as JSON.
pub fn cli_json(dir: &Path, args: &[&str]) -> Value {
    let out = cli(dir, args);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("vouch {args:?}: {e}: {out}"))
}

/// A running `vouch serve` on a free loopback port.
pub struct Server {
    child: Child,
    pub base: String,
    log: PathBuf,
}

impl Server {
    /// Starts `vouch serve` in `dir` with these extra environment variables; stderr goes to
    /// `dir/log_name`.
    pub fn start(dir: &Path, log_name: &str, env: &[(&str, String)]) -> Server {
        Self::start_args(dir, log_name, &["serve"], env)
    }

    /// As `start`, with these arguments (e.g. `["serve", "--worker"]`).
    pub fn start_args(dir: &Path, log_name: &str, args: &[&str], env: &[(&str, String)]) -> Server {
        let log = dir.join(log_name);
        let stderr = std::fs::File::create(&log).expect("server log");
        let mut cmd = vouch(dir);
        cmd.args(args).env("VOUCH_LISTEN", "127.0.0.1:0");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn vouch serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut server = Server {
            child,
            base: String::new(),
            log,
        };
        let (tx, rx) = mpsc::channel::<String>();
        // Reads stdout to its end, so the pipe never fills.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("vouch listening on http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(addr) => server.base = format!("http://{addr}"),
            Err(e) => panic!(
                "vouch serve did not report its address ({e}); its log:\n{}",
                server.log_text()
            ),
        }
        server
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process has ended on its own.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, without waiting.
    pub fn sigkill(&mut self) {
        let _ = self.child.kill();
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        self.sigkill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
