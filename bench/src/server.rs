//! Starts a real `vouch serve` on a fresh data folder and learns its address and key; or several
//! nodes on one PostgreSQL database, each on its own port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct Server {
    pub addr: SocketAddr,
    pub key: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Server {
    pub async fn start(
        binary: &Path,
        database_url: Option<&str>,
        extra_env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        Self::start_command(binary, "serve", database_url, extra_env).await
    }

    /// Starts `vouch <command>` (`serve`, or the benchmark's `serve-bare`) on an empty database:
    /// it must print its bootstrap key.
    pub async fn start_command(
        binary: &Path,
        command: &str,
        database_url: Option<&str>,
        extra_env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let (server, key) = Self::launch(binary, command, database_url, extra_env).await?;
        let key = key.context("vouch printed no bootstrap key (use an empty database)")?;
        Ok(Self { key, ..server })
    }

    /// Starts `vouch <command>`; answers the server (its `key` empty) and the key it printed, if
    /// any (a node started on a database that already has an application prints none).
    async fn launch(
        binary: &Path,
        command: &str,
        database_url: Option<&str>,
        extra_env: &[(String, String)],
    ) -> anyhow::Result<(Self, Option<String>)> {
        let dir = tempfile::tempdir()?;
        let mut cmd = Command::new(binary);
        cmd.arg(command)
            .current_dir(dir.path())
            .env("VOUCH_LISTEN", "127.0.0.1:0")
            .env("VOUCH_DATA_DIR", dir.path())
            .env("RUST_LOG", "warn")
            // Benchmarks load one key far past the default limits: set out of reach, with
            // the counters still running so that their cost is measured.
            .env("VOUCH_RATE_LIMIT__PER_KEY", "1000000000")
            .env("VOUCH_RATE_LIMIT__SESSION_CREATE", "1000000000")
            .env("VOUCH_RATE_LIMIT__DECISION", "1000000000")
            .env("VOUCH_RATE_LIMIT__PDF", "1000000000")
            .env("VOUCH_RATE_LIMIT__UNAUTHENTICATED", "1000000000")
            .env("VOUCH_RATE_LIMIT__CONSOLE_PAGES", "1000000000")
            .env("VOUCH_RATE_LIMIT__PERSON_PAGES", "1000000000")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(url) = database_url {
            cmd.env("VOUCH_DATABASE_URL", url);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut key = None;
        let addr = loop {
            let Some(line) = lines.next_line().await? else {
                bail!("vouch exited before listening");
            };
            if let Some(k) = line.split_whitespace().find(|w| w.starts_with("vk_")) {
                key = Some(k.to_string());
            }
            if let Some(rest) = line.strip_prefix("vouch listening on http://") {
                let addr = rest.split_whitespace().next().unwrap_or_default();
                break addr.parse::<SocketAddr>()?;
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok((
            Self {
                addr,
                key: String::new(),
                child,
                _dir: dir,
            },
            key,
        ))
    }

    /// Starts `vouch serve` on a database that has its application already, with its key.
    pub async fn start_existing(
        binary: &Path,
        database_url: &str,
        extra_env: &[(String, String)],
        key: &str,
    ) -> anyhow::Result<Self> {
        let (server, _) = Self::launch(binary, "serve", Some(database_url), extra_env).await?;
        Ok(Self {
            key: key.to_string(),
            ..server
        })
    }

    /// The SQLite file of a server started without a database URL.
    pub fn db_path(&self) -> std::path::PathBuf {
        self._dir.path().join("vouch.db")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// `vouch serve` nodes sharing one database. The first starts alone (it applies the migrations
/// and creates the application and key); the others start after it and use its key.
pub struct Cluster {
    pub nodes: Vec<Server>,
}

impl Cluster {
    pub async fn start(
        binary: &Path,
        database_url: Option<&str>,
        extra_env: &[(String, String)],
        nodes: usize,
    ) -> anyhow::Result<Self> {
        let first = Server::start(binary, database_url, extra_env).await?;
        let key = first.key.clone();
        let mut all = vec![first];
        for n in 1..nodes.max(1) {
            let (node, printed) = Server::launch(binary, "serve", database_url, extra_env)
                .await
                .with_context(|| format!("starting node {}", n + 1))?;
            if printed.is_some() {
                bail!(
                    "node {} printed a bootstrap key: it does not share the first node's database",
                    n + 1
                );
            }
            all.push(Server {
                key: key.clone(),
                ..node
            });
        }
        Ok(Self { nodes: all })
    }

    /// The first node (preparation goes through it).
    pub fn first(&self) -> &Server {
        &self.nodes[0]
    }

    pub fn key(&self) -> &str {
        &self.first().key
    }

    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr).collect()
    }

    pub async fn stop(self) {
        for n in self.nodes {
            n.stop().await;
        }
    }
}

/// `target/release/vouch` next to this benchmark's own binary.
pub fn default_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("vouch")))
        .unwrap_or_else(|| PathBuf::from("target/release/vouch"))
}
