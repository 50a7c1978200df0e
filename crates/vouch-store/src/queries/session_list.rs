//! Listing sessions with filters, and the lifecycle scheduler's scan.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use vouch_core::session::Session;
use vouch_core::AppId;
use vouch_core::SessionStatus;

use super::queue::in_list;
use crate::model::{DueTransition, KindFilter, LifecycleQuery, Page, SessionFilter};
use crate::rows::{self, session_columns};
use crate::sql::{Db, Dialect, Param, Stmt};
use crate::{stmt, StoreResult};

fn day_start(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

/// A WHERE clause being built: conditions joined by `AND`, each `#` of one the next parameter.
struct Where<'p> {
    sql: String,
    params: &'p mut Vec<Param>,
}

impl Where<'_> {
    fn and(&mut self, clause: &str, values: Vec<Param>) {
        let mut c = clause.to_string();
        for v in values {
            self.params.push(v);
            c = c.replacen('#', &format!("${}", self.params.len()), 1);
        }
        self.sql.push_str(" AND ");
        self.sql.push_str(&c);
    }
}

/// The conditions on what sessions and their tallies both hold: kind, statuses, workflows,
/// country.
fn shared_conditions(db: &impl Db, w: &mut Where<'_>, filter: &SessionFilter) {
    match filter.kind.unwrap_or(KindFilter::User) {
        KindFilter::User => w.and("kind = #", vec!["user".into()]),
        KindFilter::Business => w.and("kind = #", vec!["business".into()]),
        KindFilter::All => {}
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
        w.and(&format!("status IN ({marks})"), values);
    }
    match filter.workflow_ids.as_slice() {
        [] => {}
        // One workflow as an equality, for the same reason.
        [one] => w.and("workflow_id = #", vec![Param::from(*one)]),
        many => w.and(
            &in_list(db, "workflow_id", 0).replace("$0", "#"),
            vec![Param::ids(many)],
        ),
    }
    if let Some(c) = &filter.country {
        w.and("country = #", vec![c.into()]);
    }
}

/// The WHERE clause of a filter, its parameters appended to `params` (`$1` is the application).
/// A search looks in `search_in` alone where given (one side of [`search_matches`]).
fn filter_sql(
    db: &impl Db,
    filter: &SessionFilter,
    params: &mut Vec<Param>,
    search_in: Option<&str>,
) -> String {
    let mut w = Where {
        sql: String::from("app_id = $1 AND deleted_at IS NULL"),
        params,
    };
    shared_conditions(db, &mut w, filter);
    let mut push = |clause: &str, values: Vec<Param>| w.and(clause, values);
    if let Some(vd) = &filter.vendor_data {
        push("vendor_data = #", vec![vd.into()]);
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
        match search_in {
            Some(col) => push(&format!("{col} LIKE # ESCAPE '\\'"), vec![pattern.into()]),
            None => push(
                "(vendor_data LIKE # ESCAPE '\\' OR full_name LIKE # ESCAPE '\\')",
                vec![pattern.clone().into(), pattern.into()],
            ),
        }
    }
    w.sql
}

/// The numbers of a search's matches: those of the vendor_data's start and those of the name's,
/// each read from its prefix index alone (which holds what the other conditions read), where one
/// `OR` would look up every match's row.
fn search_matches(db: &impl Db, filter: &SessionFilter, params: &mut Vec<Param>) -> String {
    let vendor = filter_sql(db, filter, params, Some("vendor_data"));
    let name = filter_sql(db, filter, params, Some("full_name"));
    format!(
        "SELECT number FROM sessions WHERE {vendor} UNION SELECT number FROM sessions WHERE {name}"
    )
}

