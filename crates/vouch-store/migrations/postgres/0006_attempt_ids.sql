-- Each delivery attempt has an id of its own, for the session's webhook log
-- (GET /v3/session/{id}/webhook/{uuid} and its resend). Attempts logged before get one now.
ALTER TABLE webhook_attempts ADD COLUMN uuid uuid;
UPDATE webhook_attempts SET uuid = gen_random_uuid();
ALTER TABLE webhook_attempts ALTER COLUMN uuid SET NOT NULL;
CREATE UNIQUE INDEX webhook_attempts_uuid ON webhook_attempts(uuid);
