-- Manual review: email jobs queued with status changes, lifecycle timer columns.

-- When an Approved session turns Kyc Expired (document expiry or workflow validity).
ALTER TABLE user_sessions ADD COLUMN kyc_expires_at TEXT;
ALTER TABLE business_sessions ADD COLUMN kyc_expires_at TEXT;

-- When the last backend-only resubmission was requested (a repeat within 30 s is refused).
ALTER TABLE user_sessions ADD COLUMN backend_resubmitted_at TEXT;
ALTER TABLE business_sessions ADD COLUMN backend_resubmitted_at TEXT;

CREATE INDEX user_sessions_lifecycle ON user_sessions(status, updated_at) WHERE deleted_at IS NULL;
CREATE INDEX business_sessions_lifecycle ON business_sessions(status, updated_at) WHERE deleted_at IS NULL;
CREATE INDEX user_sessions_kyc_expiry ON user_sessions(kyc_expires_at) WHERE status = 'Approved' AND deleted_at IS NULL;
CREATE INDEX business_sessions_kyc_expiry ON business_sessions(kyc_expires_at) WHERE status = 'Approved' AND deleted_at IS NULL;

-- Emails to the person, written in the transaction of the change that asks for them and sent
-- after commit by the mailer.
CREATE TABLE email_jobs (
    id            TEXT PRIMARY KEY,
    app_id        TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    review_uuid   TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('decision', 'resubmission')),
    status        TEXT NOT NULL,
    recipient     TEXT,
    language      TEXT NOT NULL,
    payload       TEXT NOT NULL,
    -- pending → sent | failed (permanent refusal or retries exhausted); not_sent: recorded but
    -- deliberately not sent (not_sent_reason); dropped: the session was deleted first.
    state         TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'sent', 'failed', 'not_sent', 'dropped')),
    not_sent_reason TEXT,
    -- One Message-ID per job, kept across retries.
    message_id    TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    locked_until  TEXT,
    next_attempt_at TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    sent_at       TEXT
);
CREATE INDEX email_jobs_due ON email_jobs(state, next_attempt_at);
CREATE INDEX email_jobs_session ON email_jobs(session_id);
