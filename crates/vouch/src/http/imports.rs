//! Bulk imports of verifications decided elsewhere: `POST /v3/session/imports/` (a multipart
//! upload, or JSON naming a `source_file_url`), the CSV template, the job's progress and its
//! row errors. An uploaded file is checked whole before the job exists: a malformed one is
//! refused with its first bad line named.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use vouch_core::imports::{self as core, SourceFormat};
use vouch_core::{FieldErrors, WorkflowId, WorkflowKind};
use vouch_store::{Idem, ImportFile, ImportJob, ImportRowError, Written};

use super::auth::*;
use super::error::{ApiError, ApiResult};
use super::idempotency;
use super::json::too_large;
use super::openapi::{ErrorAnswer, ErrorBody};
use super::pagination::{page_links, PageQuery};
use super::replay;
use crate::state::AppState;
use crate::webhooks::ssrf;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_import))
        .routes(routes!(import_template))
        .routes(routes!(get_import))
        .routes(routes!(import_errors))
}

/// Fields of `POST /v3/session/imports/`, as multipart form fields (with the `file` part) or as
/// a JSON body (with `source_file_url`).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateImportBody {
    /// `user_verification` (the default); vouch imports no other kind.
    #[schema(pattern = "^(user_verification)?$")]
    import_type: Option<String>,
    /// The workflow the imported sessions belong to; default: the application's default.
    #[schema(format = Uuid)]
    workflow_id: Option<String>,
    /// `csv` or `ndjson`; default: from the file name (`.ndjson`/`.jsonl`), else CSV.
    source_format: Option<String>,
    /// Where vouch fetches the file (public http(s) addresses only, as webhook destinations).
    source_file_url: Option<String>,
    /// The default of rows without a `provider` column.
    provider: Option<String>,
    /// The file (multipart only): the canonical columns of `GET /v3/session/imports/template/`.
    #[schema(value_type = Option<String>, format = Binary)]
    #[serde(skip)]
    file: Option<(String, Bytes)>,
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn read_multipart(boundary: String, body: Bytes) -> ApiResult<CreateImportBody> {
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut sent = CreateImportBody::default();
    let bad = |e: multer::Error| {
        ApiError::detail(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            format!("The multipart body cannot be read: {e}."),
        )
    };
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            let filename = field.file_name().unwrap_or("import.csv").to_string();
            sent.file = Some((filename, field.bytes().await.map_err(bad)?));
            continue;
        }
        let text = field.text().await.map_err(bad)?;
        let slot = match name.as_str() {
            "import_type" => &mut sent.import_type,
            "workflow_id" => &mut sent.workflow_id,
            "source_format" => &mut sent.source_format,
            "source_file_url" => &mut sent.source_file_url,
            "provider" => &mut sent.provider,
            _ => continue,
        };
        *slot = Some(text).filter(|t| !t.trim().is_empty());
    }
    Ok(sent)
}

/// The request's content, read up to the import limit.
async fn read_sent(state: &AppState, req: Request) -> ApiResult<(CreateImportBody, Vec<u8>)> {
    let ct = content_type(req.headers()).to_string();
    let limit = state.config.imports.max_file_bytes + 64 * 1024;
    let body = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|e| super::json::body_error(&e, limit))?;
    if ct.starts_with("multipart/form-data") {
        let boundary = multer::parse_boundary(&ct).map_err(|_| {
            ApiError::detail(
                StatusCode::BAD_REQUEST,
                "malformed_request",
                "The multipart body has no boundary.",
            )
        })?;
        let sent = read_multipart(boundary, body).await?;
        // What identifies the request for Idempotency-Key: its fields and the file's digest,
        // not the multipart boundary (new on every retry).
        let f = &sent;
        let print = json!([
            f.import_type,
            f.workflow_id,
            f.source_format,
            f.source_file_url,
            f.provider,
            f.file
                .as_ref()
                .map(|(n, b)| (n, hex::encode(Sha256::digest(b))))
        ]);
        Ok((sent, print.to_string().into_bytes()))
    } else {
        let fields: CreateImportBody = super::json::parse(&body)?;
        Ok((fields, body.to_vec()))
    }
}

fn status_of(j: &ImportJob) -> &'static str {
    match j.state.as_str() {
        "done" => "COMPLETED",
        "failed" => "FAILED",
        _ if j.started_at.is_some() => "PROCESSING",
        _ => "PENDING",
    }
}

