//! End-to-end durability: the real `vouch` binary is SIGKILLed while it is answering concurrent
//! writes, restarted on the same data directory, and every write it acknowledged before dying
//! must be there, whole — with its review rows, its outbox events and its idempotency record.
//!
//! Each test is one `Scenario` over the shared crash harness (`support/crash.rs`): how many
//! clients, how long each load lasts, and how many kills come in a row before the checks.

#[path = "support/binary.rs"]
mod binary;
#[path = "support/crash.rs"]
mod crash;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Client, Method};
use serde_json::{json, Value};
use uuid::Uuid;
use vouch_core::attempt::ActorType;
use vouch_core::{SessionId, SessionStatus, WorkflowId};
use vouch_store::sqlite::SqliteStore;
use vouch_store::{KindFilter, Page, SessionFilter, Store};

/// Safety cap on requests sent before one kill.
const MAX_REQUESTS: usize = 20_000;
/// Workers for the checks after the restart.
const CHECKERS: usize = 8;
const OCR: &str = "feature_ocr_1";
const LIVENESS: &str = "feature_liveness_1";

// --- the binary (tests/support/binary.rs) ---------------------------------------------------

use binary::cli;
use crash::{in_parallel, tail, Answer as Reply, Crash};

// --- HTTP ------------------------------------------------------------------------------------

/// One `POST` as it was sent, so it can be sent again with the same `Idempotency-Key`.
#[derive(Debug, Clone)]
struct Sent {
    path: String,
    body: Value,
    idem_key: Option<String>,
}

async fn post(client: &Client, base: &str, key: &str, sent: &Sent) -> Result<Reply, String> {
    let body = Some(&sent.body);
    crash::send(
        client,
        base,
        key,
        Method::POST,
        &sent.path,
        body,
        sent.idem_key.as_deref(),
    )
    .await
}

