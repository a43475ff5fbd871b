-- History backfill checkpoints (issue 6): how far each backfill has committed.
-- Applied by `ovc db migrate` inside one transaction and recorded in ovc.schema_migrations.

-- One row per backfill of one symbol: its source, the requested range (the run's window) and
-- a hash of its input (CSV: paths, sizes, mtimes, format, zone; OANDA: server, granularity,
-- price). A backfill commits its blocks in chunks and moves `committed_until` (the end of
-- the last committed block) in the same transaction as each chunk, so the row never claims
-- more than the table holds. A rerun with the same key resumes after `committed_until`; once
-- `completed_at` is set, the next run with that key starts over (a rerun is a full, idempotent pass).
CREATE TABLE ovc.backfill_checkpoints (
    source            text        NOT NULL,
    symbol            text        NOT NULL,
    range_start       timestamptz NOT NULL,
    range_end         timestamptz NOT NULL,
    input_hash        text        NOT NULL CHECK (input_hash ~ '^[0-9a-f]{64}$'),
    input_description jsonb       NOT NULL,
    committed_until   timestamptz NOT NULL,
    blocks_committed  bigint      NOT NULL DEFAULT 0 CHECK (blocks_committed >= 0),
    chunks_committed  integer     NOT NULL DEFAULT 0 CHECK (chunks_committed >= 0),
    dagster_run_id    text        NOT NULL,
    started_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    completed_at      timestamptz,
    PRIMARY KEY (source, symbol, range_start, range_end, input_hash),
    CHECK (range_end > range_start),
    CHECK (committed_until >= range_start)
);
