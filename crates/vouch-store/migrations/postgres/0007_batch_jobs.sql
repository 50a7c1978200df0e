-- Long back-office operations run as leased jobs (the fourth queue of the job runner): a batch
-- deletion too large to answer at once. Each run does one chunk in one transaction, with the
-- job's progress, so a crash loses nothing and repeats nothing.
CREATE TABLE batch_jobs (
    id              uuid PRIMARY KEY,
    app_id          uuid NOT NULL REFERENCES apps(id),
    kind            text NOT NULL CHECK (kind IN ('delete_sessions')),
    input           json NOT NULL,
    progress        json NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts        bigint NOT NULL DEFAULT 0,
    last_error      text,
    locked_until    timestamptz,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    done_at         timestamptz
);
CREATE INDEX batch_jobs_due ON batch_jobs(state, next_attempt_at);
CREATE INDEX batch_jobs_app ON batch_jobs(app_id, created_at);
