-- Server-wide values generated once and shared by every process on this database
-- (e.g. the key that signs email preview tokens).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Per-application email branding: the sender's display name and the brand shown in emails.
ALTER TABLE apps ADD COLUMN email_sender_name TEXT;
ALTER TABLE apps ADD COLUMN email_brand TEXT;
