-- Bulk imports of verifications decided elsewhere (`POST /v3/session/imports/`), a leased job
-- queue of their own (the fifth of the job runner). The file is kept until the job ends; each
-- run imports the next rows with the job's counters and position in one transaction, so a crash
-- repeats nothing and loses nothing.
CREATE TABLE import_jobs (
    id              uuid PRIMARY KEY,
    app_id          uuid NOT NULL REFERENCES apps(id),
    workflow_id     uuid NOT NULL,
    import_type     text NOT NULL,
    source_format   text NOT NULL CHECK (source_format IN ('csv', 'ndjson')),
    source_filename text NOT NULL,
    -- Fetched by the job's first run when the file was not uploaded.
    source_url      text,
    -- The provider of rows that name none.
    provider        text NOT NULL DEFAULT 'generic',
    -- The CSV header (JSON array), once the file passed its structural check.
    columns         json,
    file_bytes      bigint NOT NULL DEFAULT 0,
    total_rows      bigint NOT NULL DEFAULT 0,
    processed_rows  bigint NOT NULL DEFAULT 0,
    created_count   bigint NOT NULL DEFAULT 0,
    skipped_count   bigint NOT NULL DEFAULT 0,
    failed_count    bigint NOT NULL DEFAULT 0,
    -- Where the next row starts: byte offset in the file and its line.
    next_offset     bigint NOT NULL DEFAULT 0,
    next_line       bigint NOT NULL DEFAULT 1,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts        bigint NOT NULL DEFAULT 0,
    last_error      text,
    locked_until    timestamptz,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    started_at      timestamptz,
    done_at         timestamptz
);
CREATE INDEX import_jobs_due ON import_jobs(state, next_attempt_at);
CREATE INDEX import_jobs_app ON import_jobs(app_id, created_at);

-- The file of a job not yet finished (deleted when it ends: it holds personal data).
CREATE TABLE import_files (
    job_id  uuid PRIMARY KEY REFERENCES import_jobs(id),
    content bytea NOT NULL
);

-- Why a row was not imported: one entry per field at fault.
CREATE TABLE import_errors (
    job_id      uuid NOT NULL REFERENCES import_jobs(id),
    row_number  bigint NOT NULL,
    field       text NOT NULL,
    id          uuid NOT NULL,
    line        bigint NOT NULL,
    message     text NOT NULL,
    external_id text,
    raw_row     json NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (job_id, row_number, field)
);

-- Rows imported, by the person and the source record: a re-run of a file skips them. Removed
-- with the session when it is deleted.
CREATE TABLE import_refs (
    app_id      uuid NOT NULL REFERENCES apps(id),
    vendor_data text NOT NULL,
    source_ref  text NOT NULL,
    session_id  uuid NOT NULL REFERENCES sessions(id),
    job_id      uuid NOT NULL,
    PRIMARY KEY (app_id, vendor_data, source_ref)
);
CREATE INDEX import_refs_session ON import_refs(session_id);
-- Uncompressed out of line: each run reads only its window of the file.
ALTER TABLE import_files ALTER COLUMN content SET STORAGE EXTERNAL;
