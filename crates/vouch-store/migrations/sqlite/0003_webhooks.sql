-- Webhook destinations, one delivery per (event, destination), and every attempt's log.

CREATE TABLE webhook_destinations (
    id                         TEXT PRIMARY KEY,
    app_id                     TEXT NOT NULL REFERENCES apps(id),
    label                      TEXT NOT NULL,
    url                        TEXT NOT NULL,
    enabled                    INTEGER NOT NULL,
    -- JSON array of event names; NULL means every session event.
    subscribed_events          TEXT,
    secret                     TEXT NOT NULL,
    previous_secret            TEXT,
    previous_secret_expires_at TEXT,
    -- Set at the first failure after a success; cleared by a success.
    failing_since              TEXT,
    disabled_reason            TEXT,
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT NOT NULL,
    deleted_at                 TEXT
);
CREATE INDEX webhook_destinations_app ON webhook_destinations(app_id) WHERE deleted_at IS NULL;

-- Events are fanned out into deliveries by the dispatcher, after commit.
ALTER TABLE outbox_events ADD COLUMN fanned_out_at TEXT;
CREATE INDEX outbox_events_pending ON outbox_events(seq) WHERE fanned_out_at IS NULL AND dropped_at IS NULL;

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    destination_id  TEXT NOT NULL,
    event_seq       INTEGER NOT NULL,
    event_id        TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed', 'dropped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    locked_until    TEXT,
    -- The payload as first sent (without its send-time `timestamp`); resends re-sign it.
    payload         TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (event_seq, destination_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_destination ON webhook_deliveries(destination_id, created_at);
CREATE INDEX webhook_deliveries_session ON webhook_deliveries(session_id);

CREATE TABLE webhook_attempts (
    id               INTEGER PRIMARY KEY,
    delivery_id      TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    attempt          INTEGER NOT NULL,
    url              TEXT NOT NULL,
    request_headers  TEXT NOT NULL,
    request_body     TEXT NOT NULL,
    response_status  INTEGER,
    response_body    TEXT,
    error            TEXT,
    duration_ms      INTEGER NOT NULL,
    started_at       TEXT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, attempt);
CREATE INDEX webhook_attempts_session ON webhook_attempts(session_id, id);
