//! Listing sessions with filters, and the lifecycle scheduler's scan.

use chrono::{DateTime, NaiveTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use uuid::Uuid;
use vouch_core::session::Session;
use vouch_core::{SessionStatus, WorkflowKind};

use super::rows::{self, db_err, get, query, table, SESSION_COLUMNS};
use crate::model::{DueTransition, KindFilter, LifecycleQuery, Page, SessionFilter};
use crate::StoreResult;

type Arg = Box<dyn ToSql + Sync + Send>;

fn day_start(d: chrono::NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

fn filter_sql(filter: &SessionFilter, args: &mut Vec<Arg>) -> String {
    let mut sql = String::from("app_id = $1 AND deleted_at IS NULL");
    let mut push = |clause: &str, arg: Arg| {
        args.push(arg);
        sql.push_str(" AND ");
        sql.push_str(&clause.replace('#', &format!("${}", args.len())));
    };
    if !filter.statuses.is_empty() {
        let statuses: Vec<String> = filter
            .statuses
            .iter()
            .map(|s| s.as_str().to_string())
            .collect();
        push("status = ANY(#)", Box::new(statuses));
    }
    if let Some(vd) = &filter.vendor_data {
        push("vendor_data = #", Box::new(vd.clone()));
    }
    if !filter.workflow_ids.is_empty() {
        push(
            "workflow_id = ANY(#)",
            Box::new(filter.workflow_ids.clone()),
        );
    }
    if let Some(c) = &filter.country {
        push("country = #", Box::new(c.clone()));
    }
    if let Some(d) = filter.date_from {
        push("created_at >= #", Box::new(day_start(d)));
    }
    if let Some(d) = filter.date_to {
        let next = d.succ_opt().unwrap_or(d);
        push("created_at < #", Box::new(day_start(next)));
    }
    if let Some(s) = &filter.search {
        let escaped = s
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        push(
            "(vendor_data LIKE # ESCAPE '\\' OR full_name LIKE # ESCAPE '\\')",
            Box::new(format!("{escaped}%")),
        );
    }
    sql
}

pub async fn list(
    c: &impl GenericClient,
    app_id: Uuid,
    filter: &SessionFilter,
    page: Page,
) -> StoreResult<(Vec<Session>, i64)> {
    let kinds: &[WorkflowKind] = match filter.kind.unwrap_or(KindFilter::User) {
        KindFilter::User => &[WorkflowKind::User],
        KindFilter::Business => &[WorkflowKind::Business],
        KindFilter::All => &[WorkflowKind::User, WorkflowKind::Business],
    };
    let mut args: Vec<Arg> = vec![Box::new(app_id)];
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
    let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref() as _).collect();
    let count: i64 = c
        .query_one(&format!("SELECT COUNT(*) AS n FROM ({union}) s"), &refs)
        .await
        .map_err(db_err)
        .and_then(|r| get(&r, "n"))?;
    let n = args.len();
    let sql = format!(
        "SELECT * FROM ({union}) s ORDER BY number DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let mut refs = refs;
    refs.push(&page.limit);
    refs.push(&page.offset);
    let found = c.query(&sql, &refs).await.map_err(db_err)?;
    let sessions = found
        .iter()
        .map(|r| {
            let kind: &str = get(r, "kind")?;
            rows::session(r, WorkflowKind::parse(kind).unwrap_or(WorkflowKind::User))
        })
        .collect::<StoreResult<_>>()?;
    Ok((sessions, count))
}

/// Sessions whose lifecycle timers have come due, oldest first, both kinds. Several nodes may
/// find the same session; the change applied for it is version-checked, so only one applies.
pub async fn due_transitions(
    c: &impl GenericClient,
    q: &LifecycleQuery,
) -> StoreResult<Vec<DueTransition>> {
    let mut out = Vec::new();
    for kind in [WorkflowKind::User, WorkflowKind::Business] {
        let tbl = table(kind);
        let scans: [(&str, DateTime<Utc>, SessionStatus); 3] = [
            (
                "status = 'Not Started' AND created_at < $1",
                q.not_started_before,
                SessionStatus::Expired,
            ),
            (
                "status IN ('In Progress', 'Resubmitted') AND updated_at < $1",
                q.idle_before,
                SessionStatus::Abandoned,
            ),
            (
                "status = 'Approved' AND kyc_expires_at <= $1",
                q.now,
                SessionStatus::KycExpired,
            ),
        ];
        for (cond, bound, to) in scans {
            let sql = format!(
                "SELECT {SESSION_COLUMNS} FROM {tbl} WHERE {cond} AND deleted_at IS NULL
                 ORDER BY updated_at LIMIT $2"
            );
            for r in query(c, &sql, &[&bound, &q.limit]).await? {
                out.push(DueTransition {
                    session: rows::session(&r, kind)?,
                    to,
                });
            }
        }
    }
    Ok(out)
}
