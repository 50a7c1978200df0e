//! Applications, API keys and workflows.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::rows::{self, db_err, ts};
use crate::model::{ApiKey, App, Page, WorkflowRecord, WorkflowUpdate};
use crate::{StoreError, StoreResult};

pub fn insert_app(conn: &Connection, app: &App) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO apps (id, name, mode, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            app.id.to_string(),
            app.name,
            app.mode.as_str(),
            ts(app.created_at)
        ],
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Duplicate(format!("an application named {:?}", app.name))
        }
        e => db_err(e),
    })?;
    Ok(())
}

pub fn list_apps(conn: &Connection) -> StoreResult<Vec<App>> {
    let mut st = conn
        .prepare_cached("SELECT * FROM apps ORDER BY created_at, name")
        .map_err(db_err)?;
    let rows = st.query_map([], rows::app).map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

pub fn find_app(conn: &Connection, name_or_id: &str) -> StoreResult<Option<App>> {
    conn.query_row(
        "SELECT * FROM apps WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1",
        [name_or_id],
        rows::app,
    )
    .optional()
    .map_err(db_err)
}

pub fn insert_key(conn: &Connection, k: &ApiKey) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO api_keys (id, app_id, name, key_hash, prefix, last4, sessions, decisions,
            webhooks, workflows, expires_at, revoked_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            k.id.to_string(),
            k.app_id.to_string(),
            k.name,
            &k.key_hash[..],
            k.prefix,
            k.last4,
            k.scopes.sessions.as_str(),
            k.scopes.decisions.as_str(),
            k.scopes.webhooks.as_str(),
            k.scopes.workflows.as_str(),
            k.expires_at.map(ts),
            k.revoked_at.map(ts),
            ts(k.created_at),
        ],
    )
    .map_err(db_err)?;
    Ok(())
}

pub fn list_keys(conn: &Connection, app_id: Uuid) -> StoreResult<Vec<ApiKey>> {
    let mut st = conn
        .prepare_cached("SELECT * FROM api_keys WHERE app_id = ?1 ORDER BY created_at")
        .map_err(db_err)?;
    let rows = st
        .query_map([app_id.to_string()], rows::api_key)
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

pub fn keys_by_hash_prefix(conn: &Connection, prefix: [u8; 8]) -> StoreResult<Vec<(ApiKey, App)>> {
    // BLOB comparison is bytewise: every hash starting with `prefix` lies in [prefix, prefix+1).
    let mut upper = prefix.to_vec();
    upper.extend_from_slice(&[0xff; 24]);
    let mut st = conn
        .prepare_cached(
            "SELECT k.*, a.id AS a_id, a.name AS a_name, a.mode AS a_mode, a.created_at AS a_created
             FROM api_keys k JOIN apps a ON a.id = k.app_id
             WHERE k.key_hash >= ?1 AND k.key_hash <= ?2",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map(params![&prefix[..], upper], |r| {
            let key = rows::api_key(r)?;
            let app = App {
                id: rows::get_uuid(r, "a_id")?,
                name: r.get("a_name")?,
                mode: vouch_core::session::Environment::parse(&r.get::<_, String>("a_mode")?)
                    .unwrap_or(vouch_core::session::Environment::Live),
                created_at: rows::get_time(r, "a_created")?,
            };
            Ok((key, app))
        })
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

pub fn insert_workflow(conn: &Connection, w: &WorkflowRecord) -> StoreResult<()> {
    if w.is_default {
        clear_default(conn, w.app_id, w.id)?;
    }
    let spec = serde_json::to_string(&w.spec).map_err(|e| StoreError::Internal(e.to_string()))?;
    conn.execute(
        "INSERT INTO workflows (id, version, app_id, label, kind, status, is_default, spec, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            w.id.to_string(),
            w.version,
            w.app_id.to_string(),
            w.label,
            w.spec.kind.as_str(),
            w.status.as_str(),
            w.is_default,
            spec,
            ts(w.created_at)
        ],
    )
    .map_err(db_err)?;
    Ok(())
}

