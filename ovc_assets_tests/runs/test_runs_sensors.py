"""Reports written by the sensors for real Dagster runs: WARN for rejected payloads, FAIL for
an insert failure and for a failed run, exactly one report per run, the UI materialisation,
the dead-run sweep, and no secret anywhere."""

from __future__ import annotations

import json
import logging

import dagster as dg

from ovc_assets.defs.run_reports import ovc_run_reports, run_report_definitions
from ovc_assets.defs.run_reports.assets import RUN_REPORTS_ASSET_KEY, partition_key_for
from ovc_assets.defs.run_reports.sensors import (
    build_missing_run_report_sensor,
    ovc_run_report_failure_sensor,
    ovc_run_report_success_sensor,
)
from ovc_assets.runs.report import FAIL, PASS, WARN
from ovc_assets.runs.store import load_report
from ovc_assets_tests.runs.runs_fake_job import FakeIngestConfig, fake_ingest, run_tags


def materialize(instance, resources, config: FakeIngestConfig | None = None, tags=None, raise_on_error=True):
    config = config or FakeIngestConfig()
    return dg.materialize(
        [fake_ingest],
        instance=instance,
        resources=resources,
        tags=run_tags() if tags is None else tags,
        run_config={"ops": {"fake_ingest": {"config": config.model_dump()}}},
        raise_on_error=raise_on_error,
    )


def success_tick(instance, resources, result):
    context = dg.build_run_status_sensor_context(
        sensor_name="ovc_run_report_success_sensor",
        dagster_event=result.get_run_success_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources=resources,
    )
    return ovc_run_report_success_sensor(context)


def report_materializations(instance) -> list[dg.EventLogEntry]:
    return list(instance.fetch_materializations(RUN_REPORTS_ASSET_KEY, limit=100).records)


def test_the_definitions_load_with_every_sensor_and_the_asset(database_url, resources) -> None:
    defs = dg.Definitions(assets=[fake_ingest, *run_report_definitions[:1]], sensors=run_report_definitions[1:],
                          resources=resources)
    dg.Definitions.validate_loadable(defs)
    names = {sensor.name for sensor in run_report_definitions[1:]}
    assert names == {"ovc_run_report_success_sensor", "ovc_run_report_failure_sensor",
                     "ovc_run_report_canceled_sensor", "ovc_missing_run_report_sensor"}


def test_rejected_payloads_give_warn_with_fail_by_code_and_one_report_per_run(
    instance, resources, conn, ovc_home
) -> None:
    config = FakeIngestConfig(letters=["I"], rejected_codes=[["E_SEM_DIR"], ["E_DUPLICATE_KEY", "E_SEM_DIR"]])
    result = materialize(instance, resources, config)
    run_id = result.run_id

    assert success_tick(instance, resources, result) is None
    assert success_tick(instance, resources, result) is None  # evaluated twice: still one report

    report = load_report(conn, run_id)
    assert report.run_status == WARN
    assert report.fail_by_code == {"E_DUPLICATE_KEY": 1, "E_SEM_DIR": 2}
    assert (report.received_events, report.parse_ok, report.parse_fail) == (3, 1, 2)
    assert (report.insert_attempted, report.insert_success, report.insert_failed) == (1, 1, 0)
    assert report.warnings == ["parse_fail = 2 (E_DUPLICATE_KEY: 1, E_SEM_DIR: 2)"]
    assert report.input_range == "block_id=20260113-I-GBPUSD"
    assert report.blocks_missing == 0 and report.sanity_error_count == 0
    assert report.schema_versions_seen == {"export_contract_v0.1_min_r1": 1}
    assert report.run_type == "LIVE_INGEST" and report.profile == "MIN" and report.input_source == "tv_webhook"
    assert report.run_ver.startswith("0.1.0+")
    assert conn.execute("SELECT count(*) FROM ovc.ovc_run_reports_v01").fetchone() == (1,)
    assert json.loads((ovc_home / "reports" / f"{run_id}.json").read_text())["run_status"] == WARN

    manifest = conn.execute("SELECT status, input_hash, source_tier FROM ovc.ovc_runs WHERE run_id = %s",
                            (run_id,)).fetchone()
    assert manifest[0] == "SUCCESS" and len(manifest[1]) == 64 and manifest[2] == "LIVE_WEBHOOK"

    (materialization,) = report_materializations(instance)
    event = materialization.asset_materialization
    assert event.partition == partition_key_for(report)  # the OVC day the run started
    assert event.metadata["verdict"].value == WARN
    assert event.metadata["parse_fail"].value == 2
    assert f"| run_id | {run_id} |" in event.metadata["report"].value
    assert run_id in event.metadata["day_reports"].value


