-- One table for both kinds of session, told apart by `kind` (they were `user_sessions` and
-- `business_sessions`). Session numbers were already unique per application across both.

CREATE TABLE sessions (
    id                     TEXT PRIMARY KEY,
    kind                   TEXT NOT NULL CHECK (kind IN ('user', 'business')),
    app_id                 TEXT NOT NULL REFERENCES apps(id),
    number                 INTEGER NOT NULL,
    token                  TEXT NOT NULL UNIQUE,
    status                 TEXT NOT NULL,
    workflow_id            TEXT NOT NULL,
    workflow_version       INTEGER NOT NULL,
    vendor_data            TEXT,
    metadata               TEXT NOT NULL,
    callback               TEXT,
    callback_method        TEXT,
    language               TEXT,
    contact_details        TEXT NOT NULL,
    expected_details       TEXT NOT NULL,
    resubmit_info          TEXT,
    country                TEXT,
    full_name              TEXT,
    version                INTEGER NOT NULL,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    expires_at             TEXT NOT NULL,
    deleted_at             TEXT,
    kyc_expires_at         TEXT,
    backend_resubmitted_at TEXT,
    FOREIGN KEY (workflow_id, workflow_version) REFERENCES workflows(id, version),
    UNIQUE (app_id, number)
);

INSERT INTO sessions (id, kind, app_id, number, token, status, workflow_id, workflow_version,
        vendor_data, metadata, callback, callback_method, language, contact_details,
        expected_details, resubmit_info, country, full_name, version, created_at, updated_at,
        expires_at, deleted_at, kyc_expires_at, backend_resubmitted_at)
    SELECT id, 'user', app_id, number, token, status, workflow_id, workflow_version,
        vendor_data, metadata, callback, callback_method, language, contact_details,
        expected_details, resubmit_info, country, full_name, version, created_at, updated_at,
        expires_at, deleted_at, kyc_expires_at, backend_resubmitted_at
    FROM user_sessions;
INSERT INTO sessions (id, kind, app_id, number, token, status, workflow_id, workflow_version,
        vendor_data, metadata, callback, callback_method, language, contact_details,
        expected_details, resubmit_info, country, full_name, version, created_at, updated_at,
        expires_at, deleted_at, kyc_expires_at, backend_resubmitted_at)
    SELECT id, 'business', app_id, number, token, status, workflow_id, workflow_version,
        vendor_data, metadata, callback, callback_method, language, contact_details,
        expected_details, resubmit_info, country, full_name, version, created_at, updated_at,
        expires_at, deleted_at, kyc_expires_at, backend_resubmitted_at
    FROM business_sessions;

DROP TABLE user_sessions;
DROP TABLE business_sessions;

CREATE INDEX sessions_vendor ON sessions(vendor_data, app_id);
CREATE INDEX sessions_status ON sessions(app_id, status, number);
CREATE INDEX sessions_lifecycle ON sessions(status, updated_at) WHERE deleted_at IS NULL;
CREATE INDEX sessions_kyc_expiry ON sessions(kyc_expires_at)
    WHERE status = 'Approved' AND deleted_at IS NULL;
