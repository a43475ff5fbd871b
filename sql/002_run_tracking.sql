-- Run tracking (seed 003) and lineage for rollback (issue 7).
-- Applied by `ovc db migrate` inside one transaction and recorded in ovc.schema_migrations.

-- Run-level counts hand-off: each step of a Dagster run upserts one row with the totals it
-- counted (also when it fails: what it counted so far) and the input range it covered. The
-- run report sums a run's rows. `counts` holds the fields of ovc_assets.runs.counts.RunCounts.
CREATE TABLE ovc.ovc_run_counts (
    dagster_run_id text        NOT NULL,
    step_key       text        NOT NULL,
    run_type       text        NOT NULL
        CHECK (run_type IN ('LIVE_INGEST', 'HIST_BACKFILL', 'OUTCOME_COMPUTE', 'FULL_ENRICH')),
    counts         jsonb       NOT NULL CHECK (jsonb_typeof(counts) = 'object'),
    range_start    timestamptz,
    range_end      timestamptz,
    symbols        text[]      NOT NULL DEFAULT '{}',
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dagster_run_id, step_key),
    CHECK (range_start IS NULL OR range_end IS NULL OR range_end >= range_start)
);

-- Row history: the previous version of every row a run overwrote or deleted in the three
-- data tables, so `ovc runs rollback RUN_ID` can restore the state before that run. Rows a
-- run inserted need no history: they carry its run_id. Writers touch only rows whose values
-- change (IS DISTINCT FROM guard), so unchanged rows add nothing here.
CREATE TABLE ovc.row_history (
    history_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name         text        NOT NULL,
    pk                 jsonb       NOT NULL,
    old_row            jsonb       NOT NULL,
    old_run_id         text,
    replaced_by_run_id text,
    operation          text        NOT NULL CHECK (operation IN ('UPDATE', 'DELETE')),
    replaced_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX row_history_replaced_by_idx ON ovc.row_history (replaced_by_run_id);
CREATE INDEX row_history_old_run_idx ON ovc.row_history (old_run_id);
CREATE INDEX row_history_pk_idx ON ovc.row_history (table_name, pk, history_id);

-- The writer of a change: the session setting `ovc.run_id` when set (rollbacks and deletes
-- set it with SET LOCAL), else on UPDATE the run_id the writer put into the new row.
-- The trigger arguments name the table's primary-key columns. The function runs in UTC so
-- that timestamps in `pk` and `old_row` have one spelling whatever the writer's session.
CREATE FUNCTION ovc.record_row_history() RETURNS trigger
LANGUAGE plpgsql SET timezone = 'UTC' AS $$
DECLARE
    old_row jsonb := to_jsonb(OLD);
    writer  text  := nullif(current_setting('ovc.run_id', true), '');
    key     jsonb;
BEGIN
    SELECT jsonb_object_agg(column_name, old_row -> column_name)
      INTO key
      FROM unnest(TG_ARGV) AS column_name;
    IF TG_OP = 'UPDATE' THEN
        writer := coalesce(writer, NEW.run_id);
    END IF;
    INSERT INTO ovc.row_history (table_name, pk, old_row, old_run_id, replaced_by_run_id, operation)
    VALUES (TG_TABLE_NAME, key, old_row, OLD.run_id, writer, TG_OP);
    RETURN NULL;
END;
$$;

CREATE TRIGGER ovc_blocks_v01_history_update
    AFTER UPDATE ON ovc.ovc_blocks_v01
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION ovc.record_row_history('symbol', 'block_start', 'block_type', 'schema_ver');
CREATE TRIGGER ovc_blocks_v01_history_delete
    AFTER DELETE ON ovc.ovc_blocks_v01
    FOR EACH ROW
    EXECUTE FUNCTION ovc.record_row_history('symbol', 'block_start', 'block_type', 'schema_ver');

CREATE TRIGGER ovc_blocks_detail_v01_history_update
    AFTER UPDATE ON ovc.ovc_blocks_detail_v01
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION ovc.record_row_history('symbol', 'block_start', 'block_type', 'schema_ver');
CREATE TRIGGER ovc_blocks_detail_v01_history_delete
    AFTER DELETE ON ovc.ovc_blocks_detail_v01
    FOR EACH ROW
    EXECUTE FUNCTION ovc.record_row_history('symbol', 'block_start', 'block_type', 'schema_ver');

CREATE TRIGGER ovc_outcomes_v01_history_update
    AFTER UPDATE ON ovc.ovc_outcomes_v01
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION ovc.record_row_history('symbol', 'block_start', 'window_type', 'outcome_ver');
CREATE TRIGGER ovc_outcomes_v01_history_delete
    AFTER DELETE ON ovc.ovc_outcomes_v01
    FOR EACH ROW
    EXECUTE FUNCTION ovc.record_row_history('symbol', 'block_start', 'window_type', 'outcome_ver');

-- Lineage lookups of the two tables that had no run_id index yet.
CREATE INDEX ovc_blocks_detail_v01_run_id_idx ON ovc.ovc_blocks_detail_v01 (run_id);
CREATE INDEX ovc_outcomes_v01_run_id_idx ON ovc.ovc_outcomes_v01 (run_id);

-- Manifest: a canceled run is its own status; rollbacks link both ways.
ALTER TABLE ovc.ovc_runs DROP CONSTRAINT ovc_runs_status_check;
ALTER TABLE ovc.ovc_runs ADD CONSTRAINT ovc_runs_status_check
    CHECK (status IN ('STARTED', 'SUCCESS', 'FAILURE', 'CANCELED', 'CRASHED', 'ROLLED_BACK'));
ALTER TABLE ovc.ovc_runs
    ADD COLUMN rollback_of    text,
    ADD COLUMN rolled_back_by text,
    ADD COLUMN updated_at     timestamptz NOT NULL DEFAULT now();
CREATE INDEX ovc_runs_started_at_idx ON ovc.ovc_runs (started_at DESC);

-- The reports of one OVC day, for the daily ovc_run_reports asset (an index, no new column).
CREATE INDEX ovc_run_reports_v01_started_at_ms_idx ON ovc.ovc_run_reports_v01 (started_at_ms);
