//! The console's users, logins and events.

use chrono::{DateTime, Duration, Utc};
use vouch_core::console::{Failures, Role};

use crate::console::{ConsoleEvent, ConsoleLogin, ConsoleUser, UserChange};
use crate::sql::{Db, Param, Row};
use crate::{stmt, StoreError, StoreResult};

fn user(r: &Row) -> StoreResult<ConsoleUser> {
    Ok(ConsoleUser {
        id: r.uuid("id")?,
        email: r.text("email")?,
        password_hash: r.text("password_hash")?,
        role: r.parse("role", Role::parse)?,
        apps: r.decode("apps")?,
        disabled_at: r.opt_time("disabled_at")?,
        created_at: r.time("created_at")?,
        totp_secret: r.opt_text("totp_secret")?,
        totp_last_step: r.opt_int("totp_last_step")?,
    })
}

fn event(r: &Row) -> StoreResult<ConsoleEvent> {
    Ok(ConsoleEvent {
        id: r.uuid("id")?,
        at: r.time("at")?,
        kind: r.text("kind")?,
        email: r.text("email")?,
        address: r.opt_text("address")?,
        detail: r.opt_text("detail")?,
    })
}

pub async fn record(db: &impl Db, e: &ConsoleEvent) -> StoreResult<()> {
    db.execute(stmt!(
        "INSERT INTO console_events (id, at, kind, email, address, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
        e.id,
        e.at,
        &e.kind,
        &e.email,
        e.address.clone(),
        e.detail.clone()
    ))
    .await
    .map(|_| ())
}

pub async fn create_user(db: &impl Db, u: &ConsoleUser, e: &ConsoleEvent) -> StoreResult<()> {
    db.execute(stmt!(
        "INSERT INTO console_users (id, email, password_hash, role, apps, disabled_at, created_at,
                                    totp_secret)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        u.id,
        &u.email,
        &u.password_hash,
        u.role,
        Param::json(&u.apps),
        u.disabled_at,
        u.created_at,
        u.totp_secret.clone()
    ))
    .await
    .map_err(|err| match err {
        StoreError::Duplicate(_) => {
            StoreError::Duplicate(format!("a console user with the email {:?}", u.email))
        }
        err => err,
    })?;
    record(db, e).await
}

pub async fn users(db: &impl Db) -> StoreResult<Vec<ConsoleUser>> {
    db.query(
        stmt!("SELECT * FROM console_users ORDER BY created_at, email"),
        user,
    )
    .await
}

pub async fn user_by_email(db: &impl Db, email: &str) -> StoreResult<Option<ConsoleUser>> {
    db.query_opt(
        stmt!("SELECT * FROM console_users WHERE email = $1", email),
        user,
    )
    .await
}

pub async fn update_user(
    db: &impl Db,
    email: &str,
    change: UserChange,
    events: &[ConsoleEvent],
) -> StoreResult<Option<ConsoleUser>> {
    let Some(mut u) = user_by_email(db, email).await? else {
        return Ok(None);
    };
    let ends_logins = change.ends_logins();
    if let Some(role) = change.role {
        u.role = role;
    }
    if let Some(apps) = change.apps {
        u.apps = apps;
    }
    if let Some(disabled_at) = change.disabled_at {
        u.disabled_at = disabled_at;
    }
    if let Some(hash) = change.password_hash {
        u.password_hash = hash;
    }
    if let Some(totp) = change.totp_secret {
        u.totp_secret = totp;
        u.totp_last_step = None;
    }
    db.execute(stmt!(
        "UPDATE console_users SET password_hash = $1, role = $2, apps = $3, disabled_at = $4,
            totp_secret = $5, totp_last_step = $6
         WHERE id = $7",
        &u.password_hash,
        u.role,
        Param::json(&u.apps),
        u.disabled_at,
        u.totp_secret.clone(),
        u.totp_last_step,
        u.id
    ))
    .await?;
    if ends_logins {
        db.execute(stmt!("DELETE FROM console_logins WHERE user_id = $1", u.id))
            .await?;
    }
    for e in events {
        record(db, e).await?;
    }
    Ok(Some(u))
}

pub async fn start_login(db: &impl Db, l: &ConsoleLogin, e: &ConsoleEvent) -> StoreResult<()> {
    db.execute(stmt!(
        "INSERT INTO console_logins (token_hash, user_id, csrf, created_at, seen_at)
         VALUES ($1, $2, $3, $4, $5)",
        l.token_hash.clone(),
        l.user_id,
        &l.csrf,
        l.created_at,
        l.seen_at
    ))
    .await?;
    record(db, e).await
}

