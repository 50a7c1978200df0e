-- Bulk imports of verifications decided elsewhere (`POST /v3/session/imports/`), a leased job
-- queue of their own (the fifth of the job runner). The file is kept until the job ends; each
-- run imports the next rows with the job's counters and position in one transaction, so a crash
-- repeats nothing and loses nothing.
CREATE TABLE import_jobs (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL REFERENCES apps(id),
    workflow_id     TEXT NOT NULL,
    import_type     TEXT NOT NULL,
    source_format   TEXT NOT NULL CHECK (source_format IN ('csv', 'ndjson')),
    source_filename TEXT NOT NULL,
    -- Fetched by the job's first run when the file was not uploaded.
    source_url      TEXT,
    -- The provider of rows that name none.
    provider        TEXT NOT NULL DEFAULT 'generic',
    -- The CSV header (JSON array), once the file passed its structural check.
    columns         TEXT,
    file_bytes      INTEGER NOT NULL DEFAULT 0,
    total_rows      INTEGER NOT NULL DEFAULT 0,
    processed_rows  INTEGER NOT NULL DEFAULT 0,
    created_count   INTEGER NOT NULL DEFAULT 0,
    skipped_count   INTEGER NOT NULL DEFAULT 0,
    failed_count    INTEGER NOT NULL DEFAULT 0,
    -- Where the next row starts: byte offset in the file and its line.
    next_offset     INTEGER NOT NULL DEFAULT 0,
    next_line       INTEGER NOT NULL DEFAULT 1,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    locked_until    TEXT,
    next_attempt_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    started_at      TEXT,
    done_at         TEXT
);
CREATE INDEX import_jobs_due ON import_jobs(state, next_attempt_at);
CREATE INDEX import_jobs_app ON import_jobs(app_id, created_at);

-- The file of a job not yet finished (deleted when it ends: it holds personal data).
CREATE TABLE import_files (
    job_id  TEXT PRIMARY KEY REFERENCES import_jobs(id),
    content BLOB NOT NULL
);

-- Why a row was not imported: one entry per field at fault.
CREATE TABLE import_errors (
    job_id      TEXT NOT NULL REFERENCES import_jobs(id),
    row_number  INTEGER NOT NULL,
    field       TEXT NOT NULL,
    id          TEXT NOT NULL,
    line        INTEGER NOT NULL,
    message     TEXT NOT NULL,
    external_id TEXT,
    raw_row     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (job_id, row_number, field)
);

-- Rows imported, by the person and the source record: a re-run of a file skips them. Removed
-- with the session when it is deleted.
CREATE TABLE import_refs (
    app_id      TEXT NOT NULL REFERENCES apps(id),
    vendor_data TEXT NOT NULL,
    source_ref  TEXT NOT NULL,
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    job_id      TEXT NOT NULL,
    PRIMARY KEY (app_id, vendor_data, source_ref)
);
CREATE INDEX import_refs_session ON import_refs(session_id);