async fn get_json(client: &Client, base: &str, key: &str, path: &str) -> Result<Value, String> {
    let resp = client
        .get(format!("{base}{path}"))
        .header("x-api-key", key)
        .send()
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| format!("GET {path}: {e}"))?;
    if status != 200 {
        return Err(format!("GET {path}: {status} {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("GET {path}: {e}: {text}"))
}

// --- the load --------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Session,
    Attempt {
        session_id: SessionId,
        node: &'static str,
        status: &'static str,
    },
}

#[derive(Debug, Clone)]
struct AckedSession {
    id: SessionId,
    sent: Sent,
    body: Value,
}

#[derive(Debug, Clone)]
struct AckedAttempt {
    id: Uuid,
    session_id: SessionId,
    node: &'static str,
    status: &'static str,
    sent: Sent,
    body: Value,
}

#[derive(Default)]
struct Log {
    sessions: Vec<AckedSession>,
    attempts: Vec<AckedAttempt>,
    /// Sent (at the instant given) but never answered: in flight at the kill, or sent after it.
    lost: Vec<(Kind, Sent, Instant)>,
    /// Answered, but not with `201` — none is expected.
    refused: Vec<String>,
}

struct Load {
    /// Which load of the scenario this is (one per kill): vendor_data and keys differ per round.
    round: usize,
    tasks: usize,
    client: Client,
    base: String,
    key: String,
    workflow_id: WorkflowId,
    stop: AtomicBool,
    sent: AtomicUsize,
    log: Mutex<Log>,
}

impl Load {
    /// Sends one write and records its fate; answers the `201` body.
    async fn send(&self, kind: Kind, sent: Sent) -> Option<Value> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        let started = Instant::now();
        let reply = post(&self.client, &self.base, &self.key, &sent).await;
        let mut log = self.log.lock().unwrap();
        let reply = match reply {
            Err(_) => {
                log.lost.push((kind, sent, started));
                return None;
            }
            Ok(r) => r,
        };
        let body = match (reply.status, reply.json()) {
            (201, Some(body)) => body,
            _ => {
                log.refused.push(format!(
                    "POST {} answered {} during the load: {}",
                    sent.path, reply.status, reply.text
                ));
                return None;
            }
        };
        match kind {
            Kind::Session => {
                let id = body["session_id"]
                    .as_str()
                    .and_then(|s| s.parse::<SessionId>().ok())
                    .expect("session_id in a 201");
                log.sessions.push(AckedSession {
                    id,
                    sent,
                    body: body.clone(),
                });
            }
            Kind::Attempt {
                session_id,
                node,
                status,
            } => {
                let id = body["attempt_id"]
                    .as_str()
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .expect("attempt_id in a 201");
                assert_eq!(body["session_id"], json!(session_id), "{body}");
                assert_eq!(body["node_id"], json!(node), "{body}");
                assert_eq!(body["status"], json!(status), "{body}");
                log.attempts.push(AckedAttempt {
                    id,
                    session_id,
                    node,
                    status,
                    sent,
                    body: body.clone(),
                });
            }
        }
        Some(body)
    }

    /// One client: sessions one after another, each with an OCR then a LIVENESS result (for
    /// every fourth session the two results are posted at once, racing each other). Every
    /// other session uses `Idempotency-Key`s.
    async fn drive(self: Arc<Self>, task: usize) {
        let mut n = 0;
        while !self.stop.load(Ordering::SeqCst) && self.sent.load(Ordering::SeqCst) < MAX_REQUESTS {
            let idx = n * self.tasks + task;
            n += 1;
            let round = self.round;
            let idem = |what: &str| {
                idx.is_multiple_of(2)
                    .then(|| format!("durability-{round}-{idx}-{what}"))
            };
            let create = Sent {
                path: "/v3/session/".into(),
                body: json!({
                    "workflow_id": self.workflow_id,
                    "vendor_data": format!("durability-{round}-{idx}"),
                    "metadata": {"idx": idx},
                }),
                idem_key: idem("session"),
            };
            let Some(created) = self.send(Kind::Session, create).await else {
                continue;
            };
            let sid: SessionId = created["session_id"].as_str().unwrap().parse().unwrap();
            let ocr_status = if idx.is_multiple_of(5) {
                "Declined"
            } else {
                "Approved"
            };
            let live_status = if idx.is_multiple_of(7) {
                "Declined"
            } else {
                "Approved"
            };
            let ocr = (
                Kind::Attempt {
                    session_id: sid,
                    node: OCR,
                    status: ocr_status,
                },
                Sent {
                    path: format!("/v3/session/{sid}/attempts/"),
                    body: json!({
                        "node_id": OCR,
                        "status": ocr_status,
                        "data": {"first_name": "Ada", "last_name": "Lovelace",
                                 "issuing_state": "GBR", "document_number": format!("D{round}-{idx}")},
                    }),
                    idem_key: idem("ocr"),
                },
            );
            let live = (
                Kind::Attempt {
                    session_id: sid,
                    node: LIVENESS,
                    status: live_status,
                },
                Sent {
                    path: format!("/v3/session/{sid}/attempts/"),
                    body: json!({"node_id": LIVENESS, "status": live_status, "data": {"score": 97}}),
                    idem_key: idem("liveness"),
                },
            );
            if idx % 4 == 1 {
                tokio::join!(self.send(ocr.0, ocr.1), self.send(live.0, live.1));
            } else if self.send(ocr.0, ocr.1).await.is_some() {
                self.send(live.0, live.1).await;
            }
        }
    }
}

// --- expectations ----------------------------------------------------------------------------

fn session_status(s: &str) -> SessionStatus {
    serde_json::from_value(json!(s)).expect("a session status")
}