/// A live login and its user (see `ConsoleStore::console_login`), without recording its use.
pub async fn live_login(
    db: &impl Db,
    token_hash: &[u8],
    idle_since: DateTime<Utc>,
    absolute_since: DateTime<Utc>,
) -> StoreResult<Option<(ConsoleLogin, ConsoleUser)>> {
    let found = db
        .query_opt(
            stmt!(
                "SELECT l.token_hash, l.user_id, l.csrf, l.created_at AS login_created_at,
                        l.seen_at, u.*
                 FROM console_logins l JOIN console_users u ON u.id = l.user_id
                 WHERE l.token_hash = $1",
                token_hash
            ),
            |r| {
                let l = ConsoleLogin {
                    token_hash: r.bytes("token_hash")?,
                    user_id: r.uuid("user_id")?,
                    csrf: r.text("csrf")?,
                    created_at: r.time("login_created_at")?,
                    seen_at: r.time("seen_at")?,
                };
                Ok((l, user(r)?))
            },
        )
        .await?;
    Ok(found.filter(|(l, u)| {
        l.seen_at >= idle_since && l.created_at >= absolute_since && u.disabled_at.is_none()
    }))
}

/// Whether a login's use is worth writing down (once a minute at most).
pub fn stale_use(l: &ConsoleLogin, now: DateTime<Utc>) -> bool {
    now - l.seen_at > Duration::minutes(1)
}

pub async fn touch_login(db: &impl Db, token_hash: &[u8], now: DateTime<Utc>) -> StoreResult<()> {
    db.execute(stmt!(
        "UPDATE console_logins SET seen_at = $1 WHERE token_hash = $2",
        now,
        token_hash
    ))
    .await
    .map(|_| ())
}

pub async fn end_login(
    db: &impl Db,
    token_hash: &[u8],
    everywhere: bool,
    e: &ConsoleEvent,
) -> StoreResult<()> {
    let st = if everywhere {
        stmt!(
            "DELETE FROM console_logins WHERE user_id IN
                (SELECT user_id FROM console_logins WHERE token_hash = $1)",
            token_hash
        )
    } else {
        stmt!(
            "DELETE FROM console_logins WHERE token_hash = $1",
            token_hash
        )
    };
    db.execute(st).await?;
    record(db, e).await
}

pub async fn failures(
    db: &impl Db,
    email: &str,
    address: &str,
    since: DateTime<Utc>,
) -> StoreResult<Failures> {
    let last_login = db
        .query(
            stmt!(
                "SELECT at FROM console_events WHERE email = $1 AND kind = 'login'
                 ORDER BY at DESC LIMIT 1",
                email
            ),
            |r| r.time("at"),
        )
        .await?
        .into_iter()
        .next();
    let account_since = last_login.map_or(since, |t| t.max(since));
    let by_account = db
        .query(
            stmt!(
                "SELECT at FROM console_events WHERE email = $1 AND kind = 'login_failed'
                 AND at > $2 ORDER BY at",
                email,
                account_since
            ),
            |r| r.time("at"),
        )
        .await?;
    let by_address = db
        .query(
            stmt!(
                "SELECT at FROM console_events WHERE address = $1 AND kind = 'login_failed'
                 AND at > $2 ORDER BY at",
                address,
                since
            ),
            |r| r.time("at"),
        )
        .await?;
    let oldest = by_account
        .first()
        .into_iter()
        .chain(by_address.first())
        .min()
        .copied();
    Ok(Failures {
        by_account: by_account.len() as i64,
        by_address: by_address.len() as i64,
        oldest,
    })
}

pub async fn events(db: &impl Db, limit: i64) -> StoreResult<Vec<ConsoleEvent>> {
    db.query(
        stmt!(
            "SELECT * FROM console_events ORDER BY at DESC, id DESC LIMIT $1",
            limit
        ),
        event,
    )
    .await
}

pub async fn use_totp_step(db: &impl Db, user_id: uuid::Uuid, step: i64) -> StoreResult<bool> {
    let n = db
        .execute(stmt!(
            "UPDATE console_users SET totp_last_step = $1
             WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
            step,
            user_id
        ))
        .await?;
    Ok(n == 1)
}
