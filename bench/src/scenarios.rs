//! The workloads: prepared sessions, then update-status, create, decision and list streams.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{ensure, Context};
use hyper::Method;
use serde_json::{json, Value};

use crate::client::Conn;
use crate::load::{Stream, StreamFactory};

pub struct Prepared {
    pub workflow_id: String,
    /// Decided sessions and their status (`Approved`/`Declined`).
    pub sessions: Vec<(String, String)>,
    /// The `session_token`s of sessions half done (the document recorded, the selfie still to
    /// do): the person's page of each shows its steps.
    pub pages: Vec<String>,
}

/// Sessions being completed at once in the person-page scenario.
const PAGE_SESSIONS: usize = 200;

/// Creates a workflow and `n` decided sessions (half Approved, half Declined).
pub async fn prepare(addr: SocketAddr, key: &str, n: usize) -> anyhow::Result<Prepared> {
    let mut c = Conn::open(addr, key).await?;
    let (s, wf) = c
        .json(
            Method::POST,
            "/v3/workflows/",
            Some(&json!({"workflow_label": "bench", "is_default": true,
                "features": [{"feature": "OCR"}, {"feature": "LIVENESS"}]})),
        )
        .await?;
    ensure!(s == 201, "creating the workflow answered {s}: {wf}");
    let workflow_id = wf["uuid"].as_str().context("workflow uuid")?.to_string();
    let workers = 16.min(n.max(1));
    let mut tasks = Vec::new();
    for w in 0..workers {
        let key = key.to_string();
        let wf = workflow_id.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(addr, &key).await?;
            let mut out = Vec::new();
            for i in (w..n).step_by(workers) {
                let (s, b) = c
                    .json(Method::POST, "/v3/session/", Some(&json!({"workflow_id": wf, "vendor_data": format!("bench-{i}")})))
                    .await?;
                ensure!(s == 201, "create session answered {s}: {b}");
                let sid = b["session_id"].as_str().context("session_id")?.to_string();
                let last = if i % 2 == 0 { "Approved" } else { "Declined" };
                for (node, status) in [("feature_ocr_1", "Approved"), ("feature_liveness_1", last)] {
                    let (s, b) = c
                        .json(Method::POST, &format!("/v3/session/{sid}/attempts/"),
                            Some(&json!({"node_id": node, "status": status, "data": {"issuing_state": "ESP", "first_name": "Bench"}})))
                        .await?;
                    ensure!(s == 201, "attempt answered {s}: {b}");
                }
                out.push((sid, last.to_string()));
            }
            anyhow::Ok(out)
        }));
    }
    let mut sessions = Vec::with_capacity(n);
    for t in tasks {
        sessions.extend(t.await??);
    }
    // The first connection sat idle while the workers ran: the server may have closed it.
    let mut c = Conn::open(addr, key).await?;
    let mut pages = Vec::with_capacity(PAGE_SESSIONS);
    for i in 0..PAGE_SESSIONS {
        let (s, b) = c
            .json(
                Method::POST,
                "/v3/session/",
                Some(
                    &json!({"workflow_id": workflow_id, "vendor_data": format!("bench-page-{i}")}),
                ),
            )
            .await?;
        ensure!(s == 201, "create session answered {s}: {b}");
        let sid = b["session_id"].as_str().context("session_id")?;
        let (s, a) = c
            .json(
                Method::POST,
                &format!("/v3/session/{sid}/attempts/"),
                Some(&json!({"node_id": "feature_ocr_1", "status": "Approved"})),
            )
            .await?;
        ensure!(s == 201, "attempt answered {s}: {a}");
        pages.push(
            b["session_token"]
                .as_str()
                .context("session_token")?
                .to_string(),
        );
    }
    Ok(Prepared {
        workflow_id,
        sessions,
        pages,
    })
}

/// update-status over a connection's own slice of sessions, so every request is a real change.
struct UpdateStatus {
    sessions: Vec<(String, String, u32)>,
    next: usize,
    mix: bool,
}