def test_an_insert_failure_in_the_database_gives_fail(instance, resources, conn) -> None:
    conn.execute("""
        CREATE FUNCTION ovc.test_reject_j() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.block2h = 'J' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER test_reject_j BEFORE INSERT ON ovc.ovc_blocks_v01
            FOR EACH ROW EXECUTE FUNCTION ovc.test_reject_j();
    """)
    result = materialize(instance, resources, FakeIngestConfig(letters=["I", "J"]))
    success_tick(instance, resources, result)

    report = load_report(conn, result.run_id)
    assert report.run_status == FAIL
    assert (report.insert_attempted, report.insert_success, report.insert_failed) == (2, 1, 1)
    assert "insert_failed = 1" in report.warnings
    assert "blocks_missing = 1" in report.warnings  # the rejected block is missing too


def test_a_rerun_over_unchanged_data_is_a_clean_pass_of_skips(instance, resources, conn) -> None:
    success_tick(instance, resources, materialize(instance, resources))
    second = materialize(instance, resources)
    success_tick(instance, resources, second)
    report = load_report(conn, second.run_id)
    assert report.run_status == PASS and report.warnings == []
    assert (report.insert_success, report.insert_skipped) == (0, 1)


def test_a_failed_run_gets_a_fail_report_naming_the_failed_step(instance, resources, conn) -> None:
    @dg.asset
    def broken_ingest() -> None:
        raise ValueError("the feed went away")

    result = dg.materialize([broken_ingest], instance=instance, tags=run_tags("HIST_BACKFILL"), raise_on_error=False)
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="ovc_run_report_failure_sensor",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources=resources,
    )
    ovc_run_report_failure_sensor(context)

    report = load_report(conn, result.run_id)
    assert report.run_status == FAIL
    assert report.warnings[0].startswith("run did not succeed: step broken_ingest failed: ValueError: the feed went away")
    status, error = conn.execute("SELECT status, error FROM ovc.ovc_runs WHERE run_id = %s", (result.run_id,)).fetchone()
    assert status == "FAILURE" and "the feed went away" in error


def test_runs_without_the_ovc_tag_get_no_report(instance, resources, conn) -> None:
    result = materialize(instance, resources, tags={})
    success_tick(instance, resources, result)
    assert load_report(conn, result.run_id) is None


def test_the_sweep_reports_finished_runs_the_status_sensors_missed_once(instance, resources, conn) -> None:
    first = materialize(instance, resources)
    second = materialize(instance, resources, FakeIngestConfig(letters=["J"]))
    sweep = build_missing_run_report_sensor(name="sweep_for_test")

    result = sweep(dg.build_sensor_context(instance=instance, resources=resources))
    assert {event.partition for event in result.asset_events} and len(result.asset_events) == 2
    cursor = json.loads(result.cursor)
    assert cursor["updated_after"] and cursor["retries"] == {}
    assert {load_report(conn, run.run_id).run_status for run in (first, second)} == {PASS}

    again = sweep(dg.build_sensor_context(instance=instance, resources=resources, cursor=result.cursor))
    assert again.asset_events == []
    assert conn.execute("SELECT count(*) FROM ovc.ovc_run_reports_v01").fetchone() == (2,)


