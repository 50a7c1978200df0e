//! The queue: sessions to review, filtered by what the URL says (so a view can be shared).

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use vouch_core::{SessionId, SessionStatus, WorkflowId};
use vouch_store::{App, KindFilter, Page, SessionFilter};

use super::lang::Text;
use super::{age, html, unavailable, Reviewer};
use crate::state::AppState;

const PAGE: i64 = 50;

pub struct Row {
    pub id: String,
    pub number: i64,
    pub vendor_data: String,
    pub status: &'static str,
    pub workflow: String,
    pub created: String,
    pub age: String,
    pub overdue: bool,
    pub assignee: String,
    pub staged: bool,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "console/queue.html")]
struct QueuePage<'a> {
    t: &'a Text,
    who: &'a Reviewer,
    apps: Vec<Choice>,
    statuses: Vec<Choice>,
    workflows: Vec<Choice>,
    q: String,
    assignees: Vec<Choice>,
    overdue_only: bool,
    country: String,
    date_from: String,
    date_to: String,
    rows: Vec<Row>,
    count: String,
    previous: Option<String>,
    next: Option<String>,
}

/// What the URL asks for.
#[derive(Default)]
struct Wanted {
    app: Option<String>,
    status: Option<String>,
    workflow: Option<String>,
    q: String,
    page: i64,
    /// Keyset paging: the page after (or before) this session number.
    after: Option<i64>,
    before: Option<i64>,
    assignee: Option<String>,
    overdue: bool,
    country: String,
    date_from: String,
    date_to: String,
}

fn wanted(query: Option<&str>) -> Wanted {
    let mut w = Wanted::default();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let v = v.trim().to_string();
        match &*k {
            "app" if !v.is_empty() => w.app = Some(v),
            "status" if !v.is_empty() => w.status = Some(v),
            "workflow" if !v.is_empty() => w.workflow = Some(v),
            "q" => w.q = v,
            "assignee" if !v.is_empty() => w.assignee = Some(v),
            "overdue" => w.overdue = !v.is_empty(),
            "country" => w.country = v.to_uppercase(),
            "from" => w.date_from = v,
            "to" => w.date_to = v,
            "page" => w.page = v.parse::<i64>().unwrap_or(0).clamp(0, 1_000_000),
            "after" => w.after = v.parse::<i64>().ok(),
            "before" => w.before = v.parse::<i64>().ok(),
            _ => {}
        }
    }
    w
}

/// The queue's URL with these filters, the page after (`Ok`) or before (`Err`) a session number.
fn link(app: &App, w: &Wanted, at: Result<i64, i64>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("app", &app.name);
    if let Some(s) = &w.status {
        q.append_pair("status", s);
    }
    if let Some(wf) = &w.workflow {
        q.append_pair("workflow", wf);
    }
    for (k, v) in [
        ("q", &w.q),
        ("country", &w.country),
        ("from", &w.date_from),
        ("to", &w.date_to),
    ] {
        if !v.is_empty() {
            q.append_pair(k, v);
        }
    }
    if let Some(a) = &w.assignee {
        q.append_pair("assignee", a);
    }
    if w.overdue {
        q.append_pair("overdue", "1");
    }
    match at {
        Ok(n) => q.append_pair("after", &n.to_string()),
        Err(n) => q.append_pair("before", &n.to_string()),
    };
    format!("/console/?{}", q.finish())
}

