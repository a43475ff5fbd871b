"""The OVC run type of a Dagster run, read from its tag or inferred from what it targets and
tagged on the run. Used by the report sensors and by the run coordinator when a run is queued;
it imports no code location, so loading the coordinator in the webserver (its first request)
stays cheap: importing the report sensors cost 0.9-3.6 s there (benchmarks/RESULTS.md, "UI")."""

import dagster as dg

from ovc_assets.runs.tags import RUN_TYPE_TAG, infer_run_type


def _targeted_asset_keys(instance: dg.DagsterInstance, run: dg.DagsterRun) -> set[str]:
    """The assets a run targets: its asset selection, else the materialisations it planned
    (a job's run, or an in-process `materialize`, may carry an empty selection)."""
    if run.asset_selection:
        return {key.to_user_string() for key in run.asset_selection}
    planned = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    return {
        record.event_log_entry.dagster_event.asset_key.to_user_string()
        for record in planned.records
        if record.event_log_entry.dagster_event is not None and record.event_log_entry.dagster_event.asset_key
    }


def ovc_run_type_of(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """The OVC run type of a run (None: not an OVC run). A run launched without the
    `ovc/run_type` tag gets the inferred one, so its report, the UI and `ovc runs` name it."""
    if run.tags.get(RUN_TYPE_TAG):
        return run.tags[RUN_TYPE_TAG]
    run_type = infer_run_type(run.tags, _targeted_asset_keys(instance, run), run.run_config)
    if run_type is not None:
        instance.add_run_tags(run.run_id, {RUN_TYPE_TAG: str(run_type)})
    return run_type