def test_the_asset_recomputes_a_days_table(instance, resources, conn) -> None:
    success_tick(instance, resources, materialize(instance, resources))
    (event,) = report_materializations(instance)
    day = event.asset_materialization.partition
    result = dg.materialize([ovc_run_reports], instance=instance, resources=resources, partition_key=day)
    metadata = result.asset_materializations_for_node("ovc_run_reports")[0].metadata
    assert metadata["reports"].value == 1 and metadata["pass"].value == 1


def test_no_secret_reaches_the_manifest_reports_artifacts_or_logs(
    instance, database_url, conn, ovc_home, monkeypatch, caplog, capsys
) -> None:
    from psycopg.conninfo import make_conninfo

    from ovc_assets.defs.resources import PostgresResource

    monkeypatch.setenv("OANDA_API_TOKEN", "abc123secret")
    url_with_password = make_conninfo(database_url, password="Sup3rS3cretPw")
    monkeypatch.setenv("OVC_DATABASE_URL", url_with_password)
    resources = {"ovc_database": PostgresResource(database_url=url_with_password)}
    config = FakeIngestConfig(
        rejected_codes=[["E_SEM_DIR"]], api_token="abc123secret",
        source_url="https://oanda:Sup3rS3cretPw@api.example.com/v3",
    )
    caplog.set_level(logging.DEBUG)
    result = materialize(instance, resources, config, tags={**run_tags(), "ovc/cli_args": json.dumps(
        {"token": "abc123secret", "database_url": url_with_password})})
    success_tick(instance, resources, result)
    sweep = build_missing_run_report_sensor(name="sweep_for_test")
    sweep(dg.build_sensor_context(instance=instance, resources=resources))

    assert load_report(conn, result.run_id).run_status == WARN
    dumped = [
        str(row) for row in conn.execute("SELECT to_jsonb(r)::text FROM ovc.ovc_runs r").fetchall()
    ] + [str(row) for row in conn.execute("SELECT to_jsonb(r)::text FROM ovc.ovc_run_reports_v01 r").fetchall()]
    manifest = conn.execute("SELECT run_config, cli_args, env_info FROM ovc.ovc_runs WHERE run_id = %s",
                            (result.run_id,)).fetchone()
    assert manifest[0]["ops"]["fake_ingest"]["config"]["api_token"] == "***"
    assert manifest[1]["token"] == "***" and "password=***" in manifest[2]["OVC_DATABASE_URL"]
    artifacts = [path.read_text() for path in (ovc_home / "reports").glob("*.json")]
    materializations = [str(e.asset_materialization.metadata) for e in report_materializations(instance)]
    captured = capsys.readouterr()
    everything = "\n".join([*dumped, *artifacts, *materializations, caplog.text, captured.out, captured.err])
    assert artifacts and dumped
    for secret in ("abc123secret", "Sup3rS3cretPw"):
        assert secret not in everything


def test_a_report_for_a_run_in_the_wrong_enum_still_lands_flagged(instance, resources, conn) -> None:
    result = materialize(instance, resources, tags={"ovc/run_type": "NIGHTLY"})
    success_tick(instance, resources, result)
    report = load_report(conn, result.run_id)
    assert report.run_status == WARN
    assert any("is not one of" in warning for warning in report.warnings)


def test_real_ticks_report_five_runs_each_and_a_repeated_tick_is_a_no_op(instance, resources, conn) -> None:
    first = ovc_run_report_success_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources=resources))
    assert first.skip_message.startswith("Initiating")
    run_ids = [
        materialize(instance, resources, FakeIngestConfig(letters=[letter])).run_id for letter in "ABCDEF"
    ]
    counts, cursor = [], first.cursor
    for _ in range(3):
        tick = ovc_run_report_success_sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor)
        )
        cursor = tick.cursor
        counts.append(conn.execute("SELECT count(*) FROM ovc.ovc_run_reports_v01 WHERE run_id = ANY(%s)",
                                   (run_ids,)).fetchone()[0])
    assert counts == [5, 6, 6]
    assert len(report_materializations(instance)) == 6
