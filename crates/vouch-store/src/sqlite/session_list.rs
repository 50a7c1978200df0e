//! Listing sessions with filters, and the lifecycle scheduler's scan.

use rusqlite::{params, params_from_iter, Connection};
use uuid::Uuid;
use vouch_core::session::Session;
use vouch_core::{SessionStatus, WorkflowKind};

use super::rows::{self, db_err, table, ts, SESSION_COLUMNS};
use crate::model::{DueTransition, KindFilter, LifecycleQuery, Page, SessionFilter};
use crate::StoreResult;

fn filter_sql(filter: &SessionFilter, args: &mut Vec<String>) -> String {
    let mut sql = String::from("app_id = ?1 AND deleted_at IS NULL");
    let mut push = |clause: &str, vals: Vec<String>| {
        let mut c = clause.to_string();
        let start = args.len() + 1;
        for (i, v) in vals.into_iter().enumerate() {
            c = c.replacen('#', &format!("?{}", start + i), 1);
            args.push(v);
        }
        sql.push_str(" AND ");
        sql.push_str(&c);
    };
    if !filter.statuses.is_empty() {
        let marks = vec!["#"; filter.statuses.len()].join(", ");
        push(
            &format!("status IN ({marks})"),
            filter
                .statuses
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
        );
    }
    if let Some(vd) = &filter.vendor_data {
        push("vendor_data = #", vec![vd.clone()]);
    }
    if !filter.workflow_ids.is_empty() {
        let marks = vec!["#"; filter.workflow_ids.len()].join(", ");
        push(
            &format!("workflow_id IN ({marks})"),
            filter.workflow_ids.iter().map(Uuid::to_string).collect(),
        );
    }
    if let Some(c) = &filter.country {
        push("country = #", vec![c.clone()]);
    }
    if let Some(d) = filter.date_from {
        push("created_at >= #", vec![d.format("%Y-%m-%d").to_string()]);
    }
    if let Some(d) = filter.date_to {
        let next = d.succ_opt().unwrap_or(d);
        push("created_at < #", vec![next.format("%Y-%m-%d").to_string()]);
    }
    if let Some(s) = &filter.search {
        let escaped = s
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("{escaped}%");
        push(
            "(vendor_data LIKE # ESCAPE '\\' OR full_name LIKE # ESCAPE '\\')",
            vec![pattern.clone(), pattern],
        );
    }
    sql
}

pub fn list(
    conn: &Connection,
    app_id: Uuid,
    filter: &SessionFilter,
    page: Page,
) -> StoreResult<(Vec<Session>, i64)> {
    let kinds: &[WorkflowKind] = match filter.kind.unwrap_or(KindFilter::User) {
        KindFilter::User => &[WorkflowKind::User],
        KindFilter::Business => &[WorkflowKind::Business],
        KindFilter::All => &[WorkflowKind::User, WorkflowKind::Business],
    };
    let mut args = vec![app_id.to_string()];
    let wher = filter_sql(filter, &mut args);
    let selects: Vec<String> = kinds
        .iter()
        .map(|k| {
            format!(
                "SELECT {SESSION_COLUMNS}, '{}' AS kind FROM {} WHERE {wher}",
                k.as_str(),
                table(*k)
            )
        })
        .collect();
    let union = selects.join(" UNION ALL ");
    let count: i64 = conn
        .query_row(
            &format!("SELECT COUNT(*) FROM ({union})"),
            params_from_iter(args.iter()),
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let n = args.len();
    args.push(page.limit.to_string());
    args.push(page.offset.to_string());
    let sql = format!(
        "SELECT * FROM ({union}) ORDER BY number DESC LIMIT CAST(?{} AS INTEGER) OFFSET CAST(?{} AS INTEGER)",
        n + 1,
        n + 2
    );
    let mut st = conn.prepare(&sql).map_err(db_err)?;
    let rows = st
        .query_map(params_from_iter(args.iter()), |r| {
            let kind: String = r.get("kind")?;
            rows::session(r, WorkflowKind::parse(&kind).unwrap_or(WorkflowKind::User))
        })
        .map_err(db_err)?;
    Ok((rows.collect::<Result<_, _>>().map_err(db_err)?, count))
}

/// Sessions whose lifecycle timers have come due, oldest first, both kinds.
pub fn due_transitions(conn: &Connection, q: &LifecycleQuery) -> StoreResult<Vec<DueTransition>> {
    let mut out = Vec::new();
    for kind in [WorkflowKind::User, WorkflowKind::Business] {
        let tbl = table(kind);
        let scans: [(&str, String, SessionStatus); 3] = [
            (
                "status = 'Not Started' AND created_at < ?1",
                ts(q.not_started_before),
                SessionStatus::Expired,
            ),
            (
                "status IN ('In Progress', 'Resubmitted') AND updated_at < ?1",
                ts(q.idle_before),
                SessionStatus::Abandoned,
            ),
            (
                "status = 'Approved' AND kyc_expires_at <= ?1",
                ts(q.now),
                SessionStatus::KycExpired,
            ),
        ];
        for (cond, bound, to) in scans {
            let sql = format!(
                "SELECT {SESSION_COLUMNS} FROM {tbl} WHERE {cond} AND deleted_at IS NULL
                 ORDER BY updated_at LIMIT ?2"
            );
            let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
            let rows = st
                .query_map(params![bound, q.limit], |r| rows::session(r, kind))
                .map_err(db_err)?;
            for s in rows {
                out.push(DueTransition {
                    session: s.map_err(db_err)?,
                    to,
                });
            }
        }
    }
    Ok(out)
}
