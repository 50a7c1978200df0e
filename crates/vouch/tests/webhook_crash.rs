//! End-to-end webhook durability: the real `vouch` binary delivers `status.updated` events to a
//! receiver in this test while it is answering concurrent writes, is SIGKILLed in the middle of it
//! (events being produced, deliveries in flight, some waiting for a retry), and is restarted on the
//! same data directory. Every event committed to the outbox must then reach the receiver at least
//! once, correctly signed; nothing the receiver got may be unknown to the database; every
//! acknowledged request must have its events; and each session's events must retell its history.
//!
//! Each test is one `Scenario` over the shared crash harness (`support/crash.rs`): how long each
//! load lasts, how many kills come in a row, and how often the receiver fails a first delivery.

#[path = "support/binary.rs"]
mod binary;
#[path = "support/crash.rs"]
mod crash;

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vouch_core::{AppId, EventId, SessionId, WorkflowId};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use reqwest::{Client, Method};
use serde_json::{json, Value};
use sha2::Sha256;
use vouch_store::sqlite::SqliteStore;
use vouch_store::{KindFilter, OutboxEvent, Page, SessionFilter, Store};

/// Concurrent clients driving the load.
const TASKS: usize = 6;
/// Fewer committed events than this and the test proves nothing.
const MIN_EVENTS: usize = 100;
/// Time allowed for one delivery attempt (`VOUCH_WEBHOOKS__TIMEOUT`).
const TIMEOUT_SECONDS: u64 = 2;
/// A retry one second after each failure (`VOUCH_WEBHOOKS__RETRY_SCHEDULE`).
const RETRY_SCHEDULE: &str = "0s,1s,1s,1s,1s,1s,1s,1s";
/// The dispatcher leases each delivery it claims for the attempt timeout + 30 s
/// (`webhooks/dispatcher.rs`); a delivery claimed before the kill whose result was never recorded
/// is claimed again only when that lease ends, so the wait after the restart must outlast it.
const LEASE: Duration = Duration::from_secs(TIMEOUT_SECONDS + 30);
/// How long after the restart every committed event may take to arrive.
const DELIVERY_WAIT: Duration = Duration::from_secs(TIMEOUT_SECONDS + 30 + 15);
const OCR: &str = "feature_ocr_1";
const LIVENESS: &str = "feature_liveness_1";

// --- the binary, through the crash harness (tests/support/crash.rs) ---------------------------

use crash::{call, tail, Crash};

/// `vouch serve` allowed to deliver webhooks to loopback, with a short retry schedule.
fn settings() -> Vec<(&'static str, String)> {
    vec![
        ("VOUCH_ALLOW_PRIVATE_DESTINATIONS", "true".into()),
        ("VOUCH_WEBHOOKS__RETRY_SCHEDULE", RETRY_SCHEDULE.into()),
        ("VOUCH_WEBHOOKS__TIMEOUT", format!("{TIMEOUT_SECONDS}s")),
        ("VOUCH_WEBHOOKS__POLL_INTERVAL", "200ms".into()),
    ]
}

// --- the receiver ----------------------------------------------------------------------------

/// One delivery as the receiver saw it.
#[derive(Debug, Clone)]
struct Arrival {
    at: Instant,
    session_id: Option<String>,
    status: Option<String>,
    previous_status: Option<String>,
    webhook_type: Option<String>,
    /// `X-Signature` is the HMAC-SHA256 of the exact body under the destination secret.
    signature_ok: bool,
    /// `webhook-id` names the body's `event_id`.
    webhook_id_ok: bool,
    answered: u16,
}

impl Arrival {
    fn delivered(&self) -> bool {
        self.answered == 200 && self.signature_ok
    }
}

#[derive(Debug, Default, Clone)]
struct Inbox {
    by_event: HashMap<EventId, Vec<Arrival>>,
    /// Bodies without a readable `event_id`.
    unreadable: Vec<String>,
}

