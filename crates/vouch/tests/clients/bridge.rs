//! A client of Didit's, run as its own process (Node for the MCP server, Python for the SDK),
//! spoken to one JSON line at a time, and the scoreboard of the calls it made.

use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

pub struct Bridge {
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    /// The first line the bridge printed (`{"ready": true, …}`).
    pub hello: Value,
}

/// Whether the clients may be missing here: only off CI (under `CI=true` a missing client is a
/// failure, never a skip).
pub fn may_skip(what: &str) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "CI=true and {what} is not installed (scripts/test.sh installs it)"
    );
    eprintln!("skipping: {what} is not installed (scripts/test.sh installs it)");
    true
}

impl Bridge {
    pub async fn start(program: &str, args: &[&str]) -> Bridge {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        let stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
            .await
            .expect("the client started in time")
            .unwrap()
            .expect("the client's first line");
        Bridge {
            _child: child,
            stdin,
            lines,
            hello: serde_json::from_str(&first).expect("JSON"),
        }
    }

    pub async fn ask(&mut self, request: Value) -> Value {
        let mut line = request.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
        let got = tokio::time::timeout(std::time::Duration::from_secs(60), self.lines.next_line())
            .await
            .expect("the client answered in time")
            .unwrap()
            .expect("an answer");
        serde_json::from_str(&got).expect("JSON")
    }
}

/// Each call a client made and whether it worked as Didit documents it.
#[derive(Default)]
pub struct Scoreboard {
    pub rows: Vec<(String, bool, String)>,
}

impl Scoreboard {
    pub fn record(&mut self, call: &str, works: bool, note: impl Into<String>) {
        self.rows.push((call.to_string(), works, note.into()));
    }

    /// The calls that did not work are exactly `expected` (the surface not built yet): any
    /// other failure fails the test, and so does a call of `expected` that starts working.
    pub fn assert_failing_exactly(&self, expected: &[&str]) {
        let mut failing: Vec<&str> = self
            .rows
            .iter()
            .filter(|r| !r.1)
            .map(|r| r.0.as_str())
            .collect();
        failing.sort();
        let mut expected = expected.to_vec();
        expected.sort();
        assert_eq!(failing, expected, "{:#?}", self.rows);
    }

    pub fn working(&self) -> usize {
        self.rows.iter().filter(|r| r.1).count()
    }

    /// The board as markdown, printed and kept in target/clients/NAME.md.
    pub fn publish(&self, name: &str) {
        let mut md = format!("| {name} call | works | note |\n|---|---|---|\n");
        for (call, works, note) in &self.rows {
            md.push_str(&format!(
                "| `{call}` | {} | {} |\n",
                if *works { "yes" } else { "no" },
                note.replace('|', "\\|").replace('\n', " ")
            ));
        }
        md.push_str(&format!(
            "\n{} of {} calls work.\n",
            self.working(),
            self.rows.len()
        ));
        eprintln!("{md}");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/clients");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.md")), md).unwrap();
    }
}

/// Waits (up to 20 s) for an import job to be COMPLETED or FAILED; answers its last state.
pub async fn settled(t: &crate::common::TestServer, import_id: &str) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..400 {
        let (s, j) = t.get(&format!("/v3/session/imports/{import_id}/")).await;
        if s != 200 {
            return j;
        }
        if j["status"] == "COMPLETED" || j["status"] == "FAILED" {
            return j;
        }
        last = j;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    last
}
