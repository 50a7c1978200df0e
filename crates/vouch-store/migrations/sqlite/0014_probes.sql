-- The readiness check's write: one row, rewritten by each check, so that a full disk or a
-- database that refuses writes is seen before a request finds it.
CREATE TABLE probes (
    name TEXT PRIMARY KEY,
    at   TEXT NOT NULL
);