impl Inbox {
    /// Events delivered (answered `200`, validly signed) at least once.
    fn delivered(&self) -> HashSet<EventId> {
        self.by_event
            .iter()
            .filter(|(_, a)| a.iter().any(Arrival::delivered))
            .map(|(id, _)| *id)
            .collect()
    }
}

struct Receiver {
    secret: Mutex<Option<String>>,
    inbox: Mutex<Inbox>,
    /// It answers `500` to the first arrival of about one event in this many, always the same
    /// ones.
    fail_one_in: u64,
}

impl Receiver {
    fn fails_first(&self, event_id: EventId) -> bool {
        let mut h = DefaultHasher::new();
        event_id.hash(&mut h);
        h.finish().is_multiple_of(self.fail_one_in)
    }
}

fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

async fn hook(State(rx): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signature_ok = match (rx.secret.lock().unwrap().as_deref(), header("x-signature")) {
        (Some(secret), Some(sig)) => signature(secret, &body) == sig,
        _ => false,
    };
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = |k: &str| parsed[k].as_str().map(str::to_owned);
    let Some(event_id) = text("event_id").and_then(|s| s.parse::<EventId>().ok()) else {
        let mut inbox = rx.inbox.lock().unwrap();
        inbox
            .unreadable
            .push(String::from_utf8_lossy(&body).into_owned());
        return StatusCode::OK;
    };
    let mut inbox = rx.inbox.lock().unwrap();
    let arrivals = inbox.by_event.entry(event_id).or_default();
    let answered = if arrivals.is_empty() && rx.fails_first(event_id) {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    arrivals.push(Arrival {
        at: Instant::now(),
        session_id: text("session_id"),
        status: text("status"),
        previous_status: text("previous_status"),
        webhook_type: text("webhook_type"),
        signature_ok,
        webhook_id_ok: header("webhook-id") == Some(event_id.to_string().as_str()),
        answered: answered.as_u16(),
    });
    answered
}

/// The receiver's server task; stopped when dropped.
struct ReceiverGuard(tokio::task::JoinHandle<()>);

impl Drop for ReceiverGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the receiver on a free loopback port; answers its hook URL.
async fn start_receiver(rx: Arc<Receiver>) -> (String, ReceiverGuard) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(rx);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("receiver");
    });
    (format!("http://{addr}/hook"), ReceiverGuard(task))
}

// --- HTTP ------------------------------------------------------------------------------------

// --- the load --------------------------------------------------------------------------------

/// A status change as `(previous_status, status)`.
type Change = (&'static str, &'static str);

#[derive(Debug, Default, Clone)]
struct SessionLog {
    idx: usize,
    /// The event each acknowledged request must have written, in order.
    acked: Vec<Change>,
    /// The event the one request never answered would have written: it may exist or not.
    maybe: Option<Change>,
}

#[derive(Default)]
struct LoadLog {
    /// Sessions whose creation was acknowledged.
    sessions: HashMap<SessionId, SessionLog>,
    /// Requests answered `2xx`.
    acked: usize,
    /// Manual update-status calls answered `200`.
    manual_acked: usize,
    /// Requests never answered, with when they were sent.
    unanswered: Vec<(String, Instant)>,
    /// Answered, but not as expected — none is.
    refused: Vec<String>,
}

impl LoadLog {
    fn extend(&mut self, other: LoadLog) {
        self.sessions.extend(other.sessions);
        self.acked += other.acked;
        self.manual_acked += other.manual_acked;
        self.unanswered.extend(other.unanswered);
        self.refused.extend(other.refused);
    }
}

struct Load {
    /// Which load of the scenario this is (one per kill): vendor_data differs per round.
    round: usize,
    client: Client,
    base: String,
    key: String,
    workflow_id: WorkflowId,
    stop: AtomicBool,
    in_flight: AtomicUsize,
    log: Mutex<LoadLog>,
}

impl Load {
    async fn call(&self, method: Method, path: &str, body: &Value) -> Option<(u16, String)> {
        let started = Instant::now();
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let reply = call(
            &self.client,
            &self.base,
            &self.key,
            method.clone(),
            path,
            Some(body),
        )
        .await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if reply.is_none() {
            let mut log = self.log.lock().unwrap();
            log.unanswered.push((format!("{method} {path}"), started));
        }
        reply
    }

