-- One-time codes the person's page sent, one row per step of a session: only a keyed hash of
-- the code, when it went, and how many tries and sends it has had.
CREATE TABLE person_codes (
    session_id   TEXT NOT NULL REFERENCES sessions(id),
    node_id      TEXT NOT NULL,
    destination  TEXT NOT NULL,
    code_hash    TEXT NOT NULL,
    sent_at      TEXT NOT NULL,
    tries        INTEGER NOT NULL DEFAULT 0,
    sends        INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (session_id, node_id)
);
