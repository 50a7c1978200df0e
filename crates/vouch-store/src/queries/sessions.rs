//! Sessions: finding, creating (or reusing by `vendor_data`), the state a decision reads, the
//! bundle a decision answer shows, and erasure.

use std::sync::Arc;
use vouch_core::WorkflowId;
use vouch_core::{AppId, SessionId};

use chrono::{DateTime, Utc};
use vouch_core::attempt::Attempt;
use vouch_core::review::GENESIS_HASH;
use vouch_core::session::{CallbackMethod, Environment, Session};

use super::changes::{reviews, ChainTip};
use super::locked;
use crate::model::{LinkTarget, NewSession, SessionBundle, SessionState, WorkflowRecord};
use crate::rows::{self, session_columns};
use crate::sql::{Db, Dialect, Param, Stmt};
use crate::workflow_cache::WorkflowCache;
use crate::{micros, stmt, Entity, StoreError, StoreResult};

/// Statuses in which a session with the same `vendor_data` is reused rather than created.
macro_rules! unfinished {
    () => {
        "status IN ('Not Started', 'In Progress', 'Resubmitted', 'Awaiting User')"
    };
}

/// The session with the application columns a decision needs, by primary key only (see `find`).
macro_rules! session_with_app {
    () => {
        "SELECT s.*, a.mode AS app_mode, COALESCE(a.email_brand, a.name) AS app_name,
            a.email_sender_name
         FROM sessions s JOIN apps a ON a.id = s.app_id WHERE s.id = $1"
    };
}

/// A live session of the application. `lock` takes its row lock (PostgreSQL), so the caller's
/// transaction is the only writer of that session until it ends.
pub async fn find(
    db: &impl Db,
    app_id: AppId,
    id: SessionId,
    lock: bool,
) -> StoreResult<Option<Session>> {
    // By primary key only, the application and deletion checked here: with more conditions a
    // planner may pick another index (seen on PostgreSQL: a generic plan scanning every session
    // of the application through (app_id, number) to find one id).
    let sql = if lock {
        locked!(
            db,
            concat!(
                "SELECT ",
                session_columns!(),
                ", deleted_at FROM sessions WHERE id = $1"
            )
        )
    } else {
        concat!(
            "SELECT ",
            session_columns!(),
            ", deleted_at FROM sessions WHERE id = $1"
        )
    };
    let found = db
        .query_opt(stmt!(sql, id), |r| {
            Ok((rows::session(r)?, r.opt_time("deleted_at")?))
        })
        .await?;
    Ok(found.and_then(|(s, deleted)| (s.app_id == app_id && deleted.is_none()).then_some(s)))
}

/// A live session by id, whatever its application (the console checks the user's own).
pub async fn find_any_app(db: &impl Db, id: SessionId) -> StoreResult<Option<Session>> {
    let sql = concat!(
        "SELECT ",
        session_columns!(),
        ", deleted_at FROM sessions WHERE id = $1"
    );
    let found = db
        .query_opt(stmt!(sql, id), |r| {
            Ok((rows::session(r)?, r.opt_time("deleted_at")?))
        })
        .await?;
    Ok(found.and_then(|(s, deleted)| deleted.is_none().then_some(s)))
}

/// The session of a person's link (`session_token`), deleted or not. The index finds the
/// tokens sharing the first 8 characters; the whole token is compared in constant time.
pub async fn by_token(db: &impl Db, token: &str) -> StoreResult<Option<LinkTarget>> {
    use subtle::ConstantTimeEq;
    let Some(prefix) = token.get(..8) else {
        return Ok(None);
    };
    let candidates = db
        .query(
            stmt!(
                "SELECT app_id, id, deleted_at, token FROM sessions WHERE substr(token, 1, 8) = $1",
                prefix
            ),
            |r| {
                Ok((
                    r.text("token")?,
                    LinkTarget {
                        app_id: r.uuid("app_id")?,
                        session_id: r.uuid("id")?,
                        deleted: r.opt_time("deleted_at")?.is_some(),
                    },
                ))
            },
        )
        .await?;
    Ok(candidates
        .into_iter()
        .find(|(t, _)| bool::from(t.as_bytes().ct_eq(token.as_bytes())))
        .map(|(_, target)| target))
}

/// Creates the session, or reuses the unfinished one with the same `vendor_data` on the same
/// workflow version (its callback and metadata updated).
pub async fn create(db: &impl Db, new: NewSession) -> StoreResult<Session> {
    create_with(db, new, true).await
}

