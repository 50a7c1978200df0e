//! Listing sessions with filters, and the lifecycle scheduler's scan.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use vouch_core::session::Session;
use vouch_core::AppId;
use vouch_core::SessionStatus;

use super::queue::in_list;
use crate::model::{DueTransition, KindFilter, LifecycleQuery, Page, SessionFilter};
use crate::rows::{self, session_columns};
use crate::sql::{Db, Param, Stmt};
use crate::{stmt, StoreResult};

fn day_start(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

/// The WHERE clause of a filter, its parameters appended to `params` (`$1` is the application).
fn filter_sql(db: &impl Db, filter: &SessionFilter, params: &mut Vec<Param>) -> String {
    let mut sql = String::from("app_id = $1 AND deleted_at IS NULL");
    // `clause` with each `#` replaced by the next parameter's placeholder.
    let mut push = |clause: &str, values: Vec<Param>| {
        let mut c = clause.to_string();
        for v in values {
            params.push(v);
            c = c.replacen('#', &format!("${}", params.len()), 1);
        }
        sql.push_str(" AND ");
        sql.push_str(&c);
    };
    let kind = match filter.kind.unwrap_or(KindFilter::User) {
        KindFilter::User => Some("user"),
        KindFilter::Business => Some("business"),
        KindFilter::All => None,
    };
    if let Some(k) = kind {
        push("kind = #", vec![k.into()]);
    }
    // Each status is a parameter of its own (a list has at most ten): planners do not search
    // an index for a list parameter (measured at a million sessions: SQLite scanned every
    // session for `IN (SELECT … json_each(…))`, 0.5 s; PostgreSQL's generic plan for
    // `= ANY($n)` walked the numbers and filtered, 250 ms for a deep page).
    if !filter.statuses.is_empty() {
        let values: Vec<Param> = filter
            .statuses
            .iter()
            .map(|s| Param::from(s.as_str()))
            .collect();
        let marks = vec!["#"; values.len()].join(", ");
        push(&format!("status IN ({marks})"), values);
    }
    if let Some(vd) = &filter.vendor_data {
        push("vendor_data = #", vec![vd.into()]);
    }
    if !filter.workflow_ids.is_empty() {
        push(
            &in_list(db, "workflow_id", 0).replace("$0", "#"),
            vec![Param::ids(&filter.workflow_ids)],
        );
    }
    if let Some(c) = &filter.country {
        push("country = #", vec![c.into()]);
    }
    if let Some(d) = filter.date_from {
        push("created_at >= #", vec![day_start(d).into()]);
    }
    if let Some(d) = filter.date_to {
        let next = d.succ_opt().unwrap_or(d);
        push("created_at < #", vec![day_start(next).into()]);
    }
    if let Some(t) = filter.time_from {
        push("created_at >= #", vec![t.into()]);
    }
    if let Some(t) = filter.time_to {
        push("created_at <= #", vec![t.into()]);
    }
    match filter.claimed {
        Some((Some(user), now)) => push(
            "EXISTS (SELECT 1 FROM console_claims c WHERE c.session_id = sessions.id \
             AND c.user_id = # AND c.expires_at > #)",
            vec![user.into(), now.into()],
        ),
        Some((None, now)) => push(
            "NOT EXISTS (SELECT 1 FROM console_claims c WHERE c.session_id = sessions.id \
             AND c.expires_at > #)",
            vec![now.into()],
        ),
        None => {}
    }
    if let Some(n) = filter.number {
        push("number = #", vec![n.into()]);
    }
    if let Some(n) = filter.after_number {
        push("number > #", vec![n.into()]);
    }
    if let Some(n) = filter.before_number {
        push("number < #", vec![n.into()]);
    }
    if let Some(s) = &filter.search {
        let escaped = s
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("{escaped}%");
        push(
            "(vendor_data LIKE # ESCAPE '\\' OR full_name LIKE # ESCAPE '\\')",
            vec![pattern.clone().into(), pattern.into()],
        );
    }
    sql
}

/// Matching sessions, newest first, and how many match in all.
pub async fn list(
    db: &impl Db,
    app_id: AppId,
    filter: &SessionFilter,
    page: Page,
) -> StoreResult<(Vec<Session>, i64)> {
    let mut params = vec![Param::from(app_id)];
    let wher = filter_sql(db, filter, &mut params);
    let count = if filter.no_count {
        None
    } else {
        Some(
            db.query_one(
                Stmt::new(
                    format!("SELECT COUNT(*) AS n FROM sessions WHERE {wher}"),
                    params.clone(),
                ),
                rows::count,
            )
            .await?,
        )
    };
    let n = params.len();
    params.push(page.limit.into());
    params.push(page.offset.into());
    let sql = format!(
        concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE {} ORDER BY number {} LIMIT ${} OFFSET ${}"
        ),
        wher,
        if filter.oldest_first { "ASC" } else { "DESC" },
        n + 1,
        n + 2
    );
    let sessions = db.query(Stmt::new(sql, params), rows::session).await?;
    let count = count.unwrap_or(sessions.len() as i64);
    Ok((sessions, count))
}

/// Sessions whose lifecycle timers have come due, oldest first. Several PostgreSQL nodes may find
/// the same session; the change applied for it is version-checked, so only one applies.
pub async fn due_transitions(db: &impl Db, q: &LifecycleQuery) -> StoreResult<Vec<DueTransition>> {
    let scans = [
        (
            stmt!(
                concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE status = 'Not Started' AND created_at < $1
                      AND deleted_at IS NULL ORDER BY updated_at LIMIT $2"
                ),
                q.not_started_before,
                q.limit
            ),
            SessionStatus::Expired,
        ),
        (
            stmt!(
                concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE status IN ('In Progress', 'Resubmitted')
                      AND updated_at < $1 AND deleted_at IS NULL ORDER BY updated_at LIMIT $2"
                ),
                q.idle_before,
                q.limit
            ),
            SessionStatus::Abandoned,
        ),
        (
            stmt!(
                concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE status = 'Approved' AND kyc_expires_at <= $1
                      AND deleted_at IS NULL ORDER BY updated_at LIMIT $2"
                ),
                q.now,
                q.limit
            ),
            SessionStatus::KycExpired,
        ),
    ];
    let mut out = Vec::new();
    for (st, to) in scans {
        for session in db.query(st, rows::session).await? {
            out.push(DueTransition { session, to });
        }
    }
    Ok(out)
}
