-- Shared sessions imported by another application: each share token once, and each shared
-- session once per receiving application.
CREATE TABLE share_redemptions (
    share_id          TEXT PRIMARY KEY,
    for_app_id        TEXT NOT NULL REFERENCES apps(id),
    source_session_id TEXT NOT NULL,
    session_id        TEXT NOT NULL REFERENCES sessions(id),
    redeemed_at       TEXT NOT NULL,
    UNIQUE (for_app_id, source_session_id)
);
