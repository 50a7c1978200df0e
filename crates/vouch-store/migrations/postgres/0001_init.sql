-- vouch schema for PostgreSQL, version 1: the same tables as the SQLite backend, with native
-- types. Documents are `json` (not `jsonb`) so they read back byte for byte as written: key order
-- and number spelling feed the review hash chain and the decision JSON.

CREATE TABLE apps (
    id                  uuid PRIMARY KEY,
    name                text NOT NULL UNIQUE,
    mode                text NOT NULL CHECK (mode IN ('live', 'sandbox')),
    next_session_number bigint NOT NULL DEFAULT 1,
    email_sender_name   text,
    email_brand         text,
    created_at          timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    app_id      uuid NOT NULL REFERENCES apps(id),
    name        text,
    key_hash    bytea NOT NULL UNIQUE,
    prefix      text NOT NULL,
    last4       text NOT NULL,
    sessions    text NOT NULL,
    decisions   text NOT NULL,
    webhooks    text NOT NULL,
    workflows   text NOT NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL
);
CREATE INDEX api_keys_app ON api_keys(app_id);

-- One row per workflow version; the highest version is the current one.
CREATE TABLE workflows (
    id          uuid NOT NULL,
    version     bigint NOT NULL,
    app_id      uuid NOT NULL REFERENCES apps(id),
    label       text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('user', 'business')),
    status      text NOT NULL CHECK (status IN ('draft', 'published')),
    is_default  boolean NOT NULL,
    spec        json NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE INDEX workflows_app ON workflows(app_id, created_at);

CREATE TABLE user_sessions (
    id                     uuid PRIMARY KEY,
    app_id                 uuid NOT NULL REFERENCES apps(id),
    number                 bigint NOT NULL,
    token                  text NOT NULL UNIQUE,
    status                 text NOT NULL,
    workflow_id            uuid NOT NULL,
    workflow_version       bigint NOT NULL,
    vendor_data            text,
    metadata               json NOT NULL,
    callback               text,
    callback_method        text,
    language               text,
    contact_details        json NOT NULL,
    expected_details       json NOT NULL,
    resubmit_info          json,
    country                text,
    full_name              text,
    version                bigint NOT NULL,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    expires_at             timestamptz NOT NULL,
    deleted_at             timestamptz,
    -- When an Approved session turns Kyc Expired (document expiry or workflow validity).
    kyc_expires_at         timestamptz,
    -- When the last backend-only resubmission was requested (a repeat within 30 s is refused).
    backend_resubmitted_at timestamptz,
    FOREIGN KEY (workflow_id, workflow_version) REFERENCES workflows(id, version),
    UNIQUE (app_id, number)
);
CREATE INDEX user_sessions_vendor ON user_sessions(vendor_data, app_id);
CREATE INDEX user_sessions_status ON user_sessions(app_id, status, number);
CREATE INDEX user_sessions_lifecycle ON user_sessions(status, updated_at) WHERE deleted_at IS NULL;
CREATE INDEX user_sessions_kyc_expiry ON user_sessions(kyc_expires_at)
    WHERE status = 'Approved' AND deleted_at IS NULL;

