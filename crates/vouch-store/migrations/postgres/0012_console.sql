-- The reviewer's console: its users (`vouch users …`), their logins (server-side sessions named
-- by the hash of the cookie's token) and what they did (logins, failures, role changes).
CREATE TABLE console_users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    role          text NOT NULL,
    apps          jsonb NOT NULL,
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