    /// One status-changing request about session `sid`, expected to write the event `change`;
    /// answers whether it was acknowledged with `ok`.
    async fn step(
        &self,
        sid: SessionId,
        (method, path, body): (Method, String, Value),
        ok: u16,
        change: Change,
    ) -> bool {
        if self.stop.load(Ordering::SeqCst) {
            return false;
        }
        let manual = method == Method::PATCH;
        let reply = self.call(method.clone(), &path, &body).await;
        let mut log = self.log.lock().unwrap();
        match reply {
            None => {
                log.sessions.get_mut(&sid).unwrap().maybe = Some(change);
                false
            }
            Some((status, _)) if status == ok => {
                log.sessions.get_mut(&sid).unwrap().acked.push(change);
                log.acked += 1;
                log.manual_acked += usize::from(manual);
                true
            }
            Some((status, text)) => {
                log.refused
                    .push(format!("{method} {path} {body} answered {status}: {text}"));
                false
            }
        }
    }

    /// One client: sessions one after another, each taken through its OCR and LIVENESS results
    /// (Not Started → In Progress → Approved or Declined), then for two sessions in three one or
    /// two manual decisions overturning the last one (Approved ↔ Declined).
    async fn drive(self: Arc<Self>, task: usize) {
        let mut n = 0;
        while !self.stop.load(Ordering::SeqCst) {
            let idx = n * TASKS + task;
            n += 1;
            let create = json!({"workflow_id": self.workflow_id,
                                "vendor_data": format!("webhook-crash-{}-{idx}", self.round)});
            let sid = match self.call(Method::POST, "/v3/session/", &create).await {
                None => continue,
                Some((201, text)) => {
                    let body: Value = serde_json::from_str(&text).expect("a session");
                    body["session_id"]
                        .as_str()
                        .and_then(|s| s.parse::<SessionId>().ok())
                        .expect("session_id in a 201")
                }
                Some((status, text)) => {
                    let mut log = self.log.lock().unwrap();
                    log.refused
                        .push(format!("POST /v3/session/ answered {status}: {text}"));
                    continue;
                }
            };
            {
                let mut log = self.log.lock().unwrap();
                log.acked += 1;
                log.sessions.insert(
                    sid,
                    SessionLog {
                        idx,
                        ..Default::default()
                    },
                );
            }
            let ocr = if idx.is_multiple_of(5) {
                "Declined"
            } else {
                "Approved"
            };
            let live = if idx.is_multiple_of(7) {
                "Declined"
            } else {
                "Approved"
            };
            let decided = if ocr == "Declined" || live == "Declined" {
                "Declined"
            } else {
                "Approved"
            };
            let attempts = format!("/v3/session/{sid}/attempts/");
            let ocr_body = json!({"node_id": OCR, "status": ocr,
                                  "data": {"first_name": "Ada", "last_name": "Lovelace",
                                           "document_number": format!("W{}-{idx}", self.round)}});
            if !self
                .step(
                    sid,
                    (Method::POST, attempts.clone(), ocr_body),
                    201,
                    ("Not Started", "In Progress"),
                )
                .await
            {
                continue;
            }
            let live_body = json!({"node_id": LIVENESS, "status": live, "data": {"score": 97}});
            if !self
                .step(
                    sid,
                    (Method::POST, attempts, live_body),
                    201,
                    ("In Progress", decided),
                )
                .await
            {
                continue;
            }
            let mut current = decided;
            for flip in 0..idx % 3 {
                let new = if current == "Approved" {
                    "Declined"
                } else {
                    "Approved"
                };
                let body = json!({"new_status": new, "comment": format!("manual review {flip}")});
                let path = format!("/v3/session/{sid}/update-status/");
                if !self
                    .step(sid, (Method::PATCH, path, body), 200, (current, new))
                    .await
                {
                    break;
                }
                current = new;
            }
        }
    }
}

