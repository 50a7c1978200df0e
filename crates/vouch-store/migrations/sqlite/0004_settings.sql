-- Server-wide values generated once and shared by every process on this database
-- (e.g. the key that signs email preview tokens).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
