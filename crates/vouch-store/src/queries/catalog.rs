//! Applications, API keys and workflows.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use vouch_core::WorkflowId;
use vouch_core::{AppId, KeyId};

use super::locked;
use crate::model::{ApiKey, App, Page, WorkflowRecord, WorkflowUpdate};
use crate::rows;
use crate::sql::{Db, Param};
use crate::{stmt, Entity, StoreError, StoreResult};

pub async fn insert_app(db: &impl Db, app: &App) -> StoreResult<()> {
    db.execute(stmt!(
        "INSERT INTO apps (id, name, mode, created_at) VALUES ($1, $2, $3, $4)",
        app.id,
        &app.name,
        app.mode.as_str(),
        app.created_at
    ))
    .await
    .map_err(|e| match e {
        StoreError::Duplicate(_) => {
            StoreError::Duplicate(format!("an application named {:?}", app.name))
        }
        e => e,
    })
    .map(|_| ())
}

pub async fn list_apps(db: &impl Db) -> StoreResult<Vec<App>> {
    db.query(
        stmt!("SELECT * FROM apps ORDER BY created_at, name"),
        rows::app,
    )
    .await
}

/// By id first, then by exact name.
pub async fn find_app(db: &impl Db, name_or_id: &str) -> StoreResult<Option<App>> {
    if let Ok(id) = Uuid::parse_str(name_or_id) {
        let found = db
            .query_opt(stmt!("SELECT * FROM apps WHERE id = $1", id), rows::app)
            .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    db.query_opt(
        stmt!("SELECT * FROM apps WHERE name = $1", name_or_id),
        rows::app,
    )
    .await
}

/// `None` keeps a value, an empty string clears it.
pub async fn set_branding(
    db: &impl Db,
    app_id: AppId,
    sender_name: Option<String>,
    brand: Option<String>,
) -> StoreResult<()> {
    db.execute(stmt!(
        "UPDATE apps SET
            email_sender_name = CASE WHEN CAST($1 AS TEXT) IS NULL THEN email_sender_name
                                     ELSE NULLIF(CAST($1 AS TEXT), '') END,
            email_brand = CASE WHEN CAST($2 AS TEXT) IS NULL THEN email_brand
                               ELSE NULLIF(CAST($2 AS TEXT), '') END
         WHERE id = $3",
        sender_name,
        brand,
        app_id
    ))
    .await
    .map(|_| ())
}

/// The origins allowed to frame the application's person's page.
pub async fn set_allowed_domains(
    db: &impl Db,
    app_id: AppId,
    origins: &[String],
) -> StoreResult<()> {
    db.execute(stmt!(
        "UPDATE apps SET allowed_domains = $1 WHERE id = $2",
        serde_json::to_string(origins).unwrap_or_else(|_| "[]".into()),
        app_id
    ))
    .await
    .map(|_| ())
}

pub async fn insert_key(db: &impl Db, k: &ApiKey) -> StoreResult<()> {
    db.execute(stmt!(
        "INSERT INTO api_keys (id, app_id, name, key_hash, prefix, last4, sessions, decisions,
            webhooks, workflows, media, expires_at, revoked_at, created_at, rate_limit)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        k.id,
        k.app_id,
        k.name.clone(),
        &k.key_hash[..],
        &k.prefix,
        &k.last4,
        k.scopes.sessions.as_str(),
        k.scopes.decisions.as_str(),
        k.scopes.webhooks.as_str(),
        k.scopes.workflows.as_str(),
        k.scopes.media.as_str(),
        k.expires_at,
        k.revoked_at,
        k.created_at,
        k.rate_limit.map(i64::from)
    ))
    .await
    .map(|_| ())
}

pub async fn list_keys(db: &impl Db, app_id: AppId) -> StoreResult<Vec<ApiKey>> {
    db.query(
        stmt!(
            "SELECT * FROM api_keys WHERE app_id = $1 ORDER BY created_at",
            app_id
        ),
        rows::api_key,
    )
    .await
}

pub async fn revoke_key(db: &impl Db, key_id: KeyId, now: DateTime<Utc>) -> StoreResult<bool> {
    let n = db
        .execute(stmt!(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
            key_id,
            now
        ))
        .await?;
    Ok(n > 0)
}

/// Sets a key's own rate limit (`None`: the configured default); false when no such key exists.
pub async fn set_key_rate_limit(
    db: &impl Db,
    key_id: KeyId,
    limit: Option<u32>,
) -> StoreResult<bool> {
    let n = db
        .execute(stmt!(
            "UPDATE api_keys SET rate_limit = $2 WHERE id = $1",
            key_id,
            limit.map(i64::from)
        ))
        .await?;
    Ok(n > 0)
}

/// Every key whose hash starts with `prefix`, with its application.
pub async fn keys_by_hash_prefix(db: &impl Db, prefix: [u8; 8]) -> StoreResult<Vec<(ApiKey, App)>> {
    // Both backends compare bytes bytewise: the hashes starting with `prefix` lie in
    // [prefix, prefix + ff…].
    let mut upper = prefix.to_vec();
    upper.extend_from_slice(&[0xff; 24]);
    db.query(
        stmt!(
            "SELECT k.*, a.id AS a_id, a.name AS a_name, a.mode AS a_mode, a.created_at AS a_created
             FROM api_keys k JOIN apps a ON a.id = k.app_id
             WHERE k.key_hash >= $1 AND k.key_hash <= $2",
            &prefix[..],
            upper
        ),
        |r| Ok((rows::api_key(r)?, rows::joined_app(r)?)),
    )
    .await
}

