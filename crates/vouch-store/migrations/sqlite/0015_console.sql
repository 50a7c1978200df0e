-- The reviewer's console: its users (`vouch users …`), their logins (server-side sessions named
-- by the hash of the cookie's token) and what they did (logins, failures, role changes).
CREATE TABLE console_users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    apps          TEXT NOT NULL,
    -- The second factor's secret (base32), and the last step whose code was used (a code is
    -- good once).
    totp_secret   TEXT,
    totp_last_step INTEGER,
    disabled_at   TEXT,
    created_at    TEXT NOT NULL
);
CREATE TABLE console_logins (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES console_users(id),
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seen_at    TEXT NOT NULL
);
CREATE INDEX console_logins_user ON console_logins (user_id);
CREATE TABLE console_events (
    id      TEXT PRIMARY KEY,
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    email   TEXT NOT NULL,
    address TEXT,
    detail  TEXT
);
CREATE INDEX console_events_by_email ON console_events (email, kind, at);
CREATE INDEX console_events_by_address ON console_events (address, kind, at);
-- A reviewer's claim on a session (assignment); a claim past expires_at is nobody's.
CREATE TABLE console_claims (
    session_id TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES console_users(id),
    email      TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
-- A decision staged under four-eyes, waiting for a second reviewer; `rejected_by` set when the
-- second reviewer sent it back (with `note`).
CREATE TABLE console_staged (
    session_id  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES console_users(id),
    email       TEXT NOT NULL,
    body        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    staged_at   TEXT NOT NULL,
    rejected_by TEXT,
    note        TEXT
);
-- Per application: whether decisions need a second reviewer (`vouch apps update --four-eyes`).
CREATE TABLE console_app_settings (
    app_id    TEXT PRIMARY KEY REFERENCES apps(id),
    four_eyes INTEGER NOT NULL
);
