//! Applications, API keys and workflows.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::rows::{self, all, db_err, execute, is_unique_violation, query, query_opt};
use crate::model::{ApiKey, App, Page, WorkflowRecord, WorkflowUpdate};
use crate::{StoreError, StoreResult};

pub async fn insert_app(c: &impl GenericClient, app: &App) -> StoreResult<()> {
    let st = c
        .prepare_cached("INSERT INTO apps (id, name, mode, created_at) VALUES ($1, $2, $3, $4)")
        .await
        .map_err(db_err)?;
    c.execute(
        &st,
        &[&app.id, &app.name, &app.mode.as_str(), &app.created_at],
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Duplicate(format!("an application named {:?}", app.name))
        } else {
            db_err(e)
        }
    })?;
    Ok(())
}

pub async fn list_apps(c: &impl GenericClient) -> StoreResult<Vec<App>> {
    let r = query(c, "SELECT * FROM apps ORDER BY created_at, name", &[]).await?;
    all(&r, rows::app)
}

pub async fn find_app(c: &impl GenericClient, name_or_id: &str) -> StoreResult<Option<App>> {
    let row = match Uuid::parse_str(name_or_id) {
        Ok(id) => query_opt(c, "SELECT * FROM apps WHERE id = $1", &[&id]).await?,
        Err(_) => None,
    };
    let row = match row {
        Some(r) => Some(r),
        None => query_opt(c, "SELECT * FROM apps WHERE name = $1", &[&name_or_id]).await?,
    };
    row.as_ref().map(rows::app).transpose()
}

pub async fn set_branding(
    c: &impl GenericClient,
    app_id: Uuid,
    sender_name: Option<String>,
    brand: Option<String>,
) -> StoreResult<()> {
    execute(
        c,
        "UPDATE apps SET
            email_sender_name = CASE WHEN $1::text IS NULL THEN email_sender_name ELSE NULLIF($1, '') END,
            email_brand = CASE WHEN $2::text IS NULL THEN email_brand ELSE NULLIF($2, '') END
         WHERE id = $3",
        &[&sender_name, &brand, &app_id],
    )
    .await
    .map(|_| ())
}

pub async fn insert_key(c: &impl GenericClient, k: &ApiKey) -> StoreResult<()> {
    execute(
        c,
        "INSERT INTO api_keys (id, app_id, name, key_hash, prefix, last4, sessions, decisions,
            webhooks, workflows, expires_at, revoked_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            &k.id,
            &k.app_id,
            &k.name,
            &&k.key_hash[..],
            &k.prefix,
            &k.last4,
            &k.scopes.sessions.as_str(),
            &k.scopes.decisions.as_str(),
            &k.scopes.webhooks.as_str(),
            &k.scopes.workflows.as_str(),
            &k.expires_at,
            &k.revoked_at,
            &k.created_at,
        ],
    )
    .await
    .map(|_| ())
}

pub async fn list_keys(c: &impl GenericClient, app_id: Uuid) -> StoreResult<Vec<ApiKey>> {
    let r = query(
        c,
        "SELECT * FROM api_keys WHERE app_id = $1 ORDER BY created_at",
        &[&app_id],
    )
    .await?;
    all(&r, rows::api_key)
}

pub async fn revoke_key(
    c: &impl GenericClient,
    key_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let n = execute(
        c,
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
        &[&key_id, &now],
    )
    .await?;
    Ok(n > 0)
}

pub async fn keys_by_hash_prefix(
    c: &impl GenericClient,
    prefix: [u8; 8],
) -> StoreResult<Vec<(ApiKey, App)>> {
    // bytea compares bytewise: every hash starting with `prefix` lies in [prefix, prefix+ff…].
    let mut upper = prefix.to_vec();
    upper.extend_from_slice(&[0xff; 24]);
    let r = query(
        c,
        "SELECT k.*, a.id AS a_id, a.name AS a_name, a.mode AS a_mode, a.created_at AS a_created
         FROM api_keys k JOIN apps a ON a.id = k.app_id
         WHERE k.key_hash >= $1 AND k.key_hash <= $2",
        &[&&prefix[..], &upper],
    )
    .await?;
    all(&r, |row| {
        let key = rows::api_key(row)?;
        let mode: &str = rows::get(row, "a_mode")?;
        let app = App {
            id: rows::get(row, "a_id")?,
            name: rows::get(row, "a_name")?,
            mode: vouch_core::session::Environment::parse(mode)
                .unwrap_or(vouch_core::session::Environment::Live),
            created_at: rows::get(row, "a_created")?,
        };
        Ok((key, app))
    })
}