/// As `create`; without `reuse`, always a fresh session.
pub async fn create_with(
    db: &impl Db,
    mut new: NewSession,
    reuse_unfinished: bool,
) -> StoreResult<Session> {
    // Stored with microsecond precision: answer what a later read will see.
    new.now = micros(new.now);
    new.expires_at = micros(new.expires_at);
    // The named workflow, or the application's default, at its latest published version.
    let wf = db
        .query_opt(
            stmt!(
                "SELECT * FROM workflows
                 WHERE app_id = $1 AND status = 'published'
                   AND id = COALESCE($2, (
                       SELECT w.id FROM workflows w
                       WHERE w.app_id = $1 AND w.is_default = TRUE
                         AND w.version = (SELECT MAX(version) FROM workflows v WHERE v.id = w.id)
                       ORDER BY w.created_at DESC LIMIT 1))
                 ORDER BY version DESC LIMIT 1",
                new.app_id,
                new.workflow_id
            ),
            rows::workflow,
        )
        .await?
        .ok_or(StoreError::NotFound(Entity::PublishedWorkflow))?;
    if wf.archived_at.is_some() {
        return Err(StoreError::NotFound(Entity::ActiveWorkflow));
    }

    let scenario = new.sandbox_scenario.clone();
    if let Some(vd) = new.vendor_data.as_ref().filter(|_| reuse_unfinished) {
        if let Some(s) = reuse(db, &new, vd, &wf).await? {
            if scenario.is_some() {
                super::sandbox::set_scenario(db, s.id, scenario).await?;
            }
            return Ok(s);
        }
    }
    let mut s = new.into_session(0, &wf);
    insert(db, &mut s).await?;
    if scenario.is_some() {
        super::sandbox::set_scenario(db, s.id, scenario).await?;
    }
    Ok(s)
}

macro_rules! insert_session {
    () => {
        "INSERT INTO sessions (id, kind, app_id, number, token, status, workflow_id,
            workflow_version, vendor_data, metadata, callback, callback_method, language,
            contact_details, expected_details, version, created_at, updated_at, expires_at)"
    };
}

/// Stores a new session as `into_session` made it, numbering it in its application.
pub async fn insert(db: &impl Db, s: &mut Session) -> StoreResult<()> {
    match db.dialect() {
        // The number is taken by the INSERT itself, in one round trip.
        Dialect::Postgres => {
            let mut params = insert_params(s);
            params[3] = crate::postgres::number_sequence(s.app_id).into();
            let sql = concat!(
                insert_session!(),
                " VALUES ($1, $2, $3, nextval($4::text::regclass), $5, $6, $7, $8, $9, $10, $11,
                    $12, $13, $14, $15, $16, $17, $18, $19)
                 RETURNING number"
            );
            s.number = db
                .query_one(Stmt::new(sql, params), |r| r.int("number"))
                .await?;
        }
        Dialect::Sqlite => {
            s.number = numbers(db, s.app_id, 1).await?[0];
            db.execute(insert_numbered(s)).await?;
        }
    }
    Ok(())
}

/// `n` new session numbers of the application.
pub async fn numbers(db: &impl Db, app_id: AppId, n: i64) -> StoreResult<Vec<i64>> {
    match db.dialect() {
        // A sequence per application: concurrent creations do not wait for each other's
        // commits.
        Dialect::Postgres => {
            db.query(
                stmt!(
                    "SELECT nextval($1::text::regclass) AS n FROM generate_series(1, $2)",
                    crate::postgres::number_sequence(app_id),
                    n
                ),
                rows::count,
            )
            .await
        }
        // The single writer owns the counter.
        Dialect::Sqlite => {
            let first = db
                .query_one(
                    stmt!(
                        "UPDATE apps SET next_session_number = next_session_number + $2
                         WHERE id = $1 RETURNING next_session_number - $2 AS n",
                        app_id,
                        n
                    ),
                    rows::count,
                )
                .await?;
            Ok((first..first + n).collect())
        }
    }
}

/// The INSERT of a new session whose number is taken.
pub fn insert_numbered(s: &Session) -> Stmt {
    Stmt::new(
        concat!(
            insert_session!(),
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                $17, $18, $19)"
        ),
        insert_params(s),
    )
}

/// The INSERT of a session stored already decided (an imported one): `s` with its status, and
/// what a change's UPDATE would set beside it.
pub fn insert_decided(
    s: &Session,
    country: Option<String>,
    full_name: Option<String>,
    kyc_expires_at: Option<DateTime<Utc>>,
) -> Stmt {
    let mut params = insert_params(s);
    params.extend([country.into(), full_name.into(), kyc_expires_at.into()]);
    Stmt::new(
        concat!(
            "INSERT INTO sessions (id, kind, app_id, number, token, status, workflow_id,
            workflow_version, vendor_data, metadata, callback, callback_method, language,
            contact_details, expected_details, version, created_at, updated_at, expires_at,
            country, full_name, kyc_expires_at)",
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                $17, $18, $19, $20, $21, $22)"
        ),
        params,
    )
}

