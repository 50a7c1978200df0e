-- vouch schema, version 1. Times are RFC 3339 UTC text with microseconds (sortable as text).

CREATE TABLE apps (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    mode                TEXT NOT NULL CHECK (mode IN ('live', 'sandbox')),
    next_session_number INTEGER NOT NULL DEFAULT 1,
    created_at          TEXT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES apps(id),
    name        TEXT,
    key_hash    BLOB NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    last4       TEXT NOT NULL,
    sessions    TEXT NOT NULL,
    decisions   TEXT NOT NULL,
    webhooks    TEXT NOT NULL,
    workflows   TEXT NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX api_keys_app ON api_keys(app_id);

-- One row per workflow version; the highest version is the current one.
CREATE TABLE workflows (
    id          TEXT NOT NULL,
    version     INTEGER NOT NULL,
    app_id      TEXT NOT NULL REFERENCES apps(id),
    label       TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('user', 'business')),
    status      TEXT NOT NULL CHECK (status IN ('draft', 'published')),
    is_default  INTEGER NOT NULL,
    spec        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE INDEX workflows_app ON workflows(app_id, created_at);

CREATE TABLE user_sessions (
    id               TEXT PRIMARY KEY,
    app_id           TEXT NOT NULL REFERENCES apps(id),
    number           INTEGER NOT NULL,
    token            TEXT NOT NULL UNIQUE,
    status           TEXT NOT NULL,
    workflow_id      TEXT NOT NULL,
    workflow_version INTEGER NOT NULL,
    vendor_data      TEXT,
    metadata         TEXT NOT NULL,
    callback         TEXT,
    callback_method  TEXT,
    language         TEXT,
    contact_details  TEXT NOT NULL,
    expected_details TEXT NOT NULL,
    resubmit_info    TEXT,
    country          TEXT,
    full_name        TEXT,
    version          INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    deleted_at       TEXT,
    FOREIGN KEY (workflow_id, workflow_version) REFERENCES workflows(id, version),
    UNIQUE (app_id, number)
);
CREATE INDEX user_sessions_vendor ON user_sessions(app_id, vendor_data);
CREATE INDEX user_sessions_status ON user_sessions(app_id, status, number);

CREATE TABLE business_sessions (
    id               TEXT PRIMARY KEY,
    app_id           TEXT NOT NULL REFERENCES apps(id),
    number           INTEGER NOT NULL,
    token            TEXT NOT NULL UNIQUE,
    status           TEXT NOT NULL,
    workflow_id      TEXT NOT NULL,
    workflow_version INTEGER NOT NULL,
    vendor_data      TEXT,
    metadata         TEXT NOT NULL,
    callback         TEXT,
    callback_method  TEXT,
    language         TEXT,
    contact_details  TEXT NOT NULL,
    expected_details TEXT NOT NULL,
    resubmit_info    TEXT,
    country          TEXT,
    full_name        TEXT,
    version          INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    deleted_at       TEXT,
    FOREIGN KEY (workflow_id, workflow_version) REFERENCES workflows(id, version),
    UNIQUE (app_id, number)
);
CREATE INDEX business_sessions_vendor ON business_sessions(app_id, vendor_data);
CREATE INDEX business_sessions_status ON business_sessions(app_id, status, number);

-- Attempts of both session kinds; session ids are UUIDs, unique across both tables.
CREATE TABLE attempts (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    node_id     TEXT NOT NULL,
    feature     TEXT NOT NULL,
    status      TEXT NOT NULL,
    data        TEXT NOT NULL,
    warnings    TEXT NOT NULL,
    actor_type  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (session_id, seq)
);

-- The review trail: append-only, hash-chained per session.
-- Rows are clustered by insertion (rowid); the uuid is random-free (UUIDv7) and unique by
-- construction, so it carries no index of its own.
CREATE TABLE reviews (
    uuid             TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    activity_type    TEXT NOT NULL,
    actor_type       TEXT NOT NULL,
    actor_display    TEXT NOT NULL,
    previous_status  TEXT,
    new_status       TEXT,
    comment          TEXT,
    metadata         TEXT NOT NULL,
    personal_digest  TEXT NOT NULL,
    redacted         INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL,
    UNIQUE (session_id, seq)
);

CREATE TRIGGER reviews_no_delete BEFORE DELETE ON reviews
BEGIN
    SELECT RAISE(ABORT, 'review rows are append-only');
END;

-- The only update allowed is erasing personal data once (session deletion).
CREATE TRIGGER reviews_no_update BEFORE UPDATE ON reviews
WHEN NOT (
    OLD.redacted = 0 AND NEW.redacted = 1 AND NEW.comment IS NULL AND NEW.metadata = '{}'
    AND NEW.uuid = OLD.uuid AND NEW.session_id = OLD.session_id AND NEW.seq = OLD.seq
    AND NEW.activity_type = OLD.activity_type AND NEW.actor_type = OLD.actor_type
    AND NEW.actor_display = OLD.actor_display
    AND NEW.previous_status IS OLD.previous_status AND NEW.new_status IS OLD.new_status
    AND NEW.personal_digest = OLD.personal_digest AND NEW.created_at = OLD.created_at
    AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash
)
BEGIN
    SELECT RAISE(ABORT, 'review rows are append-only');
END;

-- Events written in the transaction of the change they announce; delivered after commit.
CREATE TABLE outbox_events (
    seq             INTEGER PRIMARY KEY,
    event_id        TEXT NOT NULL,
    app_id          TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    session_kind    TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    status          TEXT NOT NULL,
    previous_status TEXT,
    resubmit_info   TEXT,
    created_at      TEXT NOT NULL,
    dropped_at      TEXT
);
CREATE INDEX outbox_events_session ON outbox_events(session_id);

CREATE TABLE idempotency_keys (
    app_id       TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status_code  INTEGER NOT NULL,
    response     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (app_id, key)
);