pub async fn insert_workflow(c: &impl GenericClient, w: &WorkflowRecord) -> StoreResult<()> {
    if w.is_default {
        clear_default(c, w.app_id, w.id).await?;
    }
    execute(
        c,
        "INSERT INTO workflows (id, version, app_id, label, kind, status, is_default, spec, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &w.id,
            &w.version,
            &w.app_id,
            &w.label,
            &w.spec.kind.as_str(),
            &w.status.as_str(),
            &w.is_default,
            &rows::json(&w.spec)?,
            &w.created_at,
        ],
    )
    .await
    .map(|_| ())
}

/// Only one workflow of an application is the default.
async fn clear_default(c: &impl GenericClient, app_id: Uuid, except: Uuid) -> StoreResult<()> {
    execute(
        c,
        "UPDATE workflows SET is_default = false WHERE app_id = $1 AND id <> $2 AND is_default",
        &[&app_id, &except],
    )
    .await
    .map(|_| ())
}

pub async fn current_workflow(
    c: &impl GenericClient,
    app_id: Uuid,
    id: Uuid,
) -> StoreResult<Option<WorkflowRecord>> {
    query_opt(
        c,
        "SELECT * FROM workflows WHERE app_id = $1 AND id = $2 ORDER BY version DESC LIMIT 1",
        &[&app_id, &id],
    )
    .await?
    .as_ref()
    .map(rows::workflow)
    .transpose()
}

pub async fn workflow_version(
    c: &impl GenericClient,
    id: Uuid,
    version: i64,
) -> StoreResult<Option<WorkflowRecord>> {
    query_opt(
        c,
        "SELECT * FROM workflows WHERE id = $1 AND version = $2",
        &[&id, &version],
    )
    .await?
    .as_ref()
    .map(rows::workflow)
    .transpose()
}

pub async fn list_workflows(
    c: &impl GenericClient,
    app_id: Uuid,
    page: Page,
) -> StoreResult<(Vec<WorkflowRecord>, i64)> {
    let count: i64 = rows::get(
        &rows::query_one(
            c,
            "SELECT COUNT(DISTINCT id) AS n FROM workflows WHERE app_id = $1",
            &[&app_id],
        )
        .await?,
        "n",
    )?;
    let r = query(
        c,
        "SELECT w.* FROM workflows w
         WHERE w.app_id = $1 AND w.version = (SELECT MAX(version) FROM workflows v WHERE v.id = w.id)
         ORDER BY (SELECT MIN(created_at) FROM workflows f WHERE f.id = w.id) DESC, w.id
         LIMIT $2 OFFSET $3",
        &[&app_id, &page.limit, &page.offset],
    )
    .await?;
    Ok((all(&r, rows::workflow)?, count))
}

pub async fn update_workflow(
    c: &impl GenericClient,
    u: WorkflowUpdate,
) -> StoreResult<WorkflowRecord> {
    // The current version, locked: concurrent updates of one workflow serialize.
    let current = query_opt(
        c,
        "SELECT * FROM workflows WHERE app_id = $1 AND id = $2 ORDER BY version DESC LIMIT 1 FOR UPDATE",
        &[&u.app_id, &u.id],
    )
    .await?
    .as_ref()
    .map(rows::workflow)
    .transpose()?
    .ok_or_else(|| StoreError::NotFound("workflow".into()))?;
    let next = current.updated(u);
    if next.version != current.version {
        insert_workflow(c, &next).await?;
    } else {
        if next.is_default {
            clear_default(c, next.app_id, next.id).await?;
        }
        execute(
            c,
            "UPDATE workflows SET label = $1, status = $2, is_default = $3 WHERE id = $4 AND version = $5",
            &[
                &next.label,
                &next.status.as_str(),
                &next.is_default,
                &next.id,
                &next.version,
            ],
        )
        .await?;
    }
    Ok(next)
}