/// The SYSTEM status changes a session of our workflow must have gone through, given the latest
/// status of each node that has an attempt.
fn expected_transitions(
    ocr: Option<&str>,
    live: Option<&str>,
) -> Vec<(SessionStatus, SessionStatus)> {
    let mut t = Vec::new();
    if ocr.is_none() && live.is_none() {
        return t;
    }
    t.push((SessionStatus::NotStarted, SessionStatus::InProgress));
    if let (Some(o), Some(l)) = (ocr, live) {
        let decided = if o == "Declined" || l == "Declined" {
            SessionStatus::Declined
        } else {
            SessionStatus::Approved
        };
        t.push((SessionStatus::InProgress, decided));
    }
    t
}

#[derive(Default)]
struct Tally {
    replayed_acked: usize,
    lost_retried_replayed: usize,
    lost_retried_fresh: usize,
    decisions_checked: usize,
    problems: Vec<String>,
}

impl Log {
    fn acked(&self) -> usize {
        self.sessions.len() + self.attempts.len()
    }

    fn extend(&mut self, other: Log) {
        self.sessions.extend(other.sessions);
        self.attempts.extend(other.attempts);
        self.lost.extend(other.lost);
        self.refused.extend(other.refused);
    }
}

// --- the scenarios ---------------------------------------------------------------------------

/// One crash scenario: `kills` rounds of load, each cut by SIGKILL and followed by a restart on
/// the same directory; the checks come after the last restart and cover every round.
struct Scenario {
    /// Concurrent clients driving each load.
    tasks: usize,
    /// How long each server takes writes before it is killed.
    load_for: Duration,
    kills: usize,
    /// Fewer acknowledged writes in all than this and the test proves nothing.
    min_acked: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    run(Scenario {
        tasks: 8,
        load_for: Duration::from_millis(1500),
        kills: 1,
        min_acked: 300,
    })
    .await;
}

/// Twenty kills in quick succession: each restart recovers a file the previous crash left,
/// and is itself killed while it takes new writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_twenty_sigkills_in_a_row() {
    run(Scenario {
        tasks: 4,
        load_for: Duration::from_millis(400),
        kills: 20,
        min_acked: 1_000,
    })
    .await;
}

/// The client, base URL and key of the running server, for checks in parallel.
type Ctx = Arc<(Client, String, String)>;