/// Only one workflow of an application is the default.
fn clear_default(conn: &Connection, app_id: Uuid, except: Uuid) -> StoreResult<()> {
    conn.execute(
        "UPDATE workflows SET is_default = 0 WHERE app_id = ?1 AND id <> ?2 AND is_default = 1",
        params![app_id.to_string(), except.to_string()],
    )
    .map_err(db_err)?;
    Ok(())
}

pub fn current_workflow(
    conn: &Connection,
    app_id: Uuid,
    id: Uuid,
) -> StoreResult<Option<WorkflowRecord>> {
    conn.query_row(
        "SELECT * FROM workflows WHERE app_id = ?1 AND id = ?2 ORDER BY version DESC LIMIT 1",
        params![app_id.to_string(), id.to_string()],
        rows::workflow,
    )
    .optional()
    .map_err(db_err)
}

/// The latest published version, which new sessions are pinned to.
pub fn latest_published(
    conn: &Connection,
    app_id: Uuid,
    id: Uuid,
) -> StoreResult<Option<WorkflowRecord>> {
    conn.query_row(
        "SELECT * FROM workflows WHERE app_id = ?1 AND id = ?2 AND status = 'published'
         ORDER BY version DESC LIMIT 1",
        params![app_id.to_string(), id.to_string()],
        rows::workflow,
    )
    .optional()
    .map_err(db_err)
}

/// The id of the application's default workflow, if any.
pub fn default_workflow_id(conn: &Connection, app_id: Uuid) -> StoreResult<Option<Uuid>> {
    let id: Option<String> = conn
        .query_row(
            "SELECT w.id FROM workflows w
             WHERE w.app_id = ?1 AND w.version = (SELECT MAX(version) FROM workflows v WHERE v.id = w.id)
               AND w.is_default = 1
             ORDER BY w.created_at DESC LIMIT 1",
            [app_id.to_string()],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    Ok(id.and_then(|s| Uuid::parse_str(&s).ok()))
}

pub fn workflow_version(
    conn: &Connection,
    id: Uuid,
    version: i64,
) -> StoreResult<Option<WorkflowRecord>> {
    conn.query_row(
        "SELECT * FROM workflows WHERE id = ?1 AND version = ?2",
        params![id.to_string(), version],
        rows::workflow,
    )
    .optional()
    .map_err(db_err)
}

pub fn list_workflows(
    conn: &Connection,
    app_id: Uuid,
    page: Page,
) -> StoreResult<(Vec<WorkflowRecord>, i64)> {
    let count: i64 = conn
        .query_row(
            "SELECT COUNT(DISTINCT id) FROM workflows WHERE app_id = ?1",
            [app_id.to_string()],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let mut st = conn
        .prepare_cached(
            "SELECT w.* FROM workflows w
             WHERE w.app_id = ?1 AND w.version = (SELECT MAX(version) FROM workflows v WHERE v.id = w.id)
             ORDER BY (SELECT MIN(created_at) FROM workflows f WHERE f.id = w.id) DESC, w.id
             LIMIT ?2 OFFSET ?3",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map(
            params![app_id.to_string(), page.limit, page.offset],
            rows::workflow,
        )
        .map_err(db_err)?;
    Ok((rows.collect::<Result<_, _>>().map_err(db_err)?, count))
}

pub fn update_workflow(conn: &Connection, u: WorkflowUpdate) -> StoreResult<WorkflowRecord> {
    let current = current_workflow(conn, u.app_id, u.id)?
        .ok_or_else(|| StoreError::NotFound("workflow".into()))?;
    let next = current.updated(u);
    if next.version != current.version {
        insert_workflow(conn, &next)?;
    } else {
        if next.is_default {
            clear_default(conn, next.app_id, next.id)?;
        }
        conn.execute(
            "UPDATE workflows SET label = ?1, status = ?2, is_default = ?3 WHERE id = ?4 AND version = ?5",
            params![
                next.label,
                next.status.as_str(),
                next.is_default,
                next.id.to_string(),
                next.version
            ],
        )
        .map_err(db_err)?;
    }
    Ok(next)
}

pub fn revoke_key(conn: &Connection, key_id: Uuid, now: &str) -> StoreResult<bool> {
    let n = conn
        .execute(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
            params![key_id.to_string(), now],
        )
        .map_err(db_err)?;
    Ok(n > 0)
}