/// The count of a filter the tallies answer (kind, status, workflow, country, or kind, status
/// and whole days of creation), added up from them: a few rows whatever the number of matches.
/// `None` for any other filter, which is counted from its matches.
fn tally_count(db: &impl Db, app_id: AppId, filter: &SessionFilter) -> Option<Stmt> {
    let f = filter;
    let dated = f.date_from.is_some() || f.date_to.is_some();
    if f.vendor_data.is_some()
        || f.search.is_some()
        || f.number.is_some()
        || f.after_number.is_some()
        || f.before_number.is_some()
        || f.time_from.is_some()
        || f.time_to.is_some()
        || f.claimed.is_some()
        || (dated && (!f.workflow_ids.is_empty() || f.country.is_some()))
    {
        return None;
    }
    let mut params = vec![Param::from(app_id)];
    let mut w = Where {
        sql: String::from("app_id = $1"),
        params: &mut params,
    };
    shared_conditions(db, &mut w, f);
    if let Some(d) = f.date_from {
        w.and("day >= #", vec![d.format("%Y-%m-%d").to_string().into()]);
    }
    if let Some(d) = f.date_to {
        w.and("day <= #", vec![d.format("%Y-%m-%d").to_string().into()]);
    }
    let sql = w.sql;
    let table = if dated {
        "session_day_tallies"
    } else {
        "session_tallies"
    };
    let sum = |t: &str| format!("(SELECT COALESCE(SUM(n), 0) FROM {t} WHERE {sql})");
    let text = match db.dialect() {
        Dialect::Sqlite => format!("SELECT {} AS n", sum(table)),
        // Differences not yet folded into the tallies count too (see the migration).
        Dialect::Postgres => format!(
            "SELECT CAST({} + {} AS bigint) AS n",
            sum(table),
            sum("session_tally_deltas")
        ),
    };
    Some(Stmt::new(text, params))
}

/// PostgreSQL: moves the tallies' differences into them in one statement (each difference is
/// deleted by exactly one fold, however many nodes fold at once; the upserts go in key order, so
/// two folds never wait on each other in a cycle).
pub async fn fold_tallies(db: &impl Db) -> StoreResult<u64> {
    db.query_one(
        stmt!(
            "WITH d AS (DELETE FROM session_tally_deltas
                        RETURNING app_id, kind, status, workflow_id, country, day, n),
             totals AS (INSERT INTO session_tallies (app_id, kind, status, workflow_id, country, n)
                        SELECT app_id, kind, status, workflow_id, country, SUM(n) FROM d
                        GROUP BY app_id, kind, status, workflow_id, country
                        ORDER BY app_id, kind, status, workflow_id, country
                        ON CONFLICT (app_id, kind, status, workflow_id, country)
                        DO UPDATE SET n = session_tallies.n + EXCLUDED.n),
             days AS (INSERT INTO session_day_tallies (app_id, kind, day, status, n)
                        SELECT app_id, kind, day, status, SUM(n) FROM d
                        GROUP BY app_id, kind, day, status
                        ORDER BY app_id, kind, day, status
                        ON CONFLICT (app_id, kind, day, status)
                        DO UPDATE SET n = session_day_tallies.n + EXCLUDED.n)
             SELECT COUNT(*) AS n FROM d"
        ),
        rows::count,
    )
    .await
    .map(|n| n as u64)
}

/// The page of sessions whose numbers `numbers` selects (a statement answering `number`),
/// sorted by `sort` and cut to the page; only the page's rows are read.
fn page_of_numbers(
    numbers: &str,
    sort: &str,
    order: &str,
    params: &mut Vec<Param>,
    page: Page,
) -> String {
    params.push(page.limit.into());
    params.push(page.offset.into());
    let n = params.len();
    format!(
        concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE app_id = $1 AND number IN \
             (SELECT number FROM ({}) AS m ORDER BY {} {} LIMIT ${} OFFSET ${}) \
             ORDER BY number {}"
        ),
        numbers,
        sort,
        order,
        n - 1,
        n,
        order
    )
}