pub async fn page(State(state): State<AppState>, who: Reviewer, RawQuery(q): RawQuery) -> Response {
    let t = who.t;
    let w = wanted(q.as_deref());
    let apps: Vec<App> = match state.store.list_apps().await {
        Ok(a) => a.into_iter().filter(|a| who.user.sees(a.id)).collect(),
        Err(e) => return unavailable(t, &e),
    };
    let Some(app) = w
        .app
        .as_ref()
        .and_then(|n| apps.iter().find(|a| &a.name == n || a.id.to_string() == *n))
        .or(apps.first())
        .cloned()
    else {
        return super::message(t, StatusCode::OK, t.no_sessions);
    };
    // "In Review" unless the URL names another status or "any".
    let status = match w.status.as_deref() {
        None => Some(SessionStatus::InReview),
        Some("any") => None,
        Some(s) => SessionStatus::parse(s).or(Some(SessionStatus::InReview)),
    };
    let workflow = w
        .workflow
        .as_deref()
        .and_then(|s| s.parse::<WorkflowId>().ok());
    let now = crate::clock::now();
    let deadline = chrono::Duration::from_std(state.config.console.review_deadline)
        .unwrap_or(chrono::Duration::MAX);
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    let filter = SessionFilter {
        kind: Some(KindFilter::All),
        statuses: status.into_iter().collect(),
        workflow_ids: workflow.into_iter().collect(),
        oldest_first: true,
        claimed: match w.assignee.as_deref() {
            Some("me") => Some((Some(who.user.id), now)),
            Some("nobody") => Some((None, now)),
            _ => None,
        },
        country: (w.country.len() == 2 || w.country.len() == 3).then(|| w.country.clone()),
        date_from: day(&w.date_from),
        date_to: day(&w.date_to),
        time_to: w.overdue.then(|| now - deadline),
        ..SessionFilter::default()
    };
    let (sessions, count) = if let Ok(id) = w.q.parse::<SessionId>() {
        // A session id names one session, whatever the other filters say.
        match state.store.get_session(app.id, id).await {
            Ok(s) => {
                let n = i64::from(s.is_some());
                (s.into_iter().collect(), n)
            }
            Err(e) => return unavailable(t, &e),
        }
    } else {
        // A number is a session number; other words are a vendor_data (found through its
        // index), else the start of a vendor_data or of a name.
        let mut tries = Vec::new();
        match w.q.parse::<i64>() {
            _ if w.q.is_empty() => tries.push(filter.clone()),
            Ok(n) if n > 0 => tries.push(SessionFilter {
                number: Some(n),
                ..filter.clone()
            }),
            _ => {
                tries.push(SessionFilter {
                    vendor_data: Some(w.q.clone()),
                    ..filter.clone()
                });
                tries.push(SessionFilter {
                    search: Some(w.q.clone()),
                    ..filter.clone()
                });
            }
        }
        let mut found = (Vec::new(), 0);
        for f in tries {
            // The exact count of the whole view, then the page: by keyset (after or before a
            // session number, as the page's links go, each page costing the first's), or by
            // offset (`?page=`, bookmarks).
            let none = Page {
                limit: 0,
                offset: 0,
            };
            let count = match state.store.list_sessions(app.id, &f, none).await {
                Ok((_, n)) => n,
                Err(e) => return unavailable(t, &e),
            };
            if count == 0 {
                continue;
            }
            let mut keyed = SessionFilter {
                no_count: true,
                after_number: w.after,
                before_number: w.before.filter(|_| w.after.is_none()),
                ..f
            };
            keyed.oldest_first = keyed.before_number.is_none();
            let offset = if w.after.is_some() || w.before.is_some() {
                0
            } else {
                w.page * PAGE
            };
            let page = Page {
                limit: PAGE + 1,
                offset,
            };
            match state.store.list_sessions(app.id, &keyed, page).await {
                Ok((mut rows, _)) => {
                    if !keyed.oldest_first {
                        rows.reverse();
                    }
                    found = (rows, count);
                }
                Err(e) => return unavailable(t, &e),
            }
            break;
        }
        found
    };
    // One more than a page was asked for: whether there is a page beyond this one.
    let backwards = w.before.is_some() && w.after.is_none();
    let mut sessions = sessions;
    let more = sessions.len() as i64 > PAGE;
    if more {
        if backwards {
            sessions.remove(0);
        } else {
            sessions.truncate(PAGE as usize);
        }
    }
    let has_previous = if backwards {
        more
    } else {
        w.after.is_some() || w.page > 0
    };
    let has_next = if backwards { true } else { more };
    let workflows = match state
        .store
        .list_workflows(
            app.id,
            Page {
                limit: 200,
                offset: 0,
            },
        )
        .await
    {
        Ok((list, _)) => list,
        Err(e) => return unavailable(t, &e),
    };
    let ids: Vec<SessionId> = sessions.iter().map(|s| s.id).collect();
    let (claims, staged) = match tokio::try_join!(
        state.store.claims(ids.clone(), now),
        state.store.staged_decisions(ids)
    ) {
        Ok(found) => found,
        Err(e) => return unavailable(t, &e),
    };
    let label_of = |id: WorkflowId| {
        workflows
            .iter()
            .find(|wf| wf.id == id)
            .map_or_else(|| id.to_string(), |wf| wf.label.clone())
    };
    let rows = sessions
        .iter()
        .map(|s| Row {
            id: s.id.to_string(),
            number: s.number,
            vendor_data: s.vendor_data.clone().unwrap_or_default(),
            status: s.status.as_str(),
            workflow: format!("{} v{}", label_of(s.workflow_id), s.workflow_version),
            created: s.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            age: age(now - s.created_at),
            overdue: s.status == SessionStatus::InReview && now - s.created_at > deadline,
            assignee: claims
                .iter()
                .find(|c| c.session_id == s.id)
                .map(|c| c.email.clone())
                .unwrap_or_default(),
            staged: staged
                .iter()
                .any(|d| d.session_id == s.id && d.rejected_by.is_none()),
        })
        .collect();
    let page = QueuePage {
        t,
        who: &who,
        apps: apps
            .iter()
            .map(|a| Choice {
                value: a.name.clone(),
                label: a.name.clone(),
                selected: a.id == app.id,
            })
            .collect(),
        statuses: std::iter::once(("any".to_string(), t.any_status.to_string()))
            .chain(
                SessionStatus::ALL
                    .iter()
                    .map(|s| (s.as_str().to_string(), s.as_str().to_string())),
            )
            .map(|(value, label)| Choice {
                selected: match status {
                    Some(s) => s.as_str() == value,
                    None => value == "any",
                },
                value,
                label,
            })
            .collect(),
        workflows: std::iter::once(Choice {
            value: String::new(),
            label: "—".into(),
            selected: workflow.is_none(),
        })
        .chain(workflows.iter().map(|wf| Choice {
            value: wf.id.to_string(),
            label: wf.label.clone(),
            selected: Some(wf.id) == workflow,
        }))
        .collect(),
        q: w.q.clone(),
        assignees: [("", t.anyone), ("me", t.me), ("nobody", t.nobody)]
            .into_iter()
            .map(|(value, label)| Choice {
                selected: w.assignee.as_deref().unwrap_or("") == value,
                value: value.into(),
                label: label.into(),
            })
            .collect(),
        overdue_only: w.overdue,
        country: w.country.clone(),
        date_from: w.date_from.clone(),
        date_to: w.date_to.clone(),
        rows,
        count: t.sessions_found.replace("{count}", &count.to_string()),
        previous: sessions
            .first()
            .filter(|_| has_previous)
            .map(|s| link(&app, &w, Err(s.number))),
        next: sessions
            .last()
            .filter(|_| has_next)
            .map(|s| link(&app, &w, Ok(s.number))),
    };
    html(StatusCode::OK, page.render())
}
