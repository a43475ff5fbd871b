"""When the live schedule fires, and when late alerts re-materialise a window."""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg
import pytest

from ovc_assets.calendar import NEW_YORK, block_at
from ovc_assets.defs.blocks.assets import build_block_assets
from ovc_assets.defs.blocks.jobs import build_live_ingest_job
from ovc_assets.defs.blocks.schedules import build_live_blocks_schedule
from ovc_assets.defs.blocks.sensors import build_late_events_sensor
from ovc_assets.defs.partitions import partition_key_for_block
from ovc_assets.demo.sample_week import land_alerts_directly
from ovc_assets_tests.defs.conftest import BLOCKS_2H, WEEK

JOB = build_live_ingest_job()


def _definitions(resources) -> dg.Definitions:
    return dg.Definitions(
        assets=build_block_assets(BLOCKS_2H),
        jobs=[JOB],
        schedules=[build_live_blocks_schedule(JOB, grace_minutes=5)],
        sensors=[build_late_events_sensor(JOB, BLOCKS_2H)],
        resources=resources,
    )


def _tick(defs: dg.Definitions, instance, when: datetime):
    schedule = defs.resolve_schedule_def("live_blocks_schedule")
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()) as context:
        return schedule.evaluate_tick(context)


@pytest.mark.parametrize(
    ("tick", "expected_key"),
    [
        (datetime(2026, 1, 13, 3, 5, tzinfo=NEW_YORK), "2026-01-13-01:00"),  # Tuesday: E just closed (winter)
        (datetime(2026, 7, 14, 19, 5, tzinfo=NEW_YORK), "2026-07-14-17:00"),  # summer: A of the new day
        (datetime(2026, 1, 11, 19, 5, tzinfo=NEW_YORK), "2026-01-11-17:00"),  # Sunday: the week's first block
        (datetime(2026, 1, 16, 17, 5, tzinfo=NEW_YORK), "2026-01-16-15:00"),  # Friday: the week's last block
    ],
)
def test_the_schedule_requests_the_block_that_just_closed(resources, instance, tick, expected_key) -> None:
    result = _tick(_definitions(resources), instance, tick)
    (request,) = result.run_requests
    assert request.partition_key == expected_key
    assert request.run_key == expected_key


@pytest.mark.parametrize(
    "tick",
    [
        datetime(2026, 1, 16, 19, 5, tzinfo=NEW_YORK),  # Friday evening
        datetime(2026, 1, 17, 11, 5, tzinfo=NEW_YORK),  # Saturday
        datetime(2026, 1, 18, 17, 5, tzinfo=NEW_YORK),  # Sunday 17:05: the closed 15-17 block
        datetime(2025, 12, 25, 9, 5, tzinfo=NEW_YORK),  # Christmas session
    ],
)
def test_the_schedule_skips_weekends_and_holidays(resources, instance, tick) -> None:
    result = _tick(_definitions(resources), instance, tick)
    assert not result.run_requests
    assert result.skip_message


def test_late_alerts_re_materialise_their_window_once(database_url, resources, instance, demo_alerts) -> None:
    defs = _definitions(resources)
    block = WEEK[4]
    key = partition_key_for_block(block)
    on_time = [a for a in demo_alerts if block_at(a.received_at - timedelta(minutes=1)) == block]
    late_block_alerts = on_time[1:]
    assert late_block_alerts, "the demo week has alerts of two symbols per block"
    land_alerts_directly(database_url, on_time[:1])
    assert dg.materialize(build_block_assets(BLOCKS_2H)[:1], resources=resources, instance=instance, partition_key=key).success

    sensor = defs.resolve_sensor_def("late_events_sensor")
    with dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def(), resources=resources) as context:
        assert not sensor.evaluate_tick(context).run_requests, "nothing landed after the materialisation yet"

    land_alerts_directly(database_url, late_block_alerts)
    with dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def(), resources=resources) as context:
        result = sensor.evaluate_tick(context)
        assert [request.partition_key for request in result.run_requests] == [key]
        cursor = result.cursor
    with dg.build_sensor_context(
        instance=instance, repository_def=defs.get_repository_def(), resources=resources, cursor=cursor
    ) as context:
        assert not sensor.evaluate_tick(context).run_requests, "a repeated tick requests nothing new"
