-- Lists answer an exact `count` without counting their matches: the number of live sessions
-- per application, kind, status, workflow and country, and per day of creation (UTC) and
-- status, kept by triggers in the same transaction as every change to a session, whatever
-- writes it. A list whose filters are only these adds up a few rows of them.

CREATE TABLE session_tallies (
    app_id      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    country     TEXT NOT NULL,   -- '' for none
    n           INTEGER NOT NULL,
    PRIMARY KEY (app_id, kind, status, workflow_id, country)
) WITHOUT ROWID;

CREATE TABLE session_day_tallies (
    app_id TEXT NOT NULL,
    kind   TEXT NOT NULL,
    day    TEXT NOT NULL,        -- YYYY-MM-DD of created_at
    status TEXT NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (app_id, kind, day, status)
) WITHOUT ROWID;

INSERT INTO session_tallies (app_id, kind, status, workflow_id, country, n)
    SELECT app_id, kind, status, workflow_id, COALESCE(country, ''), COUNT(*)
    FROM sessions WHERE deleted_at IS NULL
    GROUP BY app_id, kind, status, workflow_id, COALESCE(country, '');
INSERT INTO session_day_tallies (app_id, kind, day, status, n)
    SELECT app_id, kind, substr(created_at, 1, 10), status, COUNT(*)
    FROM sessions WHERE deleted_at IS NULL
    GROUP BY app_id, kind, substr(created_at, 1, 10), status;

CREATE TRIGGER sessions_tally_insert AFTER INSERT ON sessions
WHEN NEW.deleted_at IS NULL
BEGIN
    INSERT INTO session_tallies (app_id, kind, status, workflow_id, country, n)
        VALUES (NEW.app_id, NEW.kind, NEW.status, NEW.workflow_id, COALESCE(NEW.country, ''), 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO session_day_tallies (app_id, kind, day, status, n)
        VALUES (NEW.app_id, NEW.kind, substr(NEW.created_at, 1, 10), NEW.status, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER sessions_tally_delete AFTER DELETE ON sessions
WHEN OLD.deleted_at IS NULL
BEGIN
    UPDATE session_tallies SET n = n - 1
        WHERE app_id = OLD.app_id AND kind = OLD.kind AND status = OLD.status
          AND workflow_id = OLD.workflow_id AND country = COALESCE(OLD.country, '');
    UPDATE session_day_tallies SET n = n - 1
        WHERE app_id = OLD.app_id AND kind = OLD.kind AND day = substr(OLD.created_at, 1, 10)
          AND status = OLD.status;
END;

-- An update takes the session out of its old tallies (if it was live) and into its new ones
-- (if it still is).
CREATE TRIGGER sessions_tally_update AFTER UPDATE OF app_id, kind, status, workflow_id, country, created_at, deleted_at ON sessions
WHEN OLD.app_id IS NOT NEW.app_id OR OLD.kind IS NOT NEW.kind OR OLD.status IS NOT NEW.status
  OR OLD.workflow_id IS NOT NEW.workflow_id OR OLD.country IS NOT NEW.country
  OR OLD.created_at IS NOT NEW.created_at OR OLD.deleted_at IS NOT NEW.deleted_at
BEGIN
    UPDATE session_tallies SET n = n - 1
        WHERE OLD.deleted_at IS NULL AND app_id = OLD.app_id AND kind = OLD.kind
          AND status = OLD.status AND workflow_id = OLD.workflow_id
          AND country = COALESCE(OLD.country, '');
    UPDATE session_day_tallies SET n = n - 1
        WHERE OLD.deleted_at IS NULL AND app_id = OLD.app_id AND kind = OLD.kind
          AND day = substr(OLD.created_at, 1, 10) AND status = OLD.status;
    INSERT INTO session_tallies (app_id, kind, status, workflow_id, country, n)
        SELECT NEW.app_id, NEW.kind, NEW.status, NEW.workflow_id, COALESCE(NEW.country, ''), 1
        WHERE NEW.deleted_at IS NULL
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO session_day_tallies (app_id, kind, day, status, n)
        SELECT NEW.app_id, NEW.kind, substr(NEW.created_at, 1, 10), NEW.status, 1
        WHERE NEW.deleted_at IS NULL
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- The pages of the filters the tallies count: each index holds what the filter's other
-- conditions read (kind, deletion) and the numbers in order, so that a page is read from the
-- index alone, or its numbers are. A search by the start of a name or of a vendor_data is
-- served by the last two (LIKE is case-insensitive here, so are they).
DROP INDEX sessions_status;
CREATE INDEX sessions_status ON sessions(app_id, status, number, deleted_at, kind);
CREATE INDEX sessions_workflow ON sessions(app_id, workflow_id, number, kind, deleted_at);
CREATE INDEX sessions_country ON sessions(app_id, country, number, kind, deleted_at);
CREATE INDEX sessions_created ON sessions(app_id, created_at, number, kind, deleted_at);
CREATE INDEX sessions_name_prefix ON sessions(full_name COLLATE NOCASE, app_id, kind, deleted_at, number);
CREATE INDEX sessions_vendor_prefix ON sessions(vendor_data COLLATE NOCASE, app_id, kind, deleted_at, number);