fn insert_params(s: &Session) -> Vec<Param> {
    vec![
        Param::from(s.id),
        s.kind.as_str().into(),
        s.app_id.into(),
        s.number.into(),
        s.token.as_str().into(),
        s.status.as_str().into(),
        s.workflow_id.into(),
        s.workflow_version.into(),
        s.vendor_data.clone().into(),
        Param::json(&s.metadata),
        s.callback.clone().into(),
        s.callback_method.map(CallbackMethod::as_str).into(),
        s.language.clone().into(),
        Param::json(&s.contact_details),
        Param::json(&s.expected_details),
        s.version.into(),
        s.created_at.into(),
        s.updated_at.into(),
        s.expires_at.into(),
    ]
}

/// The unfinished session with this `vendor_data`, taken over for a new creation, if any.
async fn reuse(
    db: &impl Db,
    new: &NewSession,
    vd: &str,
    wf: &WorkflowRecord,
) -> StoreResult<Option<Session>> {
    // Creations with one vendor_data serialize (on every PostgreSQL node), so two of them cannot
    // both miss an unfinished session and create a second; others do not wait. The sessions
    // with this vendor_data (deleted ones have none) are found through the (vendor_data, app_id)
    // index and the rest is filtered on them: with the application, status and deletion in one
    // WHERE, a generic plan may walk every unfinished session of the application instead (seen
    // on PostgreSQL: 700 creations/s).
    let lookup = stmt!(
        concat!(
            "WITH same AS MATERIALIZED (SELECT ",
            session_columns!(),
            " FROM sessions WHERE vendor_data = $2)
             SELECT * FROM same
             WHERE app_id = $1 AND workflow_id = $3 AND workflow_version = $4 AND ",
            unfinished!(),
            " ORDER BY number DESC LIMIT 1"
        ),
        new.app_id,
        vd,
        wf.id,
        wf.version
    );
    // Sent together: the lookup runs once the lock is held.
    let (_, found) = tokio::try_join!(
        biased;
        db.lock(format!("{}/vendor_data/{vd}", new.app_id)),
        db.query_opt(lookup, |r| r.uuid::<SessionId>("id")),
    )?;
    let Some(id) = found else { return Ok(None) };
    // Taken under its row lock, and only while it is still unfinished: a decision that landed
    // meanwhile means a new session after all.
    db.query_opt(
        stmt!(
            concat!(
                "UPDATE sessions SET callback = $1, metadata = $2, updated_at = $3,
                    version = version + 1
                 WHERE id = $4 AND deleted_at IS NULL AND ",
                unfinished!(),
                " RETURNING ",
                session_columns!()
            ),
            new.callback.clone(),
            Param::json(&new.metadata),
            new.now,
            id
        ),
        rows::session,
    )
    .await
}

pub async fn attempts(db: &impl Db, session_id: SessionId) -> StoreResult<Vec<Attempt>> {
    db.query(
        stmt!(
            "SELECT * FROM attempts WHERE session_id = $1 ORDER BY seq",
            session_id
        ),
        rows::attempt,
    )
    .await
}

/// A workflow version, from the cache when it has been read before (versions never change).
pub async fn workflow(
    db: &impl Db,
    cache: &WorkflowCache,
    id: WorkflowId,
    version: i64,
) -> StoreResult<Arc<WorkflowRecord>> {
    if let Some(w) = cache.cached(id, version) {
        return Ok(w);
    }
    let w = super::catalog::workflow_version(db, id, version)
        .await?
        .ok_or_else(|| StoreError::Internal("session's workflow version is missing".into()))?;
    Ok(cache.remember(w))
}

/// The application columns a decision and its emails need.
struct AppFacts {
    environment: Environment,
    app_name: String,
    email_sender_name: Option<String>,
}

fn app_facts(r: &crate::sql::Row) -> StoreResult<AppFacts> {
    Ok(AppFacts {
        environment: Environment::parse(&r.text("app_mode")?).unwrap_or(Environment::Live),
        app_name: r.text("app_name")?,
        email_sender_name: r.opt_text("email_sender_name")?,
    })
}

/// The state a decision needs and the chain's tip, read inside the write transaction with the
/// session's row locked: the session with its application, its attempts and its last review
/// row go out together (one round trip on PostgreSQL, which reads the attempts and the tip only
/// once the lock is held).
pub async fn state(
    db: &impl Db,
    cache: &WorkflowCache,
    app_id: AppId,
    id: SessionId,
) -> StoreResult<Option<(SessionState, ChainTip)>> {
    let session = stmt!(
        match db.dialect() {
            Dialect::Postgres => concat!(session_with_app!(), " FOR UPDATE OF s"),
            Dialect::Sqlite => session_with_app!(),
        },
        id
    );
    let (found, attempts, tip) = tokio::try_join!(
        biased;
        db.query_opt(session, |r| Ok((
            rows::session(r)?,
            r.opt_time("deleted_at")?,
            r.opt_time("backend_resubmitted_at")?,
            app_facts(r)?,
        ))),
        attempts(db, id),
        tip(db, id),
    )?;
    let Some((session, deleted, last_backend, app)) = found else {
        return Ok(None);
    };
    if session.app_id != app_id || deleted.is_some() {
        return Ok(None);
    }
    let workflow = workflow(db, cache, session.workflow_id, session.workflow_version).await?;
    let state = SessionState {
        app_name: app.app_name,
        email_sender_name: app.email_sender_name,
        environment: app.environment,
        workflow,
        attempts,
        last_backend_resubmission: last_backend,
        session,
    };
    Ok(Some((state, tip)))
}

