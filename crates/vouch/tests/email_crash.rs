//! End-to-end email durability: the real `vouch` binary sends decision emails to a real SMTP
//! server (aiosmtpd, `mail/smtp_sink.py`) while it is answering concurrent `update-status` calls
//! with `send_email`, is SIGKILLed in the middle of it (changes being committed, emails queued,
//! some being sent), and is restarted on the same data directory with the same SMTP server. Every
//! email job committed with its status change must then reach the server at least once, always
//! with the job's own Message-ID; every acknowledged change must have exactly one job; and nothing
//! may arrive for a change that was never committed.

#[path = "support/binary.rs"]
mod binary;
#[path = "support/crash.rs"]
mod crash;

#[path = "mail/sink.rs"]
#[allow(dead_code)]
mod sink;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Client, Method};
use serde_json::{json, Value};
use uuid::Uuid;

use sink::{header, Sink};

/// Sessions brought to "In Review", each then decided once with an email.
const SESSIONS: usize = 150;
/// Concurrent clients sending the decisions.
const TASKS: usize = 6;
/// Pause between two decisions of one client, so that the load spans the kill.
const PACE: Duration = Duration::from_millis(30);
/// The kill comes no sooner than this after the first decision…
const KILL_NOT_BEFORE: Duration = Duration::from_millis(500);
/// …at the first moment emails are arriving while decisions are in flight, else soon after this.
const KILL_AT_LATEST: Duration = Duration::from_millis(1000);
/// Emails that must have arrived before the kill for it to cut into sending.
const MIN_SENT_BEFORE_KILL: usize = 5;
/// How long after the restart every committed job may take to be sent.
const SEND_WAIT: Duration = Duration::from_secs(20);
/// A retry one second after each temporary failure.
const RETRY_SCHEDULE: &str = "0s,1s,1s,1s,1s,1s,1s,1s";
const FROM: &str = "Test <test@example.com>";
const OCR: &str = "feature_ocr_1";
const LIVENESS: &str = "feature_liveness_1";

// --- the binary, through the crash harness (tests/support/crash.rs) ---------------------------

use crash::{call, must, tail, Crash};

/// `vouch serve` sending email to `smtp_url` with a short retry schedule.
fn settings(smtp_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("VOUCH_SMTP_URL", smtp_url.into()),
        ("VOUCH_SMTP_FROM", FROM.into()),
        ("VOUCH_MAILER__RETRY_SCHEDULE", RETRY_SCHEDULE.into()),
        ("VOUCH_MAILER__POLL_INTERVAL", "100ms".into()),
        ("VOUCH_MAILER__TIMEOUT", "5s".into()),
    ]
}

// --- the mail server -------------------------------------------------------------------------

/// One message as the SMTP server stored it.
#[derive(Debug, Clone)]
struct Mail {
    file: String,
    envelope_to: Option<String>,
    to: Option<String>,
    message_id: Option<String>,
}

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    files.sort();
    files
}

/// Every message received so far, oldest first.
fn mails(dir: &Path) -> Vec<Mail> {
    eml_files(dir)
        .iter()
        .map(|p| {
            let raw = std::fs::read_to_string(p).expect("read an .eml");
            Mail {
                file: p.file_name().unwrap().to_string_lossy().into_owned(),
                envelope_to: header(&raw, "x-envelope-to"),
                to: header(&raw, "to"),
                message_id: header(&raw, "message-id"),
            }
        })
        .collect()
}

// --- the load --------------------------------------------------------------------------------

fn recipient(idx: usize) -> String {
    format!("s{idx}@example.com")
}

fn decision(idx: usize) -> &'static str {
    if idx.is_multiple_of(2) {
        "Approved"
    } else {
        "Declined"
    }
}

/// What became of the decision asked for one session.
#[derive(Debug, Clone)]
enum Fate {
    /// Answered `200`: committed, its email job must exist.
    Acked,
    /// Sent at this instant, never answered: committed or not.
    Unanswered(Instant),
    /// Never sent (the server was already dead): nothing may exist for it.
    NotSent,
    /// Answered otherwise — none is expected.
    Refused(u16, String),
}

