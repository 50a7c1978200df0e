-- What the person's page captured. Each session's files are encrypted with a key of their own,
-- kept here only wrapped by the master key; deleting the session deletes the key (and so every
-- copy of its files, backups included, becomes unreadable) and these rows.
CREATE TABLE media_keys (
    session_id  uuid PRIMARY KEY REFERENCES sessions(id),
    wrapped     text NOT NULL,
    created_at  timestamptz NOT NULL
);
-- One row per stored file: a side of a document, a selfie, a proof-of-address document.
CREATE TABLE media (
    id          uuid PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions(id),
    node_id     text NOT NULL,
    -- front | back | selfie | document
    slot        text NOT NULL,
    media_type  text NOT NULL,
    bytes       integer NOT NULL,
    width       integer NOT NULL,
    height      integer NOT NULL,
    sha256      text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX media_session ON media(session_id, node_id, slot);

-- Submitted steps on their way to a verification engine (the third kind of leased job).
CREATE TABLE engine_jobs (
    id              uuid PRIMARY KEY,
    app_id          uuid NOT NULL,
    session_id      uuid NOT NULL,
    node_id         text NOT NULL,
    feature         text NOT NULL,
    -- sandbox | http | manual
    engine          text NOT NULL,
    -- What the page captured for the step: media ids and fields.
    input           json NOT NULL,
    -- pending → done | failed (retries exhausted); dropped: the session was deleted first.
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'done', 'failed', 'dropped')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    locked_until    timestamptz,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    done_at         timestamptz
);
CREATE INDEX engine_jobs_due ON engine_jobs(state, next_attempt_at);
CREATE INDEX engine_jobs_session ON engine_jobs(session_id, node_id);

-- Whether a key's decisions carry signed media URLs (none | read).
ALTER TABLE api_keys ADD COLUMN media text NOT NULL DEFAULT 'none';

-- A person's link is found by the first 8 characters of its token and then compared whole in
-- constant time by vouch, so that the lookup's timing says nothing about the rest of it.
CREATE INDEX sessions_token_prefix ON sessions(substr(token, 1, 8));

-- A sandbox session's plan: the scenario it was created with, and the outcomes armed for its
-- steps' next results (node id -> {"status", "data", "warnings"}).
CREATE TABLE sandbox_plans (
    session_id  uuid PRIMARY KEY REFERENCES sessions(id),
    scenario    text,
    arms        json NOT NULL
);

-- The origins allowed to embed the application's person's page in an iframe (a JSON list of
-- "https://host[:port]"); none by default, so the page refuses to be framed.
ALTER TABLE apps ADD COLUMN allowed_domains text NOT NULL DEFAULT '[]';

-- A sandbox application's phone test numbers: the outcome each plays, and its fixed code.
CREATE TABLE sandbox_phone_numbers (
    app_id        uuid NOT NULL REFERENCES apps(id),
    phone_number  text NOT NULL,
    outcome       text NOT NULL,
    code          text,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (app_id, phone_number)
);