async fn run(scenario: Scenario) {
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();

    // 1. An application and a key through the CLI, then the server and a workflow.
    let mut node = Crash::start(&dir, Vec::new());
    let (client, key, app_id) = (node.client.clone(), node.key.clone(), node.app_id);
    let wf = post(
        &client,
        &node.base(),
        &key,
        &Sent {
            path: "/v3/workflows/".into(),
            body: json!({"workflow_label": "durability",
                         "features": [{"feature": "OCR"}, {"feature": "LIVENESS"}]}),
            idem_key: None,
        },
    )
    .await
    .expect("create workflow");
    assert_eq!(wf.status, 201, "{}", wf.text);
    let wf = wf.json().unwrap();
    assert_eq!(
        wf["nodes"],
        json!([{"node_id": OCR, "feature": "OCR"}, {"node_id": LIVENESS, "feature": "LIVENESS"}]),
        "{wf}"
    );
    let workflow_id: WorkflowId = wf["uuid"].as_str().unwrap().parse().unwrap();

    // 2. Each round: load, SIGKILL in the middle of it, restart on the same directory.
    let mut log = Log::default();
    let mut killed_logs = Vec::new();
    let mut cut_in_flight = 0;
    for round in 0..scenario.kills {
        let load = Arc::new(Load {
            round,
            tasks: scenario.tasks,
            client: client.clone(),
            base: node.base(),
            key: key.clone(),
            workflow_id,
            stop: AtomicBool::new(false),
            sent: AtomicUsize::new(0),
            log: Mutex::new(Log::default()),
        });
        let drivers = (0..scenario.tasks)
            .map(|t| tokio::spawn(load.clone().drive(t)))
            .collect();
        let (kill, ()) = node
            .kill_under_load(scenario.load_for, &load.stop, drivers, || ())
            .await;
        let this = std::mem::take(&mut *load.log.lock().unwrap());
        let in_flight = this.lost.iter().filter(|l| l.2 < kill.at).count();
        println!(
            "round {round}: {} requests sent, {} sessions + {} attempts acknowledged, SIGKILL at \
             {:.2?}; {in_flight} requests in flight at the kill never answered, {} more refused \
             after it; {} answered with another status",
            load.sent.load(Ordering::SeqCst),
            this.sessions.len(),
            this.attempts.len(),
            kill.after_load,
            this.lost.len() - in_flight,
            this.refused.len(),
        );
        // A kill can fall between two requests of every client; the test needs the kills to
        // cut requests in flight, most of the time, not every time.
        if in_flight > 0 {
            cut_in_flight += 1;
        }
        log.extend(this);
        killed_logs.push(kill.log);
        node.restart();
    }
    assert!(
        cut_in_flight * 2 > scenario.kills,
        "only {cut_in_flight} of {} kills cut a request in flight; the test proves little",
        scenario.kills
    );
    assert!(
        log.acked() >= scenario.min_acked,
        "only {} writes acknowledged before the kills; the test proves nothing",
        log.acked()
    );

    // 3. Over HTTP after the last restart: idempotent writes replay, decisions hold every
    // acknowledged write.
    let ctx: Ctx = Arc::new((client.clone(), node.base(), key.clone()));
    let mut tally = retry_idempotent(&ctx, &log).await;
    let decisions = check_decisions(&ctx, &log).await;
    tally.decisions_checked = decisions.len();
    tally.problems.extend(decisions.into_iter().flatten());

    // 4. Stop the server and read the file itself: nothing half-written anywhere.
    let final_log = node.reap();
    let audit = cli(&dir, &["audit", "verify"]);
    let file = check_file(&dir, app_id, workflow_id, &log, &mut tally.problems).await;

    println!(
        "after {} kills: {} acknowledged sessions + {} acknowledged attempts checked over HTTP \
         and in the file; {} acknowledged idempotent writes replayed identically; {} unanswered \
         idempotent writes retried: {} had been committed before a kill (replayed), {} had not \
         (done now)",
        scenario.kills,
        log.sessions.len(),
        log.attempts.len(),
        tally.replayed_acked,
        tally.lost_retried_replayed + tally.lost_retried_fresh,
        tally.lost_retried_replayed,
        tally.lost_retried_fresh,
    );
    println!("database: {file}; `vouch audit verify`: {}", audit.trim());
    println!("total {:.2?}", started.elapsed());
    // Any refusal during the load (e.g. a 404 for a session just acknowledged) is a bug too;
    // it is reported after the crash findings rather than stopping the checks.
    tally.problems.extend(log.refused.iter().cloned());
    assert!(
        tally.problems.is_empty(),
        "{} problems after the crashes, first ones:\n{}\n--- log of the last killed server:\n{}\n\
         --- log of the restarted server:\n{}",
        tally.problems.len(),
        tally.problems[..tally.problems.len().min(20)].join("\n"),
        tail(killed_logs.last().map_or("", String::as_str)),
        tail(&final_log),
    );
}