struct Load {
    client: Client,
    base: String,
    key: String,
    sessions: Vec<Uuid>,
    stop: AtomicBool,
    in_flight: AtomicUsize,
    acked: AtomicUsize,
    fates: Mutex<HashMap<usize, Fate>>,
}

impl Load {
    /// One client: the decisions of sessions `task`, `task + TASKS`, …, one after another.
    async fn drive(self: Arc<Self>, task: usize) {
        for idx in (task..SESSIONS).step_by(TASKS) {
            if self.stop.load(Ordering::SeqCst) {
                self.fates.lock().unwrap().insert(idx, Fate::NotSent);
                continue;
            }
            let sid = self.sessions[idx];
            let body = json!({"new_status": decision(idx), "send_email": true,
                              "email_address": recipient(idx),
                              "comment": format!("email crash {idx}")});
            let started = Instant::now();
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            let reply = call(
                &self.client,
                &self.base,
                &self.key,
                Method::PATCH,
                &format!("/v3/session/{sid}/update-status/"),
                Some(&body),
            )
            .await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let fate = match reply {
                None => Fate::Unanswered(started),
                Some((200, _)) => {
                    self.acked.fetch_add(1, Ordering::SeqCst);
                    Fate::Acked
                }
                Some((status, text)) => Fate::Refused(status, text),
            };
            self.fates.lock().unwrap().insert(idx, fate);
            tokio::time::sleep(PACE).await;
        }
    }
}

// --- the jobs --------------------------------------------------------------------------------

/// One email job as `GET /v3/session/{id}/emails/` shows it.
#[derive(Debug, Clone)]
struct Job {
    uuid: String,
    message_id: String,
    recipient: String,
    state: String,
    status: String,
    attempts: i64,
}

/// Every session's email jobs, read over HTTP; answers them by session index.
async fn read_jobs(client: &Client, base: &str, key: &str, sessions: &[Uuid]) -> Vec<Vec<Job>> {
    let mut set = tokio::task::JoinSet::new();
    for (idx, sid) in sessions.iter().enumerate() {
        let (client, base, key, sid) = (client.clone(), base.to_string(), key.to_string(), *sid);
        set.spawn(async move {
            let path = format!("/v3/session/{sid}/emails/");
            let b = must(&client, &base, &key, Method::GET, &path, None, 200).await;
            let text = |j: &Value, k: &str| j[k].as_str().unwrap_or("").to_string();
            let jobs: Vec<Job> = b["results"]
                .as_array()
                .unwrap_or_else(|| panic!("{path}: no results: {b}"))
                .iter()
                .map(|j| Job {
                    uuid: text(j, "uuid"),
                    message_id: text(j, "message_id"),
                    recipient: text(j, "recipient"),
                    state: text(j, "state"),
                    status: text(j, "status"),
                    attempts: j["attempts"].as_i64().unwrap_or(-1),
                })
                .collect();
            assert_eq!(b["count"], json!(jobs.len()), "{path}: {b}");
            (idx, jobs)
        });
    }
    let mut out = vec![Vec::new(); sessions.len()];
    while let Some(r) = set.join_next().await {
        let (idx, jobs) = r.expect("reading jobs");
        out[idx] = jobs;
    }
    out
}

