-- Workflow settings the clients send (JSON object, echoed back; session_expiration_time sets the
-- link lifetime), and archiving: an archived workflow keeps its sessions and takes no new ones.
ALTER TABLE workflows ADD COLUMN settings json NOT NULL DEFAULT '{}';
ALTER TABLE workflows ADD COLUMN archived_at timestamptz;
-- The payload version a destination asked for (v1, v2, v3), echoed back.
ALTER TABLE webhook_destinations ADD COLUMN webhook_version text NOT NULL DEFAULT 'v3';
