-- One asset check evaluation of a run, stored in Dagster's event log in one statement (one round
-- trip, one transaction): the event row; the check's execution row (the run's planned row
-- updated, else a new row, as dagster's `_update_asset_check_evaluation` does in two); the NOTIFY
-- dagster-postgres sends for every stored event. Returns the event's id and how many execution
-- rows were written (more than one: duplicate planned rows, which Dagster refuses too).
WITH stored_event AS (
    INSERT INTO event_logs (run_id, event, dagster_event_type, timestamp, step_key, asset_key, partition)
    VALUES (:run_id, :event, :dagster_event_type, :timestamp, :step_key, :asset_key, :partition)
    RETURNING id
), planned AS (
    UPDATE asset_check_executions
    SET execution_status = :execution_status,
        evaluation_event = :event,
        evaluation_event_timestamp = :timestamp,
        evaluation_event_storage_id = (SELECT id FROM stored_event),
        materialization_event_storage_id = :materialization_event_storage_id,
        partition = :check_partition
    WHERE asset_key = :check_asset_key
      AND check_name = :check_name
      AND run_id = :run_id
      AND partition IS NOT DISTINCT FROM :check_partition
    RETURNING id
), unplanned AS (
    INSERT INTO asset_check_executions (asset_key, check_name, run_id, execution_status, evaluation_event,
                                        evaluation_event_timestamp, evaluation_event_storage_id,
                                        materialization_event_storage_id, partition)
    SELECT :check_asset_key, :check_name, :run_id, :execution_status, :event,
           :timestamp, stored_event.id, :materialization_event_storage_id, :check_partition
    FROM stored_event
    WHERE NOT EXISTS (SELECT FROM planned)
    RETURNING id
)
SELECT stored_event.id,
       pg_notify(:channel, :run_id || '_' || stored_event.id),
       (SELECT count(*) FROM planned) + (SELECT count(*) FROM unplanned)
FROM stored_event
