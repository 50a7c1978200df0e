-- One table for both kinds of session, told apart by `kind` (they were `user_sessions` and
-- `business_sessions`). Session numbers were already unique per application across both.

CREATE TABLE sessions (
    id                     uuid PRIMARY KEY,
    kind                   text NOT NULL CHECK (kind IN ('user', 'business')),
    app_id                 uuid NOT NULL REFERENCES apps(id),
    number                 bigint NOT NULL,
    token                  text NOT NULL UNIQUE,
    status                 text NOT NULL,
    workflow_id            uuid NOT NULL,
    workflow_version       bigint NOT NULL,
    vendor_data            text,
    metadata               json NOT NULL,
    callback               text,
    callback_method        text,
    language               text,
    contact_details        json NOT NULL,
    expected_details       json NOT NULL,
    resubmit_info          json,
    country                text,
    full_name              text,
    version                bigint NOT NULL,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    expires_at             timestamptz NOT NULL,
    deleted_at             timestamptz,
    -- When an Approved session turns Kyc Expired (document expiry or workflow validity).
    kyc_expires_at         timestamptz,
    -- When the last backend-only resubmission was requested (a repeat within 30 s is refused).
    backend_resubmitted_at timestamptz,
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
    FROM user_sessions
    UNION ALL
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
