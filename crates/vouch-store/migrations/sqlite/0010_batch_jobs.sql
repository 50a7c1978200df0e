-- Long back-office operations run as leased jobs (the fourth queue of the job runner): a batch
-- deletion too large to answer at once. Each run does one chunk in one transaction, with the
-- job's progress, so a crash loses nothing and repeats nothing.
CREATE TABLE batch_jobs (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL REFERENCES apps(id),
    kind            TEXT NOT NULL CHECK (kind IN ('delete_sessions')),
    -- What to do (JSON): the session ids to delete, or every session created before a time.
    input           TEXT NOT NULL,
    -- Where it stands (JSON): counters and the position reached.
    progress        TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    locked_until    TEXT,
    next_attempt_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    done_at         TEXT
);
CREATE INDEX batch_jobs_due ON batch_jobs(state, next_attempt_at);
CREATE INDEX batch_jobs_app ON batch_jobs(app_id, created_at);
