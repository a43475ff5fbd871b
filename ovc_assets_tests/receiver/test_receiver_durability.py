"""Outages in-process: the database, the raw store, the spool disk, and what a crash leaves."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from ovc_assets.receiver.batch import replay_spool
from ovc_assets.receiver.intake import Arrival, admit
from ovc_assets.receiver.landing import LandingService
from ovc_assets.receiver.spool import Spool
from ovc_assets.settings import Settings
from ovc_assets.storage.postgres import connect
from ovc_assets.storage.raw_events import ROUTE_TV, land_events
from ovc_assets.storage.raw_store import FileRawStore
from ovc_assets_tests.receiver.receiver_harness import (
    eventually,
    fetch_events,
    run,
    set_database_accepting,
    wait_until,
)
from ovc_assets_tests.receiver.receiver_payloads import unique_export


def stored_keys(raw_root: Path) -> set[str]:
    return set(FileRawStore(raw_root).list_keys("tv/"))


def pending_raw(database_url: str) -> int:
    with connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM ovc.raw_events WHERE raw_status = 'pending'").fetchone()[0]


def key_of(event_id: str, raw_root: Path) -> str | None:
    return next((key for key in stored_keys(raw_root) if key.endswith(f"_{event_id}.txt")), None)


def test_with_the_database_down_events_are_acknowledged_from_the_raw_store_and_landed_once_it_is_back(
    make_app, database_url: str, postgres_server_dsn: str, raw_root: Path
) -> None:
    app = make_app()
    service = app.state.landing

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        answers = [await client.post("/tv", content=unique_export(0))]
        set_database_accepting(database_url, postgres_server_dsn, False)
        try:
            answers += [await client.post("/tv", content=unique_export(n)) for n in range(1, 31)]
            for answer in answers[1:]:
                assert key_of(answer.json()["event_id"], raw_root), "2xx before the raw object was written"
            assert service.unlanded_count() == 30
        finally:
            set_database_accepting(database_url, postgres_server_dsn, True)
        await eventually(lambda: service.unlanded_count() == 0, message="the spooled events to land")
        await eventually(lambda: pending_raw(database_url) == 0, message="the raw objects to be marked")
        return answers

    answers = run(app, scenario)
    assert {answer.status_code for answer in answers} == {200}
    acknowledged = {answer.json()["event_id"] for answer in answers}
    events = fetch_events(database_url)
    assert {str(event["event_id"]) for event in events} == acknowledged and len(events) == 31
    assert {event["raw_status"] for event in events} == {"written"}
    assert {event["duplicate_count"] for event in events} == {0}
    assert {event["raw_key"] for event in events} <= stored_keys(raw_root)
    assert not list((raw_root / ".spool").iterdir())


def test_with_the_database_and_the_raw_store_down_the_answer_is_503(make_app, tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the raw store's folder should be")
    app = make_app(
        dsn="postgresql://nobody@127.0.0.1:1/none", raw_store=FileRawStore(blocked / "raw"), spool_dir=tmp_path / "spool"
    )
    response = run(app, lambda client: client.post("/tv", content=unique_export(1)))
    assert response.status_code == 503
    assert response.json()["codes"] == ["E_DB_UNREACHABLE", "E_RAW_STORE_UNAVAILABLE"]


def test_with_the_raw_store_down_events_land_as_pending_and_their_objects_follow(
    make_app, database_url: str, tmp_path: Path
) -> None:
    raw_root = tmp_path / "outside"
    raw_root.write_text("the store's folder is missing for now")
    app = make_app(raw_store=FileRawStore(raw_root), spool_dir=tmp_path / "spool")

    async def scenario(client: httpx.AsyncClient) -> list[int]:
        statuses = [(await client.post("/tv", content=unique_export(n))).status_code for n in range(5)]
        assert pending_raw(database_url) == 5
        raw_root.unlink()  # the store comes back
        await eventually(lambda: pending_raw(database_url) == 0, message="the raw objects to be written")
        return statuses

    assert run(app, scenario) == [200] * 5
    assert {event["raw_key"] for event in fetch_events(database_url)} == stored_keys(raw_root)


def test_with_the_spool_disk_refusing_events_still_land_and_get_their_objects(
    make_app, database_url: str, raw_root: Path, tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.write_text("not a folder")
    statuses = run(make_app(spool_dir=spool_dir), lambda client: client.post("/tv", content=unique_export(3)))
    assert statuses.status_code == 200
    [event] = fetch_events(database_url)
    assert event["raw_status"] == "written" and event["raw_key"] in stored_keys(raw_root)


def spool_left_by_a_crash(spool_dir: Path, count: int) -> list[str]:
    """Events appended to a segment that their process never settled."""
    spool = Spool(spool_dir)
    events = []
    for number in range(count):
        body = unique_export(500 + number).encode()
        events.append(admit(Arrival(ROUTE_TV, body, len(body), datetime.now(UTC), "127.0.0.1"), secret=None)[0])
    spool.append(events)
    spool.close()
    return [str(event.event_id) for event in events]


def test_a_starting_receiver_replays_segments_left_behind(make_app, database_url: str, raw_root: Path) -> None:
    left = spool_left_by_a_crash(raw_root / ".spool", 4)
    app = make_app()

    async def scenario(client: httpx.AsyncClient) -> None:
        await eventually(lambda: len(fetch_events(database_url)) == 4, message="the replay")

    run(app, scenario)
    events = fetch_events(database_url)
    assert sorted(str(event["event_id"]) for event in events) == sorted(left)
    assert {event["raw_key"] for event in events} <= stored_keys(raw_root)
    assert not list((raw_root / ".spool").iterdir())


def test_replay_spool_lands_each_event_once(database_url: str, raw_root: Path, tmp_path: Path) -> None:
    left = spool_left_by_a_crash(raw_root / ".spool", 3)
    settings = Settings(home=tmp_path / "home", database_url=database_url, raw_store_url=raw_root.as_uri(), s3_endpoint_url=None)
    first = replay_spool(settings)
    assert (first.segments.segments, first.segments.landed, first.segments.raw_written) == (1, 3, 3)
    second = replay_spool(settings)
    assert (second.segments.segments, second.segments.landed, second.pending_raw_written) == (0, 0, 0)
    assert sorted(str(e["event_id"]) for e in fetch_events(database_url)) == sorted(left)


def test_a_starting_receiver_writes_the_raw_objects_a_dead_one_landed_but_never_spooled(
    database_url: str, raw_root: Path
) -> None:
    # The writer runs a batch's transaction and its spool write at the same time: killed
    # between the commit and the write, a process leaves events pending with no segment.
    event, _ = admit(Arrival(ROUTE_TV, unique_export(1).encode(), 900, datetime.now(UTC)), secret=None)
    with connect(database_url, autocommit=True) as conn:
        land_events(conn, [event])
    store = FileRawStore(raw_root)
    service = LandingService(database_url, store, Spool(raw_root / ".spool"))  # default timings: a 5-minute sweep
    service.start()
    try:
        wait_until(lambda: pending_raw(database_url) == 0, 20, "the start-up settlement")
    finally:
        service.close()
    assert store.get(event.raw_key) == event.body
