-- The reviewer's console: its users (`vouch users …`), their logins (server-side sessions named
-- by the hash of the cookie's token) and what they did (logins, failures, role changes).
CREATE TABLE console_users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    role          text NOT NULL,
    apps          json NOT NULL,
    -- The second factor's secret (base32), and the last step whose code was used (a code is
    -- good once).
    totp_secret   text,
    totp_last_step bigint,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL
);
CREATE TABLE console_logins (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES console_users(id),
    csrf       text NOT NULL,
    created_at timestamptz NOT NULL,
    seen_at    timestamptz NOT NULL
);
CREATE INDEX console_logins_user ON console_logins (user_id);
CREATE TABLE console_events (
    id      uuid PRIMARY KEY,
    at      timestamptz NOT NULL,
    kind    text NOT NULL,
    email   text NOT NULL,
    address text,
    detail  text
);
CREATE INDEX console_events_by_email ON console_events (email, kind, at);
CREATE INDEX console_events_by_address ON console_events (address, kind, at);
-- A reviewer's claim on a session (assignment); a claim past expires_at is nobody's.
CREATE TABLE console_claims (
    session_id uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES console_users(id),
    email      text NOT NULL,
    claimed_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
-- A decision staged under four-eyes, waiting for a second reviewer; `rejected_by` set when the
-- second reviewer sent it back (with `note`).
CREATE TABLE console_staged (
    session_id  uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES console_users(id),
    email       text NOT NULL,
    body        json NOT NULL,
    version     bigint NOT NULL,
    staged_at   timestamptz NOT NULL,
    rejected_by text,
    note        text
);
-- Per application: whether decisions need a second reviewer (`vouch apps update --four-eyes`).
CREATE TABLE console_app_settings (
    app_id    uuid PRIMARY KEY REFERENCES apps(id),
    four_eyes boolean NOT NULL
);