CREATE TABLE business_sessions (LIKE user_sessions INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE business_sessions ADD PRIMARY KEY (id);
ALTER TABLE business_sessions ADD UNIQUE (token);
ALTER TABLE business_sessions ADD UNIQUE (app_id, number);
ALTER TABLE business_sessions ADD FOREIGN KEY (app_id) REFERENCES apps(id);
ALTER TABLE business_sessions ADD FOREIGN KEY (workflow_id, workflow_version)
    REFERENCES workflows(id, version);
CREATE INDEX business_sessions_vendor ON business_sessions(vendor_data, app_id);
CREATE INDEX business_sessions_status ON business_sessions(app_id, status, number);
CREATE INDEX business_sessions_lifecycle ON business_sessions(status, updated_at) WHERE deleted_at IS NULL;
CREATE INDEX business_sessions_kyc_expiry ON business_sessions(kyc_expires_at)
    WHERE status = 'Approved' AND deleted_at IS NULL;

-- Attempts of both session kinds; session ids are UUIDs, unique across both tables.
CREATE TABLE attempts (
    id          uuid PRIMARY KEY,
    session_id  uuid NOT NULL,
    seq         bigint NOT NULL,
    node_id     text NOT NULL,
    feature     text NOT NULL,
    status      text NOT NULL,
    data        json NOT NULL,
    warnings    json NOT NULL,
    actor_type  text NOT NULL,
    created_at  timestamptz NOT NULL,
    UNIQUE (session_id, seq)
);

-- The review trail: append-only, hash-chained per session.
CREATE TABLE reviews (
    uuid             uuid NOT NULL,
    session_id       uuid NOT NULL,
    seq              bigint NOT NULL,
    activity_type    text NOT NULL,
    actor_type       text NOT NULL,
    actor_display    text NOT NULL,
    previous_status  text,
    new_status       text,
    comment          text,
    metadata         json NOT NULL,
    personal_digest  text NOT NULL,
    redacted         boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    prev_hash        text NOT NULL,
    hash             text NOT NULL,
    PRIMARY KEY (session_id, seq)
);

-- Review rows are never deleted; the only update allowed is erasing personal data once
-- (session deletion).
CREATE FUNCTION reviews_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND NOT OLD.redacted AND NEW.redacted AND NEW.comment IS NULL
       AND NEW.metadata::text = '{}'
       AND NEW.uuid = OLD.uuid AND NEW.session_id = OLD.session_id AND NEW.seq = OLD.seq
       AND NEW.activity_type = OLD.activity_type AND NEW.actor_type = OLD.actor_type
       AND NEW.actor_display = OLD.actor_display
       AND NEW.previous_status IS NOT DISTINCT FROM OLD.previous_status
       AND NEW.new_status IS NOT DISTINCT FROM OLD.new_status
       AND NEW.personal_digest = OLD.personal_digest AND NEW.created_at = OLD.created_at
       AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'review rows are append-only';
END;
$$;
CREATE TRIGGER reviews_append_only BEFORE UPDATE OR DELETE ON reviews
    FOR EACH ROW EXECUTE FUNCTION reviews_append_only();

-- Events written in the transaction of the change they announce; delivered after commit.
CREATE TABLE outbox_events (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        uuid NOT NULL,
    app_id          uuid NOT NULL,
    session_id      uuid NOT NULL,
    session_kind    text NOT NULL,
    event_type      text NOT NULL,
    status          text NOT NULL,
    previous_status text,
    resubmit_info   json,
    created_at      timestamptz NOT NULL,
    dropped_at      timestamptz,
    fanned_out_at   timestamptz
);
CREATE INDEX outbox_events_session ON outbox_events(session_id);
CREATE INDEX outbox_events_pending ON outbox_events(seq)
    WHERE fanned_out_at IS NULL AND dropped_at IS NULL;

CREATE TABLE idempotency_keys (
    app_id       uuid NOT NULL,
    key          text NOT NULL,
    fingerprint  text NOT NULL,
    status_code  integer NOT NULL,
    response     json NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (app_id, key)
);

-- Emails to the person, written in the transaction of the change that asks for them and sent
-- after commit by the mailer.
CREATE TABLE email_jobs (
    id              uuid PRIMARY KEY,
    app_id          uuid NOT NULL,
    session_id      uuid NOT NULL,
    review_uuid     uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('decision', 'resubmission')),
    status          text NOT NULL,
    recipient       text,
    language        text NOT NULL,
    payload         json NOT NULL,
    -- pending → sent | failed (permanent refusal or retries exhausted); not_sent: recorded but
    -- deliberately not sent (not_sent_reason); dropped: the session was deleted first.
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sent', 'failed', 'not_sent', 'dropped')),
    not_sent_reason text,
    -- One Message-ID per job, kept across retries.
    message_id      text NOT NULL,
    attempts        bigint NOT NULL DEFAULT 0,
    last_error      text,
    locked_until    timestamptz,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz
);
CREATE INDEX email_jobs_due ON email_jobs(next_attempt_at) WHERE state = 'pending';
CREATE INDEX email_jobs_session ON email_jobs(session_id);

CREATE TABLE webhook_destinations (
    id                         uuid PRIMARY KEY,
    app_id                     uuid NOT NULL REFERENCES apps(id),
    label                      text NOT NULL,
    url                        text NOT NULL,
    enabled                    boolean NOT NULL,
    -- JSON array of event names; NULL means every session event.
    subscribed_events          json,
    secret                     text NOT NULL,
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    -- Set at the first failure after a success; cleared by a success.
    failing_since              timestamptz,
    disabled_reason            text,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL,
    deleted_at                 timestamptz
);
CREATE INDEX webhook_destinations_app ON webhook_destinations(app_id) WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    app_id          uuid NOT NULL,
    destination_id  uuid NOT NULL,
    event_seq       bigint NOT NULL,
    event_id        uuid NOT NULL,
    session_id      uuid NOT NULL,
    event_type      text NOT NULL,
    state           text NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed', 'dropped')),
    attempts        bigint NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    locked_until    timestamptz,
    -- The payload as first sent (without its send-time `timestamp`); resends re-sign it.
    payload         json,
    last_status     bigint,
    last_error      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (event_seq, destination_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_destination ON webhook_deliveries(destination_id, created_at);
CREATE INDEX webhook_deliveries_session ON webhook_deliveries(session_id);

CREATE TABLE webhook_attempts (
    id               bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    delivery_id      uuid NOT NULL,
    session_id       uuid NOT NULL,
    attempt          bigint NOT NULL,
    url              text NOT NULL,
    request_headers  json NOT NULL,
    request_body     text NOT NULL,
    response_status  bigint,
    response_body    text,
    error            text,
    duration_ms      bigint NOT NULL,
    started_at       timestamptz NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, attempt);
CREATE INDEX webhook_attempts_session ON webhook_attempts(session_id, id);

-- Server-wide values generated once and shared by every node (e.g. the key that signs email
-- preview tokens).
CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