fn job_json(j: &ImportJob, public_url: &str) -> Value {
    let wire = vouch_core::time::wire;
    json!({
        "uuid": j.id,
        "status": status_of(j),
        "import_type": j.import_type,
        "source_format": j.source_format,
        "source_filename": j.source_filename,
        "source_file_url": j.source_url,
        "workflow_id": j.workflow_id,
        "provider": j.provider,
        "total_rows": j.total_rows,
        "processed_rows": j.processed_rows,
        "checkpoint_row": j.processed_rows,
        "created_count": j.created_count,
        "updated_count": 0,
        "skipped_count": j.skipped_count,
        "failed_count": j.failed_count,
        "total_media_bytes": 0,
        "file_bytes": j.file_bytes,
        "last_error": j.last_error,
        "progress_url": format!("{public_url}/v3/session/imports/{}/", j.id),
        "errors_url": format!("{public_url}/v3/session/imports/{}/errors/", j.id),
        "created_at": wire(j.created_at),
        "updated_at": wire(j.updated_at),
        "started_at": j.started_at.map(wire),
        "completed_at": j.done_at.map(wire),
    })
}

fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[utoipa::path(post, path = "/v3/session/imports/", operation_id = "create_session_import", tag = "imports",
    request_body(content(
        (CreateImportBody = "multipart/form-data"),
        (CreateImportBody = "application/json"))),
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[\\x21-\\x7e]+$", description = "Replays the stored response for 24 h")),
    responses((status = 201, description = "The import job: `{uuid, status: PENDING|PROCESSING|COMPLETED|FAILED, total_rows, processed_rows, created_count, skipped_count, failed_count, last_error, …}`. An uploaded file was checked whole; a fetched one is checked by the job, which fails naming its first bad line",
            links(("get_session_import" = (operation_id = "get_session_import", parameters(("id" = "$response.body#/uuid")))),
                  ("list_session_import_errors" = (operation_id = "list_session_import_errors", parameters(("id" = "$response.body#/uuid")))))),
        (status = 400, description = "Invalid fields, or a malformed file: `{\"file\": [\"line 3: …\"]}`", body = ErrorAnswer),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("api_key" = ["sessions:write"])))]
async fn create_import(
    State(state): State<AppState>,
    caller: Can<WriteSessions>,
    req: Request,
) -> ApiResult<Response> {
    let headers = req.headers().clone();
    let (sent, print) = read_sent(&state, req).await?;
    let idem = idempotency::key(&headers, caller.app.id, "POST /v3/session/imports/", &print)?;
    let f = &sent;
    let mut errors = FieldErrors::new();
    if let Err(e) = core::parse_import_type(text(&f.import_type).unwrap_or("")) {
        errors.add("import_type", e);
    }
    let url = text(&f.source_file_url);
    match (&f.file, url) {
        (Some(_), Some(_)) => errors.add(
            "source_file_url",
            "Give a file or a source_file_url, not both.",
        ),
        (None, None) => errors.add(
            "file",
            "Upload a file (multipart) or give a source_file_url.",
        ),
        _ => {}
    }
    if let Some(u) = url {
        if let Err(e) = ssrf::check_url(u, state.config.allow_private_destinations) {
            errors.add("source_file_url", e.to_string());
        }
    }
    let provider = match text(&f.provider) {
        Some(p) if p.chars().count() > 64 => {
            errors.add(
                "provider",
                "Ensure this field has no more than 64 characters.",
            );
            None
        }
        p => p,
    };
    let named = match text(&f.workflow_id) {
        None => None,
        Some(w) => match Uuid::parse_str(w) {
            Ok(id) => Some(WorkflowId::from(id)),
            Err(_) => {
                errors.add("workflow_id", "Must be a valid UUID.");
                None
            }
        },
    };
    let filename = match (&f.file, url) {
        (Some((name, _)), _) => name.clone(),
        (None, Some(u)) => u
            .split(['?', '#'])
            .next()
            .and_then(|p| p.rsplit('/').next())
            .filter(|n| !n.is_empty())
            .unwrap_or("import")
            .to_string(),
        _ => String::new(),
    };
    let format = match text(&f.source_format) {
        None => SourceFormat::guess(&filename),
        Some(s) => SourceFormat::parse(s).unwrap_or_else(|| {
            errors.add(
                "source_format",
                format!("\"{s}\" is not a valid choice: csv or ndjson."),
            );
            SourceFormat::Csv
        }),
    };
    errors.into_result()?;
    let file = match &f.file {
        None => None,
        Some((_, bytes)) => {
            if bytes.len() > state.config.imports.max_file_bytes {
                return Err(too_large(state.config.imports.max_file_bytes));
            }
            let layout =
                core::scan(bytes, format).map_err(|e| ApiError::field("file", e.to_string()))?;
            Some(ImportFile {
                content: bytes.to_vec(),
                layout,
            })
        }
    };
    let workflow = match named {
        Some(w) => state.store.get_workflow(caller.app.id, w).await?,
        None => state.store.default_workflow(caller.app.id).await?,
    }
    .ok_or_else(|| {
        ApiError::field(
            "workflow_id",
            match named {
                Some(_) => "Workflow not found.",
                None => "This field is required (the application has no default workflow).",
            },
        )
    })?;
    if workflow.archived_at.is_some() {
        return Err(ApiError::field(
            "workflow_id",
            "The workflow is archived: it takes no new sessions.",
        ));
    }
    if workflow.kind() != WorkflowKind::User {
        return Err(ApiError::field(
            "workflow_id",
            "user_verification rows are imported on a user (KYC) workflow.",
        ));
    }
    let mut job = ImportJob::new(
        Uuid::now_v7(),
        caller.app.id,
        workflow.id,
        format.as_str(),
        filename,
        url.map(str::to_string),
        crate::clock::now(),
    );
    if let Some(p) = provider {
        job.provider = p.to_string();
    }
    if let Some(f) = &file {
        // As the store keeps it (`attach`): the answer is what a read would show.
        job.columns = Some(f.layout.columns.clone());
        job.file_bytes = f.content.len() as i64;
        job.total_rows = f.layout.total_rows as i64;
        job.next_offset = f.layout.data_offset as i64;
        job.next_line = f.layout.data_line as i64;
    }
    let public_url = state.config.public_url.clone();
    let idem = idem.map(|key| Idem {
        key,
        status_code: 201,
        render: Box::new(move |j: &ImportJob| job_json(j, &public_url)),
    });
    match state.store.create_import(job, file, idem).await? {
        Written::Fresh(j) => Ok((
            StatusCode::CREATED,
            Json(job_json(&j, &state.config.public_url)),
        )
            .into_response()),
        Written::Replayed { status_code, body } => Ok(replay(status_code, body)),
    }
}