/// Matching sessions, newest first, and how many match in all.
///
/// The count of a filter the tallies answer is theirs (see [`tally_count`]); any other is
/// counted from its matches (vendor_data, search, numbers and claims match few). The page is
/// read in number order from the index of one of the filter's columns, so that it costs its
/// length whatever the number of sessions; where that needs help:
/// - several statuses (or workflows): each one's page is read from the index in order and the
///   pages merged (`UNION ALL`), where one index search for all of them would sort every match;
/// - days of creation: the matches' numbers are read from the creation index and sorted, and
///   only the page's sessions are read (matches of a date range are together, not spread, so
///   walking the numbers would pass every session since).
pub async fn list(
    db: &impl Db,
    app_id: AppId,
    filter: &SessionFilter,
    page: Page,
) -> StoreResult<(Vec<Session>, i64)> {
    let mut params = vec![Param::from(app_id)];
    let wher = filter_sql(db, filter, &mut params, None);
    let tallied = if filter.no_count {
        None
    } else {
        tally_count(db, app_id, filter)
    };
    if filter.search.is_some() {
        let mut params = vec![Param::from(app_id)];
        let matches = search_matches(db, filter, &mut params);
        let count = if filter.no_count {
            None
        } else {
            let st = Stmt::new(
                format!("SELECT COUNT(*) AS n FROM ({matches}) AS m"),
                params.clone(),
            );
            Some(db.query_one(st, rows::count).await?)
        };
        let order = if filter.oldest_first { "ASC" } else { "DESC" };
        let sql = page_of_numbers(&matches, "number", order, &mut params, page);
        let sessions = db.query(Stmt::new(sql, params), rows::session).await?;
        let count = count.unwrap_or(sessions.len() as i64);
        return Ok((sessions, count));
    }
    let count = match tallied {
        Some(st) => Some(db.query_one(st, rows::count).await?),
        None if filter.no_count => None,
        None => Some(
            db.query_one(
                Stmt::new(
                    format!("SELECT COUNT(*) AS n FROM sessions WHERE {wher}"),
                    params.clone(),
                ),
                rows::count,
            )
            .await?,
        ),
    };
    if count.is_some_and(|n| n <= page.offset) {
        // Nothing on this page (a combination that matches nothing is not searched for).
        return Ok((Vec::new(), count.unwrap_or(0)));
    }
    let order = if filter.oldest_first { "ASC" } else { "DESC" };
    // One filter per page merged: each of several statuses, or else of several workflows.
    // (Each value once: a list that names one twice must not fill a page with it twice.)
    let mut statuses = filter.statuses.clone();
    statuses.sort_by_key(|s| s.as_str());
    statuses.dedup();
    let mut workflows = filter.workflow_ids.clone();
    workflows.sort_by_key(|w| w.uuid());
    workflows.dedup();
    let branches: Vec<SessionFilter> = if statuses.len() > 1 {
        statuses
            .iter()
            .map(|s| SessionFilter {
                statuses: vec![*s],
                ..filter.clone()
            })
            .collect()
    } else if workflows.len() > 1 {
        workflows
            .iter()
            .map(|w| SessionFilter {
                workflow_ids: vec![*w],
                ..filter.clone()
            })
            .collect()
    } else {
        Vec::new()
    };
    let dated = filter.date_from.is_some() || filter.date_to.is_some();
    let sql = if !branches.is_empty() {
        // The branches' own parameters only (PostgreSQL types every parameter from its use).
        params.truncate(1);
        params.push((page.offset + page.limit).into());
        let end = params.len();
        let mut pages = Vec::new();
        for (i, b) in branches.iter().enumerate() {
            let w = filter_sql(db, b, &mut params, None);
            pages.push(format!(
                "SELECT number FROM (SELECT number FROM sessions WHERE {w} \
                 ORDER BY number {order} LIMIT ${end}) AS p{i}"
            ));
        }
        page_of_numbers(
            &pages.join(" UNION ALL "),
            "number",
            order,
            &mut params,
            page,
        )
    } else if dated {
        // `number + 0`: sorted from the creation index, not walked from the numbers'.
        let numbers = format!("SELECT number FROM sessions WHERE {wher}");
        page_of_numbers(&numbers, "number + 0", order, &mut params, page)
    } else {
        params.push(page.limit.into());
        params.push(page.offset.into());
        let n = params.len();
        format!(
            concat!(
                "SELECT ",
                session_columns!(),
                " FROM sessions WHERE {} ORDER BY number {} LIMIT ${} OFFSET ${}"
            ),
            wher,
            order,
            n - 1,
            n
        )
    };
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