pub async fn insert_workflow(db: &impl Db, w: &WorkflowRecord) -> StoreResult<()> {
    if w.is_default {
        clear_default(db, w.app_id, w.id).await?;
    }
    db.execute(stmt!(
        "INSERT INTO workflows (id, version, app_id, label, kind, status, is_default, spec,
            settings, archived_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        w.id,
        w.version,
        w.app_id,
        &w.label,
        w.spec.kind.as_str(),
        w.status.as_str(),
        w.is_default,
        Param::json(&w.spec),
        Param::json(&w.settings),
        w.archived_at,
        w.created_at
    ))
    .await
    .map(|_| ())
}

/// Only one workflow of an application is the default.
async fn clear_default(db: &impl Db, app_id: AppId, except: WorkflowId) -> StoreResult<()> {
    db.execute(stmt!(
        "UPDATE workflows SET is_default = FALSE
         WHERE app_id = $1 AND id <> $2 AND is_default = TRUE",
        app_id,
        except
    ))
    .await
    .map(|_| ())
}

/// The current (highest) version.
pub async fn current_workflow(
    db: &impl Db,
    app_id: AppId,
    id: WorkflowId,
) -> StoreResult<Option<WorkflowRecord>> {
    db.query_opt(
        stmt!(
            "SELECT * FROM workflows WHERE app_id = $1 AND id = $2 ORDER BY version DESC LIMIT 1",
            app_id,
            id
        ),
        rows::workflow,
    )
    .await
}

pub async fn workflow_version(
    db: &impl Db,
    id: WorkflowId,
    version: i64,
) -> StoreResult<Option<WorkflowRecord>> {
    db.query_opt(
        stmt!(
            "SELECT * FROM workflows WHERE id = $1 AND version = $2",
            id,
            version
        ),
        rows::workflow,
    )
    .await
}

/// Current versions, newest workflow first.
pub async fn list_workflows(
    db: &impl Db,
    app_id: AppId,
    page: Page,
) -> StoreResult<(Vec<WorkflowRecord>, i64)> {
    let count = db
        .query_one(
            stmt!(
                "SELECT COUNT(DISTINCT id) AS n FROM workflows WHERE app_id = $1",
                app_id
            ),
            rows::count,
        )
        .await?;
    let list = db
        .query(
            stmt!(
                "SELECT w.* FROM workflows w
                 WHERE w.app_id = $1
                   AND w.version = (SELECT MAX(version) FROM workflows v WHERE v.id = w.id)
                 ORDER BY (SELECT MIN(created_at) FROM workflows f WHERE f.id = w.id) DESC, w.id
                 LIMIT $2 OFFSET $3",
                app_id,
                page.limit,
                page.offset
            ),
            rows::workflow,
        )
        .await?;
    Ok((list, count))
}

/// Writes a new version, or updates label, status and default in place.
pub async fn update_workflow(db: &impl Db, u: WorkflowUpdate) -> StoreResult<WorkflowRecord> {
    // The current version, locked: concurrent updates of one workflow serialize.
    let current = db
        .query_opt(
            stmt!(
                locked!(
                    db,
                    "SELECT * FROM workflows WHERE app_id = $1 AND id = $2
                     ORDER BY version DESC LIMIT 1"
                ),
                u.app_id,
                u.id
            ),
            rows::workflow,
        )
        .await?
        .ok_or(StoreError::NotFound(Entity::Workflow))?;
    let next = current.updated(u);
    if next.version != current.version {
        insert_workflow(db, &next).await?;
    } else {
        if next.is_default {
            clear_default(db, next.app_id, next.id).await?;
        }
        db.execute(stmt!(
            "UPDATE workflows SET label = $1, status = $2, is_default = $3, settings = $4
             WHERE id = $5 AND version = $6",
            &next.label,
            next.status.as_str(),
            next.is_default,
            Param::json(&next.settings),
            next.id,
            next.version
        ))
        .await?;
    }
    Ok(next)
}

/// Archives every version of the workflow (it stops being the default); answers the current
/// version as it now is. Archiving twice keeps the first time.
pub async fn archive_workflow(
    db: &impl Db,
    app_id: AppId,
    id: WorkflowId,
    now: DateTime<Utc>,
) -> StoreResult<Option<WorkflowRecord>> {
    db.execute(stmt!(
        "UPDATE workflows SET archived_at = COALESCE(archived_at, $1), is_default = FALSE
         WHERE app_id = $2 AND id = $3",
        now,
        app_id,
        id
    ))
    .await?;
    current_workflow(db, app_id, id).await
}

/// The latest published version, which new sessions are pinned to.
pub async fn latest_published(
    db: &impl Db,
    app_id: AppId,
    id: WorkflowId,
) -> StoreResult<Option<WorkflowRecord>> {
    db.query_opt(
        stmt!(
            "SELECT * FROM workflows WHERE app_id = $1 AND id = $2 AND status = 'published'
             ORDER BY version DESC LIMIT 1",
            app_id,
            id
        ),
        rows::workflow,
    )
    .await
}

/// The id of the application's default workflow, if any.
pub async fn default_workflow_id(db: &impl Db, app_id: AppId) -> StoreResult<Option<WorkflowId>> {
    db.query_opt(
        stmt!(
            "SELECT w.id FROM workflows w
             WHERE w.app_id = $1
               AND w.version = (SELECT MAX(version) FROM workflows v WHERE v.id = w.id)
               AND w.is_default = TRUE
             ORDER BY w.created_at DESC LIMIT 1",
            app_id
        ),
        |r| r.uuid("id"),
    )
    .await
}