#[utoipa::path(get, path = "/v3/session/imports/template/", operation_id = "get_session_import_template", tag = "imports",
    params(("import_type" = Option<String>, Query, description = "`user_verification` (the default)", pattern = "^(user_verification)?$")),
    responses((status = 200, description = "The canonical CSV: the header and one example row", content_type = "text/csv", body = String),
        (status = 400, body = ErrorAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:read"])))]
async fn import_template(
    _caller: Can<ReadSessions>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let q = PageQuery::parse(query.as_deref())?;
    core::parse_import_type(q.get("import_type").unwrap_or(""))
        .map_err(|e| ApiError::field("import_type", e))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"vouch-import-template.csv\"",
            ),
        ],
        core::template(),
    )
        .into_response())
}

async fn job_of(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<ImportJob> {
    state
        .store
        .import_job(caller.app.id, id)
        .await?
        .ok_or_else(ApiError::not_found)
}

#[utoipa::path(get, path = "/v3/session/imports/{id}/", operation_id = "get_session_import", tag = "imports",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The import job's progress: `{uuid, status, total_rows, processed_rows, created_count, skipped_count, failed_count, last_error, …}`"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:read"])))]
async fn get_import(
    State(state): State<AppState>,
    caller: Can<ReadSessions>,
    Id(id): Id<Uuid>,
) -> ApiResult<Json<Value>> {
    let j = job_of(&state, &caller, id).await?;
    Ok(Json(job_json(&j, &state.config.public_url)))
}

fn error_json(e: &ImportRowError) -> Value {
    json!({
        "uuid": e.id,
        "row_number": e.row_number,
        "line": e.line,
        "field": e.field,
        "error": e.message,
        "external_id": e.external_id,
        "raw_row": e.raw_row,
        "created_at": vouch_core::time::wire(e.created_at),
    })
}

#[utoipa::path(get, path = "/v3/session/imports/{id}/errors/", operation_id = "list_session_import_errors", tag = "imports",
    params(("id" = Uuid, Path),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100), ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, description = "The rows not imported, by row then field: `{count, next, previous, results: [{uuid, row_number, line, field, error, external_id, raw_row, created_at}]}`"),
        (status = 400, body = ErrorAnswer), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = ["sessions:read"])))]
async fn import_errors(
    State(state): State<AppState>,
    caller: Can<ReadSessions>,
    Id(id): Id<Uuid>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = PageQuery::parse(query.as_deref())?;
    let j = job_of(&state, &caller, id).await?;
    let (rows, count) = state
        .store
        .import_errors(j.id, q.page.limit, q.page.offset)
        .await?;
    let path = format!("/v3/session/imports/{}/errors/", j.id);
    let (next, previous) = page_links(&state.config.public_url, &path, &q, count);
    Ok(Json(json!({
        "count": count,
        "next": next,
        "previous": previous,
        "results": rows.iter().map(error_json).collect::<Vec<_>>(),
    })))
}