// --- the database ----------------------------------------------------------------------------

/// Every committed outbox event, by session (in commit order), with every session id.
async fn committed_events(
    store: &SqliteStore,
    app_id: AppId,
) -> (HashMap<SessionId, Vec<OutboxEvent>>, HashSet<SessionId>) {
    let (sessions, _) = store
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
    let mut events = HashMap::new();
    for s in &sessions {
        let evs = store.outbox_events(s.id).await.expect("outbox events");
        if !evs.is_empty() {
            events.insert(s.id, evs);
        }
    }
    (events, sessions.iter().map(|s| s.id).collect())
}

/// Where the delivery pipeline stood in the file at the kill (diagnostic only; reads vouch's
/// tables directly): events not yet fanned out, deliveries waiting (queued or for a retry),
/// deliveries leased (claimed, result never recorded), deliveries succeeded.
fn pipeline_at_kill(db: &Path) -> String {
    let Ok(conn) = rusqlite::Connection::open(db) else {
        return "pipeline unreadable".into();
    };
    let count = |sql: &str| {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map_or_else(|e| format!("? ({e})"), |n| n.to_string())
    };
    format!(
        "{} events not fanned out, {} deliveries waiting, {} leased (claimed, result never \
         recorded), {} succeeded",
        count("SELECT COUNT(*) FROM outbox_events WHERE fanned_out_at IS NULL"),
        count(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending' \
             AND locked_until IS NULL"
        ),
        count(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending' \
             AND locked_until IS NOT NULL"
        ),
        count("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'succeeded'"),
    )
}

fn status_text(s: Option<vouch_core::SessionStatus>) -> Option<String> {
    s.map(|s| s.as_str().to_string())
}

// --- the test --------------------------------------------------------------------------------

/// One crash scenario: `kills` rounds of load, each cut by SIGKILL and followed by a restart on
/// the same directory; after the last restart every event committed in any round must arrive.
struct Scenario {
    /// How long each server takes writes before it is killed.
    load_for: Duration,
    kills: usize,
    /// The receiver fails the first arrival of one event in this many.
    fail_one_in: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_webhook_events_are_delivered_across_sigkill() {
    run(Scenario {
        load_for: Duration::from_millis(1500),
        kills: 1,
        fail_one_in: 10,
    })
    .await;
}

/// Kills in quick succession against a receiver that fails a first delivery more often: retries
/// scheduled by one server are sent by a later one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_webhook_events_are_delivered_across_two_sigkills() {
    run(Scenario {
        load_for: Duration::from_millis(800),
        kills: 2,
        fail_one_in: 4,
    })
    .await;
}