/// Every acknowledged write sent with an Idempotency-Key replays its stored answer, and every
/// unanswered one is either replayed (it was committed) or done now — never twice.
async fn retry_idempotent(ctx: &Ctx, log: &Log) -> Tally {
    enum Retry {
        Acked(Sent, Value),
        Lost(Kind, Sent),
    }
    let mut retries: Vec<Retry> = Vec::new();
    for s in &log.sessions {
        if s.sent.idem_key.is_some() {
            retries.push(Retry::Acked(s.sent.clone(), s.body.clone()));
        }
    }
    for a in &log.attempts {
        if a.sent.idem_key.is_some() {
            retries.push(Retry::Acked(a.sent.clone(), a.body.clone()));
        }
    }
    for (kind, sent, _) in &log.lost {
        if sent.idem_key.is_some() {
            retries.push(Retry::Lost(*kind, sent.clone()));
        }
    }
    let c = ctx.clone();
    let outcomes = in_parallel(CHECKERS, retries, move |r| {
        let c = c.clone();
        async move {
            let (client, base, key) = &*c;
            let mut t = Tally::default();
            match r {
                Retry::Acked(sent, body) => match post(client, base, key, &sent).await {
                    Ok(rep) if rep.status == 201 && rep.replayed && rep.json() == Some(body.clone()) => {
                        t.replayed_acked += 1
                    }
                    Ok(rep) => t.problems.push(format!(
                        "acknowledged POST {} (key {:?}) sent again after the restart: {} replayed={} \
                         {} (first answer {body})",
                        sent.path, sent.idem_key, rep.status, rep.replayed, rep.text
                    )),
                    Err(e) => t.problems.push(format!("POST {} after restart: {e}", sent.path)),
                },
                Retry::Lost(kind, sent) => match post(client, base, key, &sent).await {
                    Ok(rep) if rep.status == 201 => {
                        if rep.replayed {
                            t.lost_retried_replayed += 1
                        } else {
                            t.lost_retried_fresh += 1
                        }
                    }
                    Ok(rep) => t.problems.push(format!(
                        "unanswered {kind:?} POST {} retried after the restart: {} {}",
                        sent.path, rep.status, rep.text
                    )),
                    Err(e) => t.problems.push(format!("POST {} after restart: {e}", sent.path)),
                },
            }
            t
        }
    })
    .await;
    let mut tally = Tally::default();
    for t in outcomes {
        tally.replayed_acked += t.replayed_acked;
        tally.lost_retried_replayed += t.lost_retried_replayed;
        tally.lost_retried_fresh += t.lost_retried_fresh;
        tally.problems.extend(t.problems);
    }
    tally
}

fn attempts_by_session(log: &Log) -> HashMap<SessionId, Vec<AckedAttempt>> {
    let mut by: HashMap<SessionId, Vec<AckedAttempt>> = HashMap::new();
    for a in &log.attempts {
        by.entry(a.session_id).or_default().push(a.clone());
    }
    by
}

/// Every acknowledged session and attempt is in the decision, with a status and review trail
/// that fit; one list of problems per session.
async fn check_decisions(ctx: &Ctx, log: &Log) -> Vec<Vec<String>> {
    let acked_attempts = Arc::new(attempts_by_session(log));
    let session_ids: Vec<SessionId> = log.sessions.iter().map(|s| s.id).collect();
    let (c, aa) = (ctx.clone(), acked_attempts);
    in_parallel(CHECKERS, session_ids, move |sid| {
        let (c, aa) = (c.clone(), aa.clone());
        async move {
            let (client, base, key) = &*c;
            let mut problems = Vec::new();
            let d = match get_json(client, base, key, &format!("/v3/session/{sid}/decision/")).await
            {
                Ok(d) => d,
                Err(e) => return vec![format!("acknowledged session {sid}: {e}")],
            };
            if d["session_id"] != json!(sid) {
                problems.push(format!("session {sid}: decision names {}", d["session_id"]));
            }
            let status = d["status"].as_str().unwrap_or("?").to_string();
            let mine = aa.get(&sid).cloned().unwrap_or_default();
            for a in &mine {
                let array = if a.node == OCR { "id_verifications" } else { "liveness_checks" };
                let entry = d[array]
                    .as_array()
                    .and_then(|v| v.iter().find(|e| e["node_id"] == json!(a.node)));
                match entry {
                    Some(e) if e["attempt_id"] == json!(a.id) && e["status"] == json!(a.status) => {}
                    other => problems.push(format!(
                        "session {sid}: acknowledged attempt {} ({} {}) not in the decision's {array}: {other:?}",
                        a.id, a.node, a.status
                    )),
                }
            }
            if !mine.is_empty() && status == "Not Started" {
                problems.push(format!("session {sid}: has acknowledged attempts but is Not Started"));
            }
            let ocr = mine.iter().find(|a| a.node == OCR).map(|a| a.status);
            let live = mine.iter().find(|a| a.node == LIVENESS).map(|a| a.status);
            let expected = expected_transitions(ocr, live);
            if expected.len() == 2 && session_status(&status) != expected[1].1 {
                problems.push(format!(
                    "session {sid}: both results acknowledged ({ocr:?}, {live:?}) but status is {status}"
                ));
            }
            let reviews = d["reviews"].as_array().cloned().unwrap_or_default();
            if reviews.len() < expected.len() {
                problems.push(format!(
                    "session {sid}: {} review rows in the decision, at least {} expected",
                    reviews.len(),
                    expected.len()
                ));
            }
            let last = reviews.last().map_or("Not Started", |r| r["new_status"].as_str().unwrap_or("?"));
            if last != status {
                problems.push(format!("session {sid}: status {status} but the last review says {last}"));
            }
            if reviews.iter().any(|r| r["actor_type"] != "SYSTEM") {
                problems.push(format!("session {sid}: a review row not by SYSTEM: {reviews:?}"));
            }
            problems
        }
    })
    .await
}