/// The last review row of a session: its seq and hash (0 and the genesis hash when none).
pub async fn tip(db: &impl Db, session_id: SessionId) -> StoreResult<ChainTip> {
    let found = db
        .query_opt(
            stmt!(
                "SELECT seq, hash FROM reviews WHERE session_id = $1 ORDER BY seq DESC LIMIT 1",
                session_id
            ),
            |r| Ok((r.int("seq")?, r.text("hash")?)),
        )
        .await?;
    Ok(found.unwrap_or_else(|| (0, GENESIS_HASH.to_string())))
}

/// The session with its pinned workflow, attempts and review trail.
pub async fn bundle(
    db: &impl Db,
    cache: &WorkflowCache,
    app_id: AppId,
    id: SessionId,
) -> StoreResult<Option<SessionBundle>> {
    let Some(session) = find(db, app_id, id, false).await? else {
        return Ok(None);
    };
    let app = stmt!(
        "SELECT mode AS app_mode, COALESCE(email_brand, name) AS app_name, email_sender_name,
            allowed_domains
         FROM apps WHERE id = $1",
        app_id
    );
    let (workflow, (app, allowed_domains), attempts, reviews, media) = tokio::try_join!(
        workflow(db, cache, session.workflow_id, session.workflow_version),
        db.query_one(app, |r| {
            let origins: Vec<String> =
                serde_json::from_str(&r.text("allowed_domains")?).unwrap_or_default();
            Ok((app_facts(r)?, origins))
        }),
        attempts(db, id),
        reviews(db, id),
        super::media::of_session(db, id),
    )?;
    Ok(Some(SessionBundle {
        allowed_domains,
        media,
        app_name: app.app_name,
        email_sender_name: app.email_sender_name,
        attempts,
        reviews,
        environment: app.environment,
        workflow,
        session,
    }))
}

/// Soft delete plus erasure: personal data in the session, its attempts and its review rows is
/// removed, its undelivered events and deliveries are dropped and its pending emails too.
pub async fn delete(
    db: &impl Db,
    app_id: AppId,
    id: SessionId,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    if find(db, app_id, id, true).await?.is_none() {
        return Ok(false);
    }
    db.execute_all(vec![
        stmt!(
            "UPDATE sessions SET deleted_at = $1, updated_at = $1, vendor_data = NULL,
                metadata = '{}', callback = NULL, contact_details = '{}', expected_details = '{}',
                full_name = NULL, version = version + 1
             WHERE id = $2",
            now,
            id
        ),
        stmt!(
            "UPDATE attempts SET data = '{}', warnings = '[]' WHERE session_id = $1",
            id
        ),
        stmt!(
            "UPDATE reviews SET comment = NULL, metadata = '{}', redacted = TRUE
             WHERE session_id = $1 AND redacted = FALSE",
            id
        ),
        stmt!(
            "UPDATE outbox_events SET dropped_at = $1 WHERE session_id = $2 AND dropped_at IS NULL",
            now,
            id
        ),
        stmt!(
            "UPDATE webhook_deliveries SET state = 'dropped', updated_at = $1
             WHERE session_id = $2 AND state = 'pending'",
            now,
            id
        ),
        stmt!("DELETE FROM person_codes WHERE session_id = $1", id),
        // Crypto-shredding: without its key no copy of a file can be read again.
        stmt!("DELETE FROM media WHERE session_id = $1", id),
        stmt!("DELETE FROM media_keys WHERE session_id = $1", id),
        stmt!("DELETE FROM sandbox_plans WHERE session_id = $1", id),
        // Its vendor_data goes with it: a later import of the same record creates it again.
        stmt!("DELETE FROM import_refs WHERE session_id = $1", id),
        stmt!(
            "UPDATE engine_jobs SET state = 'dropped', input = '{}', locked_until = NULL
             WHERE session_id = $1 AND state = 'pending'",
            id
        ),
        stmt!(
            "UPDATE email_jobs SET recipient = NULL, payload = '{}',
                state = CASE WHEN state = 'pending' THEN 'dropped' ELSE state END
             WHERE session_id = $1",
            id
        ),
    ])
    .await?;
    Ok(true)
}