async fn run(scenario: Scenario) {
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let db = dir.join("vouch.db");

    // 1. The receiver, an application and a key, the server, a workflow and a destination.
    let receiver = Arc::new(Receiver {
        secret: Mutex::default(),
        inbox: Mutex::default(),
        fail_one_in: scenario.fail_one_in,
    });
    let (hook_url, _receiver_guard) = start_receiver(receiver.clone()).await;
    let mut node = Crash::start(&dir, settings());
    let (client, key, app_id) = (node.client.clone(), node.key.clone(), node.app_id);

    let body = json!({"workflow_label": "webhook-crash",
                      "features": [{"feature": "OCR"}, {"feature": "LIVENESS"}]});
    let (status, text) = call(
        &client,
        &node.base(),
        &key,
        Method::POST,
        "/v3/workflows/",
        Some(&body),
    )
    .await
    .expect("create workflow");
    assert_eq!(status, 201, "{text}");
    let wf: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        wf["nodes"],
        json!([{"node_id": OCR, "feature": "OCR"}, {"node_id": LIVENESS, "feature": "LIVENESS"}]),
        "{wf}"
    );
    let workflow_id: WorkflowId = wf["uuid"].as_str().unwrap().parse().unwrap();

    let body = json!({"label": "crash receiver", "url": hook_url,
                      "subscribed_events": ["status.updated"]});
    let (status, text) = call(
        &client,
        &node.base(),
        &key,
        Method::POST,
        "/v3/webhook/destinations/",
        Some(&body),
    )
    .await
    .expect("create destination");
    assert_eq!(status, 201, "{text}");
    let dest: Value = serde_json::from_str(&text).unwrap();
    let secret = dest["secret_shared_key"]
        .as_str()
        .expect("secret_shared_key")
        .to_string();
    *receiver.secret.lock().unwrap() = Some(secret);

    // 2. Each round: load, SIGKILL in the middle of it, restart on the same directory (the
    // receiver keeps running at the same URL).
    let mut log = LoadLog::default();
    let mut killed_logs = Vec::new();
    let (mut killed_at, mut cut_into_pipeline) = (Instant::now(), 0);
    let (mut in_flight_total, mut undelivered_total) = (0, 0);
    let mut committed_ids: HashSet<EventId> = HashSet::new();
    let mut store = None;
    for round in 0..scenario.kills {
        let load = Arc::new(Load {
            round,
            client: client.clone(),
            base: node.base(),
            key: key.clone(),
            workflow_id,
            stop: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            log: Mutex::new(LoadLog::default()),
        });
        let drivers = (0..TASKS)
            .map(|t| tokio::spawn(load.clone().drive(t)))
            .collect();
        // Read just before the kill: what was being sent and what the receiver had.
        let (kill, (requests_in_flight, delivered_at_kill)) = node
            .kill_under_load(scenario.load_for, &load.stop, drivers, || {
                (
                    load.in_flight.load(Ordering::SeqCst),
                    receiver.inbox.lock().unwrap().delivered(),
                )
            })
            .await;
        killed_at = kill.at;
        let this = std::mem::take(&mut *load.log.lock().unwrap());
        let unanswered_at_kill = this
            .unanswered
            .iter()
            .filter(|(_, at)| *at < kill.at)
            .count();

        // What the file holds after the crash: the events that must all be delivered.
        let pipeline = pipeline_at_kill(&db);
        let st = store.insert(SqliteStore::open(&db, 2).expect("open the database"));
        let (committed, _) = committed_events(st, app_id).await;
        committed_ids = committed.values().flatten().map(|e| e.event_id).collect();
        let undelivered_at_kill = committed_ids.difference(&delivered_at_kill).count();
        cut_into_pipeline += usize::from(undelivered_at_kill > 0);
        in_flight_total += requests_in_flight;
        undelivered_total += undelivered_at_kill;
        println!(
            "round {round}: {} requests acknowledged ({} sessions, {} manual update-status) \
             before SIGKILL at {:.2?}; {requests_in_flight} requests in flight at the kill, \
             {unanswered_at_kill} sent before it never answered; {} events committed in all, {} \
             delivered before the kill, {undelivered_at_kill} not; in the file: {pipeline}",
            this.acked,
            this.sessions.len(),
            this.manual_acked,
            kill.after_load,
            committed_ids.len(),
            delivered_at_kill.len(),
        );
        // Requests counted in flight may not have reached the socket yet; either sign shows that
        // events were still being produced when the server died.
        assert!(
            unanswered_at_kill > 0 || requests_in_flight > 0,
            "round {round}: no request was in flight when the server was killed: events were not \
             being produced"
        );
        log.extend(this);
        killed_logs.push(kill.log);
        node.restart();
    }
    let restarted_at = Instant::now();
    let store = store.expect("at least one kill");
    assert!(
        committed_ids.len() >= MIN_EVENTS,
        "only {} events committed before the kills; the test proves nothing",
        committed_ids.len()
    );
    assert!(
        cut_into_pipeline > 0,
        "every committed event had been delivered each time the server was killed: no crash cut \
         into the delivery pipeline"
    );

    // 4. After the last restart, wait until every committed event has been delivered, validly
    // signed, at least once.
    let mut missing;
    loop {
        let delivered = receiver.inbox.lock().unwrap().delivered();
        missing = committed_ids.difference(&delivered).count();
        if missing == 0 || restarted_at.elapsed() > DELIVERY_WAIT || node.exited() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let catch_up = restarted_at.elapsed();
    let second_log = node.reap();
    let inbox = receiver.inbox.lock().unwrap().clone();

    // 5. Compare the receiver with the file.
    let mut problems: Vec<String> = Vec::new();
    if missing > 0 {
        problems.push(format!(
            "{missing} committed events still not delivered {catch_up:.2?} after the restart \
             (the lease is {LEASE:?})"
        ));
    }
    let (final_events, final_sessions) = committed_events(&store, app_id).await;
    let by_id: HashMap<EventId, &OutboxEvent> = final_events
        .values()
        .flatten()
        .map(|e| (e.event_id, e))
        .collect();
    for e in final_events.values().flatten() {
        if !committed_ids.contains(&e.event_id) {
            problems.push(format!(
                "event {} of session {} ({:?}) was written after the restart, with no request",
                e.event_id, e.session_id, e.status
            ));
        }
    }

    // 5a. No committed event lost: each delivered at least once. (A failure here is a vouch bug:
    // an event committed with its status change never reached the destination.)
    for id in &committed_ids {
        let Some(e) = by_id.get(id) else {
            problems.push(format!(
                "event {id} committed before the kill is gone from the database after the restart"
            ));
            continue;
        };
        let arrivals = inbox.by_event.get(id).map_or(&[][..], Vec::as_slice);
        if !arrivals.iter().any(Arrival::delivered) {
            problems.push(format!(
                "LOST: committed event {id} (session {}, {} -> {:?}) never delivered with a valid \
                 signature; arrivals: {arrivals:?}",
                e.session_id,
                status_text(e.previous_status).unwrap_or_default(),
                e.status,
            ));
        }
    }

    // 5b. No phantom: every arrival is a committed event, and says what the database says.
    let (mut duplicates, mut failed_answers, mut redeliveries) = (0, 0, 0);
    let (mut retried_across_crash, mut delivered_only_after_restart) = (0, 0);
    for (id, arrivals) in &inbox.by_event {
        redeliveries += arrivals.len() - 1;
        failed_answers += arrivals.iter().filter(|a| a.answered != 200).count();
        duplicates += arrivals
            .iter()
            .filter(|a| a.delivered())
            .count()
            .saturating_sub(1);
        let before = arrivals.iter().filter(|a| a.at < killed_at).count();
        if before > 0 && before < arrivals.len() && arrivals[0].answered != 200 {
            retried_across_crash += 1;
        }
        if before == 0 {
            delivered_only_after_restart += 1;
        }
        let Some(e) = by_id.get(id) else {
            problems.push(format!(
                "PHANTOM: the receiver got event {id}, which is not in the database: {arrivals:?}"
            ));
            continue;
        };
        for a in arrivals {
            let want = (
                Some(e.session_id.to_string()),
                status_text(Some(e.status)),
                status_text(e.previous_status),
                Some(e.event_type.as_str().to_string()),
            );
            let got = (
                a.session_id.clone(),
                a.status.clone(),
                a.previous_status.clone(),
                a.webhook_type.clone(),
            );
            if got != want {
                problems.push(format!(
                    "event {id}: delivered as (session, status, previous, type) {got:?}, the \
                     database says {want:?}"
                ));
            }
            if !a.signature_ok || !a.webhook_id_ok {
                problems.push(format!(
                    "event {id}: a delivery with a bad X-Signature or webhook-id: {a:?}"
                ));
            }
        }
    }
    for body in &inbox.unreadable {
        problems.push(format!(
            "the receiver got a body without an event_id: {body}"
        ));
    }

    // 5c. Every acknowledged request has its events, and each session's events are its history:
    // chained from "Not Started", ending at its status, exactly the acknowledged changes in order
    // plus at most the one of a request cut by the kill.
    let (sessions_all, _) = store
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
    let current: HashMap<SessionId, String> = sessions_all
        .iter()
        .map(|s| (s.id, s.status.as_str().to_string()))
        .collect();
    for (sid, s) in &log.sessions {
        if !final_sessions.contains(sid) {
            problems.push(format!(
                "acknowledged session {sid} (#{}) is not in the database",
                s.idx
            ));
        }
    }
    for sid in &final_sessions {
        let events = final_events.get(sid).map_or(&[][..], Vec::as_slice);
        let got: Vec<(String, String)> = events
            .iter()
            .map(|e| {
                (
                    status_text(e.previous_status).unwrap_or_else(|| "null".into()),
                    e.status.as_str().to_string(),
                )
            })
            .collect();
        let mut chain = "Not Started".to_string();
        for (prev, new) in &got {
            if *prev != chain {
                problems.push(format!(
                    "session {sid}: events {got:?} do not chain from Not Started"
                ));
                break;
            }
            chain = new.clone();
        }
        if current.get(sid) != Some(&chain) {
            problems.push(format!(
                "session {sid}: status {:?} but its events {got:?} end at {chain}",
                current.get(sid)
            ));
        }
        let owned = |c: &Change| (c.0.to_string(), c.1.to_string());
        match log.sessions.get(sid) {
            // Created by a request never answered: no attempt was sent for it.
            None if !got.is_empty() => problems.push(format!(
                "session {sid}, whose creation was never acknowledged, has events {got:?}"
            )),
            None => {}
            Some(s) => {
                let acked: Vec<_> = s.acked.iter().map(owned).collect();
                let mut with_maybe = acked.clone();
                with_maybe.extend(s.maybe.as_ref().map(owned));
                if got != acked && got != with_maybe {
                    problems.push(format!(
                        "session {sid} (#{}): events {got:?}, but the acknowledged requests wrote \
                         {acked:?} (and one cut by the kill would add {:?})",
                        s.idx, s.maybe
                    ));
                }
            }
        }
    }
    problems.extend(log.refused.iter().cloned());

    let delivered = inbox.delivered();
    // When each event delivered after the restart first got through: most at once, the ones
    // whose delivery was leased at the kill only when that lease ran out.
    let mut after_restart: Vec<Duration> = inbox
        .by_event
        .values()
        .filter_map(|a| a.iter().find(|a| a.delivered()))
        .filter(|a| a.at >= restarted_at)
        .map(|a| a.at - restarted_at)
        .collect();
    after_restart.sort();
    let (soon, late): (Vec<Duration>, Vec<Duration>) = after_restart
        .iter()
        .partition(|d| **d < Duration::from_secs(10));
    println!(
        "after restart: all {} committed events delivered: {} in {catch_up:.2?}; receiver got {} \
         distinct events ({} only after the restart), {} arrivals: {failed_answers} answered 500, \
         {redeliveries} redeliveries, {retried_across_crash} failed before the kill and retried \
         after it, {duplicates} duplicates (delivered twice or more, same event_id and status); \
         first delivered after the restart: {} events within {:.2?}, {} more only once their \
         lease ({LEASE:?} from the claim) ran out, at {:.2?}..{:.2?}",
        committed_ids.len(),
        missing == 0,
        delivered.len(),
        delivered_only_after_restart,
        inbox.by_event.values().map(Vec::len).sum::<usize>(),
        soon.len(),
        soon.last().copied().unwrap_or_default(),
        late.len(),
        late.first().copied().unwrap_or_default(),
        late.last().copied().unwrap_or_default(),
    );
    println!(
        "summary: events committed {}, delivered {}, duplicates {duplicates}, retries observed \
         {redeliveries}, in flight at the kills: {in_flight_total} requests, {undelivered_total} \
         events undelivered; total {:.2?}",
        committed_ids.len(),
        delivered.intersection(&committed_ids).count(),
        started.elapsed(),
    );
    assert!(
        problems.is_empty(),
        "{} problems after the crashes, first ones:\n{}\n--- log of the last killed server:\n{}\n\
         --- log of the restarted server:\n{}",
        problems.len(),
        problems[..problems.len().min(20)].join("\n"),
        tail(killed_logs.last().map_or("", String::as_str)),
        tail(&second_log),
    );
}
