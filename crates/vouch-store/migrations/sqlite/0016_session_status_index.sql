-- Lists by status (the console's queue, `?status=`) count their matches from the index alone:
-- the deletion column joins it, so that `deleted_at IS NULL` needs no visit to each row
-- (measured at a million sessions: 45 ms to count 20,000 in review, 3 ms from the index).
DROP INDEX sessions_status;
CREATE INDEX sessions_status ON sessions(app_id, status, number, deleted_at);
