-- Each delivery attempt has an id of its own, for the session's webhook log
-- (GET /v3/session/{id}/webhook/{uuid} and its resend). Attempts logged before get one now.
ALTER TABLE webhook_attempts ADD COLUMN uuid TEXT;
UPDATE webhook_attempts SET uuid = lower(
    hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
    || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-'
    || hex(randomblob(6)));
CREATE UNIQUE INDEX webhook_attempts_uuid ON webhook_attempts(uuid);
