-- update-status's transaction as vouch sends it to PostgreSQL, for pgbench: lock the session
-- (with its application), read its attempts and the review chain's tip, flip its status, append
-- the review row and the outbox event. Sessions are picked at random by number among :sessions.
-- Run with `-M prepared` (as vouch sends them) on a schema the benchmark kept (`vouch-bench --postgres --keep-schema`); see README.md.
\set n random(1, :sessions)
BEGIN;
SELECT s.id AS sid, s.version AS ver, s.status AS st, s.app_id AS app, s.kind AS kind,
       a.mode AS app_mode, COALESCE(a.email_brand, a.name) AS app_name, a.email_sender_name
  FROM sessions s JOIN apps a ON a.id = s.app_id
 WHERE s.app_id = (SELECT id FROM apps ORDER BY created_at LIMIT 1) AND s.number = :n
   FOR UPDATE OF s \gset
SELECT * FROM attempts WHERE session_id = :sid ORDER BY seq;
SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM reviews WHERE session_id = :sid \gset
UPDATE sessions SET status = CASE WHEN status = 'Approved' THEN 'Declined' ELSE 'Approved' END,
       updated_at = now(), version = version + 1
 WHERE id = :sid AND version = :ver;
INSERT INTO reviews (uuid, session_id, seq, activity_type, actor_type, actor_display,
       previous_status, new_status, comment, metadata, personal_digest, redacted, created_at,
       prev_hash, hash)
VALUES (gen_random_uuid(), :sid, :next, 'STATUS_CHANGE', 'API_KEY', 'pgbench', :st,
       CASE WHEN :st = 'Approved' THEN 'Declined' ELSE 'Approved' END, 'pgbench',
       '{"nodes_to_resubmit": [], "send_email": false}', md5(random()::text), FALSE, now(),
       md5(random()::text), md5(random()::text));
INSERT INTO outbox_events (event_id, app_id, session_id, session_kind, event_type, status,
       previous_status, resubmit_info, created_at)
VALUES (gen_random_uuid(), :app, :sid, :kind, 'status.updated',
       CASE WHEN :st = 'Approved' THEN 'Declined' ELSE 'Approved' END, :st, NULL, now());
COMMIT;
