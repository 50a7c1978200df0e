-- Shared sessions imported by another application: each share token once, and each shared
-- session once per receiving application.
CREATE TABLE share_redemptions (
    share_id          uuid PRIMARY KEY,
    for_app_id        uuid NOT NULL REFERENCES apps(id),
    source_session_id uuid NOT NULL,
    session_id        uuid NOT NULL REFERENCES sessions(id),
    redeemed_at       timestamptz NOT NULL,
    UNIQUE (for_app_id, source_session_id)
);