impl Stream for UpdateStatus {
    fn next(&mut self) -> (Method, String, Option<Value>) {
        let i = self.next % self.sessions.len();
        self.next += 1;
        let (sid, status, visits) = &mut self.sessions[i];
        *visits += 1;
        let target = match (status.as_str(), self.mix) {
            ("Approved", _) => "Declined",
            ("Declined", true) if *visits % 3 == 0 => "Resubmitted",
            _ => "Approved",
        };
        let body = if target == "Resubmitted" {
            json!({"new_status": target, "nodes_to_resubmit": [{"node_id": "feature_liveness_1", "feature": "LIVENESS"}]})
        } else {
            json!({"new_status": target, "comment": "bench"})
        };
        *status = target.to_string();
        (
            Method::PATCH,
            format!("/v3/session/{sid}/update-status/"),
            Some(body),
        )
    }
}

struct Create {
    workflow_id: String,
    /// Which run this is: `vendor_data` is never repeated across runs on one database, where
    /// a repeat could be answered with the session already made.
    run: u64,
    conn: usize,
    n: u64,
}

/// Runs of the creation scenario so far, in this process.
static CREATE_RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Stream for Create {
    fn next(&mut self) -> (Method, String, Option<Value>) {
        self.n += 1;
        let body = json!({"workflow_id": self.workflow_id, "vendor_data": format!("c{}-{}-{}", self.run, self.conn, self.n)});
        (Method::POST, "/v3/session/".into(), Some(body))
    }
}

struct Decision {
    sessions: Arc<Vec<String>>,
    next: usize,
}

impl Stream for Decision {
    fn next(&mut self) -> (Method, String, Option<Value>) {
        self.next = (self.next + 7919) % self.sessions.len();
        (
            Method::GET,
            format!("/v3/session/{}/decision/", self.sessions[self.next]),
            None,
        )
    }
}

/// The person's page of sessions being completed, each in turn.
struct PersonPage {
    tokens: Arc<Vec<String>>,
    next: usize,
}

impl Stream for PersonPage {
    fn next(&mut self) -> (Method, String, Option<Value>) {
        self.next = (self.next + 31) % self.tokens.len();
        (
            Method::GET,
            format!("/session/{}", self.tokens[self.next]),
            None,
        )
    }
}

struct List;

impl Stream for List {
    fn next(&mut self) -> (Method, String, Option<Value>) {
        (
            Method::GET,
            "/v3/sessions/?status=Approved,Declined&limit=20".into(),
            None,
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// update-status alternating Approved/Declined on many sessions.
    UpdateStatus,
    /// update-status with one Resubmitted in every few changes.
    UpdateStatusMix,
    CreateSession,
    GetDecision,
    List,
    /// The person's page (`GET /session/<token>`) of 200 sessions being completed.
    PersonPage,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::UpdateStatus => "update-status (Approved/Declined)",
            Scenario::UpdateStatusMix => "update-status (with Resubmitted)",
            Scenario::CreateSession => "create session",
            Scenario::GetDecision => "get decision",
            Scenario::List => "list sessions",
            Scenario::PersonPage => "person's page",
        }
    }

    pub fn streams(self, p: &Prepared) -> StreamFactory {
        let sessions = p.sessions.clone();
        let ids = Arc::new(
            p.sessions
                .iter()
                .map(|(s, _)| s.clone())
                .collect::<Vec<_>>(),
        );
        let wf = p.workflow_id.clone();
        let pages = Arc::new(p.pages.clone());
        let run = CREATE_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Arc::new(move |i, of| -> Box<dyn Stream> {
            match self {
                Scenario::UpdateStatus | Scenario::UpdateStatusMix => Box::new(UpdateStatus {
                    sessions: sessions
                        .iter()
                        .skip(i)
                        .step_by(of)
                        .map(|(s, st)| (s.clone(), st.clone(), 0))
                        .collect(),
                    next: 0,
                    mix: self == Scenario::UpdateStatusMix,
                }),
                Scenario::CreateSession => Box::new(Create {
                    workflow_id: wf.clone(),
                    run,
                    conn: i,
                    n: 0,
                }),
                Scenario::GetDecision => Box::new(Decision {
                    sessions: ids.clone(),
                    next: i,
                }),
                Scenario::List => Box::new(List),
                Scenario::PersonPage => Box::new(PersonPage {
                    tokens: pages.clone(),
                    next: i,
                }),
            }
        })
    }
}
