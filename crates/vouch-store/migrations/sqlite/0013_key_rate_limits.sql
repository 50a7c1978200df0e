-- A key's own rate limit (requests per window), set with `vouch keys … --rate-limit`; NULL is
-- the configured default.
ALTER TABLE api_keys ADD COLUMN rate_limit INTEGER;
