-- Lists answer an exact `count` without counting their matches: the number of live sessions
-- per application, kind, status, workflow and country, and per day of creation (UTC) and
-- status. Every change to a session appends its difference to `session_tally_deltas` by
-- trigger, in the change's own transaction (appends never wait on each other, where counters
-- updated in place would make concurrent changes queue on their rows); a node folds the
-- differences into the tallies every second. A count adds up the tallies and the differences
-- not yet folded, so it is exact whether or not a fold ran.

CREATE TABLE session_tallies (
    app_id      uuid NOT NULL,
    kind        text NOT NULL,
    status      text NOT NULL,
    workflow_id uuid NOT NULL,
    country     text NOT NULL,   -- '' for none
    n           bigint NOT NULL,
    PRIMARY KEY (app_id, kind, status, workflow_id, country)
);

CREATE TABLE session_day_tallies (
    app_id uuid NOT NULL,
    kind   text NOT NULL,
    day    text NOT NULL,        -- YYYY-MM-DD of created_at in UTC
    status text NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (app_id, kind, day, status)
);

CREATE TABLE session_tally_deltas (
    app_id      uuid NOT NULL,
    kind        text NOT NULL,
    status      text NOT NULL,
    workflow_id uuid NOT NULL,
    country     text NOT NULL,
    day         text NOT NULL,
    n           integer NOT NULL
);

-- Differences come and go all the time: the counts read them through this index (not the
-- table's pages, which a burst leaves many of), and autovacuum clears the folded ones early.
CREATE INDEX session_tally_deltas_app ON session_tally_deltas (app_id, kind);
ALTER TABLE session_tally_deltas SET (autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_cost_delay = 0);

INSERT INTO session_tallies (app_id, kind, status, workflow_id, country, n)
    SELECT app_id, kind, status, workflow_id, COALESCE(country, ''), COUNT(*)
    FROM sessions WHERE deleted_at IS NULL
    GROUP BY app_id, kind, status, workflow_id, COALESCE(country, '');
INSERT INTO session_day_tallies (app_id, kind, day, status, n)
    SELECT app_id, kind, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), status, COUNT(*)
    FROM sessions WHERE deleted_at IS NULL
    GROUP BY app_id, kind, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), status;

-- The function keeps the schema it was made in (`SET search_path FROM CURRENT`), so that a change
-- made from a connection with another search_path (an operator's psql) still finds its tables.
CREATE FUNCTION sessions_tally() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
        IF TG_OP = 'UPDATE' AND NEW.deleted_at IS NULL AND OLD.app_id = NEW.app_id
           AND OLD.kind = NEW.kind AND OLD.status = NEW.status
           AND OLD.workflow_id = NEW.workflow_id
           AND OLD.country IS NOT DISTINCT FROM NEW.country
           AND OLD.created_at = NEW.created_at THEN
            RETURN NULL;
        END IF;
        INSERT INTO session_tally_deltas VALUES (OLD.app_id, OLD.kind, OLD.status,
            OLD.workflow_id, COALESCE(OLD.country, ''), to_char(OLD.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.deleted_at IS NULL THEN
        INSERT INTO session_tally_deltas VALUES (NEW.app_id, NEW.kind, NEW.status,
            NEW.workflow_id, COALESCE(NEW.country, ''), to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_tally AFTER INSERT OR DELETE OR UPDATE OF app_id, kind, status, workflow_id, country, created_at, deleted_at
    ON sessions FOR EACH ROW EXECUTE FUNCTION sessions_tally();

-- The pages of the filters the tallies count: each index holds what the filter's other
-- conditions read (kind, deletion) and the numbers in order, so that a page is read from the
-- index alone, or its numbers are. A search by the start of a name or of a vendor_data is
-- served by the last two (pattern indexes: LIKE's prefix whatever the collation).
DROP INDEX sessions_status;
CREATE INDEX sessions_status ON sessions(app_id, status, number, deleted_at, kind);
CREATE INDEX sessions_workflow ON sessions(app_id, workflow_id, number, kind, deleted_at);
CREATE INDEX sessions_country ON sessions(app_id, country, number, kind, deleted_at);
CREATE INDEX sessions_created ON sessions(app_id, created_at, number, kind, deleted_at);
CREATE INDEX sessions_name_prefix ON sessions(full_name text_pattern_ops, app_id, kind, deleted_at, number);
CREATE INDEX sessions_vendor_prefix ON sessions(vendor_data text_pattern_ops, app_id, kind, deleted_at, number);
