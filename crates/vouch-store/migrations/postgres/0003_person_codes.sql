-- One-time codes the person's page sent, one row per step of a session: only a keyed hash of
-- the code, when it went, and how many tries and sends it has had.
CREATE TABLE person_codes (
    session_id   uuid NOT NULL REFERENCES sessions(id),
    node_id      text NOT NULL,
    destination  text NOT NULL,
    code_hash    text NOT NULL,
    sent_at      timestamptz NOT NULL,
    tries        integer NOT NULL DEFAULT 0,
    sends        integer NOT NULL DEFAULT 1,
    PRIMARY KEY (session_id, node_id)
);
