-- What the person's page captured. Each session's files are encrypted with a key of their own,
-- kept here only wrapped by the master key; deleting the session deletes the key (and so every
-- copy of its files, backups included, becomes unreadable) and these rows.
CREATE TABLE media_keys (
    session_id  TEXT PRIMARY KEY REFERENCES sessions(id),
    wrapped     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
-- One row per stored file: a side of a document, a selfie, a proof-of-address document.
CREATE TABLE media (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    node_id     TEXT NOT NULL,
    -- front | back | selfie | document
    slot        TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX media_session ON media(session_id, node_id, slot);

-- Submitted steps on their way to a verification engine (the third kind of leased job).
CREATE TABLE engine_jobs (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    node_id         TEXT NOT NULL,
    feature         TEXT NOT NULL,
    -- sandbox | http | manual
    engine          TEXT NOT NULL,
    -- What the page captured for the step: media ids and fields.
    input           TEXT NOT NULL,
    -- pending → done | failed (retries exhausted); dropped: the session was deleted first.
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'done', 'failed', 'dropped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    locked_until    TEXT,
    next_attempt_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    done_at         TEXT
);
CREATE INDEX engine_jobs_due ON engine_jobs(state, next_attempt_at);
CREATE INDEX engine_jobs_session ON engine_jobs(session_id, node_id);

-- Whether a key's decisions carry signed media URLs (none | read).
ALTER TABLE api_keys ADD COLUMN media TEXT NOT NULL DEFAULT 'none';

-- A person's link is found by the first 8 characters of its token and then compared whole in
-- constant time by vouch, so that the lookup's timing says nothing about the rest of it.
CREATE INDEX sessions_token_prefix ON sessions(substr(token, 1, 8));

-- A sandbox session's plan: the scenario it was created with, and the outcomes armed for its
-- steps' next results (node id -> {"status", "data", "warnings"}).
CREATE TABLE sandbox_plans (
    session_id  TEXT PRIMARY KEY REFERENCES sessions(id),
    scenario    TEXT,
    arms        TEXT NOT NULL
);

-- The origins allowed to embed the application's person's page in an iframe (a JSON list of
-- "https://host[:port]"); none by default, so the page refuses to be framed.
ALTER TABLE apps ADD COLUMN allowed_domains TEXT NOT NULL DEFAULT '[]';

-- A sandbox application's phone test numbers: the outcome each plays, and its fixed code.
CREATE TABLE sandbox_phone_numbers (
    app_id        TEXT NOT NULL REFERENCES apps(id),
    phone_number  TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    code          TEXT,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (app_id, phone_number)
);