// --- the test --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_emails_are_sent_across_sigkill() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();

    // 1. The SMTP server, an application and a key, the server, a workflow, and SESSIONS
    // sessions "In Review" (OCR in review, liveness approved).
    let smtp = Sink::start();
    let mut node = Crash::start(&dir, settings(&smtp.url()));
    let (client, key) = (node.client.clone(), node.key.clone());
    let body = json!({"workflow_label": "email-crash",
                      "features": [{"feature": "OCR"}, {"feature": "LIVENESS"}]});
    let wf = must(
        &client,
        &node.base(),
        &key,
        Method::POST,
        "/v3/workflows/",
        Some(&body),
        201,
    )
    .await;
    assert_eq!(
        wf["nodes"],
        json!([{"node_id": OCR, "feature": "OCR"}, {"node_id": LIVENESS, "feature": "LIVENESS"}]),
        "{wf}"
    );
    let workflow_id = wf["uuid"].as_str().unwrap().to_string();
    let mut set = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let (client, base, key, workflow_id) = (
            client.clone(),
            node.base(),
            key.clone(),
            workflow_id.clone(),
        );
        set.spawn(async move {
            let mut made = Vec::new();
            for idx in (task..SESSIONS).step_by(TASKS) {
                let body = json!({"workflow_id": workflow_id,
                                  "vendor_data": format!("email-crash-{idx}")});
                let s = must(
                    &client,
                    &base,
                    &key,
                    Method::POST,
                    "/v3/session/",
                    Some(&body),
                    201,
                )
                .await;
                let sid: Uuid = s["session_id"].as_str().unwrap().parse().unwrap();
                let attempts = format!("/v3/session/{sid}/attempts/");
                for (node, status) in [(OCR, "In Review"), (LIVENESS, "Approved")] {
                    let body = json!({"node_id": node, "status": status, "data": {}});
                    must(
                        &client,
                        &base,
                        &key,
                        Method::POST,
                        &attempts,
                        Some(&body),
                        201,
                    )
                    .await;
                }
                let d = must(
                    &client,
                    &base,
                    &key,
                    Method::GET,
                    &format!("/v3/session/{sid}/decision/"),
                    None,
                    200,
                )
                .await;
                assert_eq!(
                    d["status"], "In Review",
                    "session {idx} not reviewable: {d}"
                );
                made.push((idx, sid));
            }
            made
        });
    }
    let mut sessions = vec![Uuid::nil(); SESSIONS];
    while let Some(r) = set.join_next().await {
        for (idx, sid) in r.expect("creating sessions") {
            sessions[idx] = sid;
        }
    }
    let setup = started.elapsed();
    assert!(
        mails(&smtp.dir).is_empty(),
        "emails arrived before any decision"
    );

    // 2. The decisions, each with an email, from TASKS clients; SIGKILL once emails are arriving
    // while decisions are still being answered or emails are still queued.
    let load = Arc::new(Load {
        client: client.clone(),
        base: node.base(),
        key: key.clone(),
        sessions: sessions.clone(),
        stop: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
        acked: AtomicUsize::new(0),
        fates: Mutex::new(HashMap::new()),
    });
    let load_started = Instant::now();
    let drivers: Vec<_> = (0..TASKS)
        .map(|t| tokio::spawn(load.clone().drive(t)))
        .collect();
    let (requests_in_flight, acked_at_kill, arrived_before_kill) = loop {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let elapsed = load_started.elapsed();
        if elapsed < KILL_NOT_BEFORE {
            continue;
        }
        let in_flight = load.in_flight.load(Ordering::SeqCst);
        let acked = load.acked.load(Ordering::SeqCst);
        let arrived = eml_files(&smtp.dir).len();
        // Best: decisions being answered while emails are arriving; failing that by the deadline,
        // emails still queued behind the acknowledged decisions.
        let cut = arrived >= MIN_SENT_BEFORE_KILL && in_flight > 0;
        let late = elapsed >= KILL_AT_LATEST && (arrived < acked || in_flight > 0);
        if cut || late || elapsed >= KILL_AT_LATEST + Duration::from_millis(500) {
            break (in_flight, acked, arrived);
        }
    };
    let killed_at = Instant::now();
    node.sigkill();
    load.stop.store(true, Ordering::SeqCst);
    let first_log = node.reap();
    let killed_after = killed_at - load_started;
    for d in drivers {
        tokio::time::timeout(Duration::from_secs(15), d)
            .await
            .expect("a load task hung after the kill")
            .expect("load task");
    }
    // What the SMTP server had when the sender died (a message whose DATA was complete is stored
    // at once; one cut before its end is never stored).
    let mails_at_kill = mails(&smtp.dir);
    let fates = std::mem::take(&mut *load.fates.lock().unwrap());
    assert_eq!(fates.len(), SESSIONS, "every decision has a fate");
    let count = |f: fn(&Fate) -> bool| fates.values().filter(|x| f(x)).count();
    let acked = count(|f| matches!(f, Fate::Acked));
    let unanswered_in_flight = fates
        .values()
        .filter(|f| matches!(f, Fate::Unanswered(at) if *at < killed_at))
        .count();
    let unanswered_after = count(|f| matches!(f, Fate::Unanswered(_))) - unanswered_in_flight;
    let not_sent = count(|f| matches!(f, Fate::NotSent));
    println!(
        "setup: {SESSIONS} sessions In Review in {setup:.2?}; load: SIGKILL {killed_after:.2?} \
         after the first decision, when {acked_at_kill} decisions were acknowledged, \
         {requests_in_flight} in flight and {arrived_before_kill} emails had arrived; in all \
         {acked} acknowledged, {unanswered_in_flight} in flight at the kill never answered, \
         {unanswered_after} refused after it, {not_sent} never sent; {} emails at the SMTP server \
         just after the kill",
        mails_at_kill.len(),
    );

    // 3. Restart on the same data directory, the SMTP server still running. Wait until every
    // committed job is `sent` and its Message-ID has arrived.
    node.restart();
    let restarted_at = Instant::now();
    let mut jobs;
    let mut pending;
    loop {
        jobs = read_jobs(&client, &node.base(), &key, &sessions).await;
        let arrived: HashSet<String> = mails(&smtp.dir)
            .into_iter()
            .filter_map(|m| m.message_id)
            .collect();
        pending = jobs
            .iter()
            .flatten()
            .filter(|j| j.state != "sent" || !arrived.contains(&j.message_id))
            .count();
        // A job out of `pending` (sent, failed…) never changes again: no need to wait on it.
        let still_pending = jobs.iter().flatten().any(|j| j.state == "pending");
        if pending == 0 || !still_pending || restarted_at.elapsed() > SEND_WAIT || node.exited() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let catch_up = restarted_at.elapsed();
    let second_log = node.reap();
    let received = mails(&smtp.dir);

    // 4. Compare the SMTP server with the jobs.
    let mut problems: Vec<String> = Vec::new();
    if pending > 0 {
        problems.push(format!(
            "{pending} committed email jobs not sent (or not arrived) {catch_up:.2?} after the \
             restart"
        ));
    }
    let mut by_message_id: HashMap<&str, Vec<&Mail>> = HashMap::new();
    let mut by_recipient: HashMap<String, Vec<&Mail>> = HashMap::new();
    for m in &received {
        if let Some(id) = m.message_id.as_deref() {
            by_message_id.entry(id).or_default().push(m);
        }
        if let Some(to) = m.envelope_to.as_deref() {
            by_recipient.entry(to.to_string()).or_default().push(m);
        }
    }
    let at_kill_ids: HashSet<&str> = mails_at_kill
        .iter()
        .filter_map(|m| m.message_id.as_deref())
        .collect();
    let mut job_by_message_id: HashMap<&str, (usize, &Job)> = HashMap::new();
    let (mut committed, mut unsent_at_kill, mut committed_unanswered) = (0, 0, 0);
    let mut max_attempts = 0;

    // 4a. Each decision has what its fate allows, and each committed job's email arrived, with
    // the job's Message-ID, to the job's recipient.
    for (idx, session_jobs) in jobs.iter().enumerate() {
        let sid = sessions[idx];
        let fate = &fates[&idx];
        let allowed = match fate {
            Fate::Acked => 1..=1,
            Fate::Unanswered(_) => 0..=1,
            Fate::NotSent => 0..=0,
            Fate::Refused(status, text) => {
                problems.push(format!(
                    "session {idx} ({sid}): update-status answered {status}: {text}"
                ));
                0..=1
            }
        };
        if !allowed.contains(&session_jobs.len()) {
            problems.push(format!(
                "session {idx} ({sid}): decision {fate:?} but {} email jobs: {session_jobs:?}",
                session_jobs.len()
            ));
        }
        if matches!(fate, Fate::Unanswered(_)) && !session_jobs.is_empty() {
            committed_unanswered += 1;
        }
        for j in session_jobs {
            committed += 1;
            max_attempts = max_attempts.max(j.attempts);
            job_by_message_id.insert(j.message_id.as_str(), (idx, j));
            if !at_kill_ids.contains(j.message_id.as_str()) {
                unsent_at_kill += 1;
            }
            if j.message_id != format!("<{}@vouch>", j.uuid) {
                problems.push(format!(
                    "session {idx}: job {} has Message-ID {}",
                    j.uuid, j.message_id
                ));
            }
            if j.recipient != recipient(idx) || j.status != decision(idx) {
                problems.push(format!(
                    "session {idx}: job {j:?}, expected recipient {} and status {}",
                    recipient(idx),
                    decision(idx)
                ));
            }
            if j.state != "sent" {
                problems.push(format!(
                    "session {idx} ({sid}): committed job {} is {} after the restart: {j:?}",
                    j.uuid, j.state
                ));
            }
            let arrived = by_message_id
                .get(j.message_id.as_str())
                .map_or(&[][..], Vec::as_slice);
            if arrived.is_empty() {
                problems.push(format!(
                    "LOST: session {idx} ({sid}), {fate:?}: committed job {} ({}) to {} never \
                     reached the SMTP server",
                    j.uuid, j.state, j.recipient
                ));
            }
            for m in arrived {
                if m.envelope_to.as_deref() != Some(j.recipient.as_str())
                    || !m.to.as_deref().unwrap_or("").contains(&j.recipient)
                {
                    problems.push(format!(
                        "session {idx}: Message-ID {} arrived for {:?} (To {:?}), the job is for {}",
                        j.message_id, m.envelope_to, m.to, j.recipient
                    ));
                }
            }
        }
    }

    // 4b. Nothing arrived that no committed job explains; repeated sends carry one Message-ID.
    let mut duplicates = 0;
    for m in &received {
        match m.message_id.as_deref() {
            None => problems.push(format!("{}: a message without a Message-ID: {m:?}", m.file)),
            Some(id) if !job_by_message_id.contains_key(id) => problems.push(format!(
                "PHANTOM: {} arrived with Message-ID {id} for {:?}, which no committed job has",
                m.file, m.envelope_to
            )),
            Some(_) => {}
        }
    }
    for (to, ms) in &by_recipient {
        let ids: HashSet<Option<&str>> = ms.iter().map(|m| m.message_id.as_deref()).collect();
        if ids.len() > 1 {
            problems.push(format!(
                "{to} got {} emails under {} different Message-IDs: {ids:?}",
                ms.len(),
                ids.len()
            ));
        }
        duplicates += ms.len() - 1;
    }
    let resent_across_crash = by_message_id
        .iter()
        .filter(|(id, ms)| {
            at_kill_ids.contains(*id) && ms.len() > at_kill_count(&mails_at_kill, id)
        })
        .count();

    println!(
        "after restart: {committed} email jobs committed ({acked} acknowledged decisions + \
         {committed_unanswered} cut by the kill but committed), all sent and arrived: {} in \
         {catch_up:.2?}; {unsent_at_kill} had not arrived at the kill; {} messages received, {} \
         distinct Message-IDs, {duplicates} duplicates (same Message-ID), {resent_across_crash} \
         sent before the kill and again after it; most attempts recorded on a job: {max_attempts}",
        pending == 0,
        received.len(),
        by_message_id.len(),
    );
    println!(
        "summary: jobs committed {committed}, emails received {}, duplicates {duplicates}, in \
         flight at kill: {unanswered_in_flight} requests, {unsent_at_kill} jobs not yet sent; \
         total {:.2?}",
        received.len(),
        started.elapsed(),
    );
    assert!(
        unsent_at_kill > 0 || unanswered_in_flight > 0,
        "every committed email had arrived and no request was in flight when the server was \
         killed: the crash did not cut into sending"
    );
    assert!(
        problems.is_empty(),
        "{} problems after the crash, first ones:\n{}\n--- log of the killed server:\n{}\n--- log \
         of the restarted server:\n{}",
        problems.len(),
        problems[..problems.len().min(20)].join("\n"),
        tail(&first_log),
        tail(&second_log),
    );
}

/// How many messages with this Message-ID the SMTP server had at the kill.
fn at_kill_count(at_kill: &[Mail], id: &str) -> usize {
    at_kill
        .iter()
        .filter(|m| m.message_id.as_deref() == Some(id))
        .count()
}