/// The database file, read directly once the server has stopped: every acknowledged write is
/// there, every session is whole (attempts, review rows, events in step), numbers have no gaps
/// and every chain verifies. Answers a summary of what it read.
async fn check_file(
    dir: &std::path::Path,
    app_id: vouch_core::AppId,
    workflow_id: WorkflowId,
    log: &Log,
    problems: &mut Vec<String>,
) -> String {
    let acked_attempts = attempts_by_session(log);
    let store = SqliteStore::open(&dir.join("vouch.db"), 2).expect("open the database");
    assert!(
        store
            .get_workflow(app_id, workflow_id)
            .await
            .unwrap()
            .is_some(),
        "the acknowledged workflow is gone"
    );
    let (all, count) = store
        .list_sessions(
            app_id,
            &SessionFilter {
                kind: Some(KindFilter::All),
                ..Default::default()
            },
            Page {
                limit: 1_000_000,
                offset: 0,
            },
        )
        .await
        .expect("list sessions");
    assert_eq!(count as usize, all.len());
    let mut numbers: Vec<i64> = all.iter().map(|s| s.number).collect();
    numbers.sort_unstable();
    if numbers != (1..=all.len() as i64).collect::<Vec<_>>() {
        problems.push(format!(
            "session numbers are not 1..={} without gaps or repeats: {:?}…",
            all.len(),
            &numbers[..numbers.len().min(20)]
        ));
    }
    let stored: HashSet<SessionId> = all.iter().map(|s| s.id).collect();
    for s in &log.sessions {
        if !stored.contains(&s.id) {
            problems.push(format!(
                "acknowledged session {} is not in the database",
                s.id
            ));
        }
    }

    let (mut attempts_rows, mut review_rows, mut event_rows) = (0, 0, 0);
    let mut reviewed_sessions = 0;
    for s in &all {
        let sid = s.id;
        let Some(b) = store.session_bundle(app_id, sid).await.expect("bundle") else {
            problems.push(format!("session {sid} listed but has no bundle"));
            continue;
        };
        let events = store.outbox_events(sid).await.expect("outbox");
        let reviews = store.reviews(sid).await.expect("reviews");
        attempts_rows += b.attempts.len();
        review_rows += reviews.len();
        event_rows += events.len();
        reviewed_sessions += usize::from(!reviews.is_empty());
        if reviews != b.reviews {
            problems.push(format!("session {sid}: reviews() and the bundle disagree"));
        }

        // Attempts: numbered 1..n, one per node (idempotent retries must not duplicate).
        let seqs: Vec<i64> = b.attempts.iter().map(|a| a.seq).collect();
        if seqs != (1..=b.attempts.len() as i64).collect::<Vec<_>>() {
            problems.push(format!("session {sid}: attempt seqs {seqs:?}"));
        }
        let nodes: Vec<&str> = b.attempts.iter().map(|a| a.node_id.as_str()).collect();
        let ocr: Vec<_> = b.attempts.iter().filter(|a| a.node_id == OCR).collect();
        let live: Vec<_> = b
            .attempts
            .iter()
            .filter(|a| a.node_id == LIVENESS)
            .collect();
        if ocr.len() > 1 || live.len() > 1 || ocr.len() + live.len() != b.attempts.len() {
            problems.push(format!(
                "session {sid}: unexpected attempts on nodes {nodes:?}"
            ));
        }
        if b.attempts
            .iter()
            .any(|a| a.actor_type != ActorType::ApiKey || a.session_id != sid)
        {
            problems.push(format!(
                "session {sid}: an attempt with a wrong actor or session"
            ));
        }
        for a in acked_attempts.get(&sid).into_iter().flatten() {
            match b.attempts.iter().find(|x| x.id == a.id) {
                Some(x) if x.node_id == a.node && x.status.as_str() == a.status => {}
                other => problems.push(format!(
                    "session {sid}: acknowledged attempt {} ({} {}) in the database as {other:?}",
                    a.id, a.node, a.status
                )),
            }
        }

        // Reviews and events: exactly the transitions the attempts imply, one event per row.
        let expected = expected_transitions(
            ocr.first().map(|a| a.status.as_str()),
            live.first().map(|a| a.status.as_str()),
        );
        let got: Vec<_> = reviews
            .iter()
            .map(|r| (r.previous_status, r.new_status))
            .collect();
        let want: Vec<_> = expected.iter().map(|(f, t)| (Some(*f), Some(*t))).collect();
        if got != want {
            problems.push(format!(
                "session {sid}: review transitions {got:?}, expected {want:?} for attempts {nodes:?}"
            ));
        }
        for (i, r) in reviews.iter().enumerate() {
            if r.seq != i as i64 + 1
                || r.actor_type != ActorType::System
                || r.activity_type.as_str() != "STATUS_CHANGE"
                || r.session_id != sid
            {
                problems.push(format!("session {sid}: odd review row {r:?}"));
            }
        }
        if events.len() != reviews.len() {
            problems.push(format!(
                "session {sid}: {} review rows but {} outbox events",
                reviews.len(),
                events.len()
            ));
        }
        for (r, e) in reviews.iter().zip(&events) {
            if e.event_type.as_str() != "status.updated"
                || Some(e.status) != r.new_status
                || e.previous_status != r.previous_status
                || e.session_id != sid
                || e.app_id != app_id
                || e.dropped
            {
                problems.push(format!(
                    "session {sid}: outbox event {e:?} does not match review row {r:?}"
                ));
            }
        }
        let expected_status = expected.last().map_or(SessionStatus::NotStarted, |t| t.1);
        if s.status != expected_status || b.session.status != expected_status {
            problems.push(format!(
                "session {sid}: status {:?}, expected {expected_status:?} from attempts {nodes:?}",
                s.status
            ));
        }
    }
    let (chains, broken) = store.verify_reviews(None).await.expect("verify reviews");
    if !broken.is_empty() {
        problems.push(format!("broken review chains: {broken:?}"));
    }
    if chains != reviewed_sessions {
        problems.push(format!(
            "verify_reviews checked {chains} chains; {reviewed_sessions} sessions have reviews"
        ));
    }
    format!(
        "{} sessions, {attempts_rows} attempts, {review_rows} review rows, {event_rows} outbox \
         events, {chains} review chains verified, {} broken",
        all.len(),
        broken.len()
    )
}
