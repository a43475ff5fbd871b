"""The raw store: shared behaviour of both backends, file atomicity, S3 over real HTTP,
key layout and sanitising, and URL parsing."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.settings import load_settings
from ovc_assets.storage import raw_store as raw_store_module
from ovc_assets.storage.raw_store import (
    FileRawStore,
    RawStore,
    S3RawStore,
    _validate_key,
    open_raw_store,
    raw_event_key,
    report_key,
)

EVENT_ID = uuid.UUID("0b7e6a52-3f0c-4c57-9d43-2a1f3c9e8d11")
RECEIVED_AT = datetime(2026, 1, 14, 9, 24, 0, 123456, tzinfo=UTC)

UNSAFE_KEYS = [
    "",
    "../x",
    "a/../b",
    "..",
    ".",
    "/abs",
    "a//b",
    "tv/",
    "a\\b",
    "a\x00b",
    "a b",
    "tv/ünïcode.txt",
    ".hidden",
    "tv/.x.txt.tmp",
    "x" * 1025,
]


# --- behaviour shared by both backends ---------------------------------------------------


def test_put_then_get_returns_the_bytes_and_the_object_uri(raw_store: RawStore) -> None:
    key = raw_event_key(RECEIVED_AT, "20260113-F-GBPUSD", EVENT_ID)

    uri = raw_store.put(key, b"schema_min=OVC_MIN_V0_1|bid=20260113-F-GBPUSD")

    assert uri == f"{raw_store.location}/{key}"
    assert raw_store.get(key) == b"schema_min=OVC_MIN_V0_1|bid=20260113-F-GBPUSD"
    assert raw_store.exists(key)


@pytest.mark.parametrize("payload", [b"", bytes(range(256)), b"x" * 300_000])
def test_payloads_round_trip_byte_for_byte(raw_store: RawStore, payload: bytes) -> None:
    raw_store.put("tv/2026-01-14/payload.txt", payload)

    assert raw_store.get("tv/2026-01-14/payload.txt") == payload


def test_a_missing_key_is_a_key_error_and_does_not_exist(raw_store: RawStore) -> None:
    assert not raw_store.exists("tv/2026-01-14/missing.txt")
    with pytest.raises(KeyError):
        raw_store.get("tv/2026-01-14/missing.txt")


def test_a_directory_like_key_is_not_an_object(raw_store: RawStore) -> None:
    raw_store.put("tv/2026-01-14/a.txt", b"a")

    assert not raw_store.exists("tv/2026-01-14")
    with pytest.raises(KeyError):
        raw_store.get("tv/2026-01-14")


def test_put_overwrites_an_existing_object(raw_store: RawStore) -> None:
    raw_store.put("reports/run-1.json", b"first")
    raw_store.put("reports/run-1.json", b"second, longer than the first")

    assert raw_store.get("reports/run-1.json") == b"second, longer than the first"
    assert list(raw_store.list_keys()) == ["reports/run-1.json"]


def test_list_keys_is_sorted_relative_and_filtered_by_prefix(raw_store: RawStore) -> None:
    keys = [
        "tv/2026-01-14/20260113-F-GBPUSD_b.txt",
        "reports/run-2.json",
        "tv/2026-01-13/20260113-A-EURUSD_a.txt",
        "tv/2026-01-14/20260113-E-GBPUSD_a.txt",
        "tv/2026-02-01/20260201-A-GBPUSD_a.txt",
    ]
    for key in keys:
        raw_store.put(key, key.encode())

    assert list(raw_store.list_keys()) == sorted(keys)
    assert list(raw_store.list_keys("tv/2026-01-14/")) == [
        "tv/2026-01-14/20260113-E-GBPUSD_a.txt",
        "tv/2026-01-14/20260113-F-GBPUSD_b.txt",
    ]
    assert list(raw_store.list_keys("tv/2026-01")) == sorted(keys[0:1] + keys[2:4])
    assert list(raw_store.list_keys("tv/2026-01-14/20260113-F")) == [keys[0]]
    assert list(raw_store.list_keys("reports")) == ["reports/run-2.json"]
    assert list(raw_store.list_keys("nothing/")) == []
    assert list(raw_store.list_keys("reports/run-2.json/")) == []


def test_an_empty_store_lists_nothing(raw_store: RawStore) -> None:
    assert list(raw_store.list_keys()) == []


def test_check_passes_and_leaves_nothing_visible(raw_store: RawStore) -> None:
    raw_store.check()
    raw_store.check()

    assert list(raw_store.list_keys()) == []


def test_location_is_the_root_uri(raw_store: RawStore, request: pytest.FixtureRequest) -> None:
    if isinstance(raw_store, FileRawStore):
        assert raw_store.location == (request.getfixturevalue("tmp_path") / "raw").as_uri()
    else:
        bucket = request.getfixturevalue("s3_bucket")
        prefix = request.getfixturevalue("s3_prefix")
        assert raw_store.location == f"s3://{bucket}/{prefix}"


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_unsafe_keys_are_refused_by_every_operation(raw_store: RawStore, key: str) -> None:
    for operation in (
        lambda: raw_store.put(key, b"x"),
        lambda: raw_store.get(key),
        lambda: raw_store.exists(key),
    ):
        with pytest.raises(OvcError) as excinfo:
            operation()
        assert excinfo.value.code == ErrorCode.RAW_STORE_KEY

    assert list(raw_store.list_keys()) == []


@pytest.mark.parametrize("prefix", ["../", "/tv", "tv//", "a\\b", ".."])
def test_unsafe_list_prefixes_are_refused(raw_store: RawStore, prefix: str) -> None:
    with pytest.raises(OvcError) as excinfo:
        list(raw_store.list_keys(prefix))
    assert excinfo.value.code == ErrorCode.RAW_STORE_KEY


# --- file backend: creation, atomicity, durability ---------------------------------------


def test_the_file_root_is_created_on_first_use(file_store: FileRawStore, tmp_path: Path) -> None:
    assert not (tmp_path / "raw").exists()

    file_store.put("tv/2026-01-14/a.txt", b"a")

    assert (tmp_path / "raw" / "tv" / "2026-01-14" / "a.txt").read_bytes() == b"a"


def test_check_creates_the_file_root(file_store: FileRawStore, tmp_path: Path) -> None:
    file_store.check()

    assert (tmp_path / "raw").is_dir()
    assert os.listdir(tmp_path / "raw") == []


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_a_failed_write_leaves_neither_object_nor_temporary_file(
    file_store: FileRawStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    file_store.put("tv/2026-01-14/other.txt", b"other")

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(raw_store_module.os, failing, fail)
    with pytest.raises(OvcError) as excinfo:
        file_store.put("tv/2026-01-14/a.txt", b"a")
    monkeypatch.undo()

    assert excinfo.value.code == ErrorCode.RAW_STORE_UNAVAILABLE
    assert "No space left on device" in excinfo.value.message
    assert not file_store.exists("tv/2026-01-14/a.txt")
    assert os.listdir(tmp_path / "raw" / "tv" / "2026-01-14") == ["other.txt"]
    assert list(file_store.list_keys()) == ["tv/2026-01-14/other.txt"]


def test_a_crash_while_overwriting_keeps_the_previous_version(
    file_store: FileRawStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_store.put("reports/run-1.json", b"version 1")

    def crash(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(raw_store_module.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        file_store.put("reports/run-1.json", b"version 2")
    monkeypatch.undo()

    assert file_store.get("reports/run-1.json") == b"version 1"
    assert list(file_store.list_keys()) == ["reports/run-1.json"]


def test_temporary_files_left_by_a_killed_writer_are_invisible(
    file_store: FileRawStore, tmp_path: Path
) -> None:
    file_store.put("tv/2026-01-14/a.txt", b"a")
    day = tmp_path / "raw" / "tv" / "2026-01-14"
    (day / ".b.txt.0123abcd.tmp").write_bytes(b"half wri")
    (day / ".hidden-dir").mkdir()
    (day / ".hidden-dir" / "c.txt").write_bytes(b"c")
    (day / "not a key.txt").write_bytes(b"foreign")

    assert list(file_store.list_keys()) == ["tv/2026-01-14/a.txt"]
    assert not file_store.exists("tv/2026-01-14/b.txt")


def test_put_fsyncs_the_file_and_its_directory(
    file_store: FileRawStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_store.put("tv/2026-01-14/first.txt", b"creates the directories")
    synced_kinds = []
    real_fsync = os.fsync

    def recording_fsync(descriptor: int) -> None:
        is_directory = stat.S_ISDIR(os.fstat(descriptor).st_mode)
        synced_kinds.append("directory" if is_directory else "file")
        real_fsync(descriptor)

    monkeypatch.setattr(raw_store_module.os, "fsync", recording_fsync)
    file_store.put("tv/2026-01-14/second.txt", b"x")

    assert synced_kinds == ["file", "directory"]


def test_concurrent_readers_see_only_complete_versions(file_store: FileRawStore) -> None:
    key = "tv/2026-01-14/contended.txt"
    versions = [bytes([letter]) * 200_000 for letter in b"ABCD"]
    file_store.put(key, versions[0])
    stop = threading.Event()
    torn_reads = []

    def read_repeatedly() -> None:
        while not stop.is_set():
            if file_store.get(key) not in versions:
                torn_reads.append(key)

    readers = [threading.Thread(target=read_repeatedly) for _ in range(2)]
    for reader in readers:
        reader.start()
    for round_number in range(40):
        file_store.put(key, versions[round_number % len(versions)])
    stop.set()
    for reader in readers:
        reader.join()

    assert torn_reads == []


def test_check_of_an_unwritable_file_root_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "occupied").write_text("a file where the root should be")
    store = FileRawStore(tmp_path / "occupied" / "raw")

    with pytest.raises(OvcError) as excinfo:
        store.check()

    assert excinfo.value.code == ErrorCode.RAW_STORE_UNAVAILABLE
    assert "\n" not in excinfo.value.message
    with pytest.raises(OvcError) as excinfo:
        store.put("tv/a.txt", b"a")
    assert excinfo.value.code == ErrorCode.RAW_STORE_UNAVAILABLE


# --- S3 backend over moto's HTTP server --------------------------------------------------


def test_s3_objects_live_under_the_prefix(
    s3_store: S3RawStore, s3_client, s3_bucket: str, s3_prefix: str
) -> None:
    uri = s3_store.put("tv/2026-01-14/a.txt", b"a")

    assert uri == f"s3://{s3_bucket}/{s3_prefix}/tv/2026-01-14/a.txt"
    listed = s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [item["Key"] for item in listed] == [f"{s3_prefix}/tv/2026-01-14/a.txt"]


def test_s3_listing_ignores_objects_outside_the_prefix_or_not_keys(
    s3_store: S3RawStore, s3_client, s3_bucket: str, s3_prefix: str
) -> None:
    s3_store.put("tv/2026-01-14/a.txt", b"a")
    for foreign in (
        f"{s3_prefix}x/tv/2026-01-14/b.txt",
        "elsewhere/tv/2026-01-14/c.txt",
        f"{s3_prefix}/tv/2026-01-14/not a key.txt",
        f"{s3_prefix}//tv/d.txt",
    ):
        s3_client.put_object(Bucket=s3_bucket, Key=foreign, Body=b"foreign")

    assert list(s3_store.list_keys()) == ["tv/2026-01-14/a.txt"]
    assert list(s3_store.list_keys("tv/")) == ["tv/2026-01-14/a.txt"]


def test_s3_listing_follows_pagination(
    s3_client, s3_bucket: str, s3_prefix: str, moto_endpoint_url: str
) -> None:
    store = S3RawStore(s3_bucket, s3_prefix, endpoint_url=moto_endpoint_url, list_page_size=2)
    keys = [f"tv/2026-01-14/{number:05d}.txt" for number in range(5)]  # three pages
    for key in keys:
        s3_client.put_object(Bucket=s3_bucket, Key=f"{s3_prefix}/{key}", Body=b"")

    assert list(store.list_keys()) == keys
    assert list(store.list_keys("tv/2026-01-14/0000")) == keys


def test_s3_store_at_the_bucket_root(
    s3_bucket: str, s3_client, moto_endpoint_url: str
) -> None:
    store = S3RawStore(s3_bucket, endpoint_url=moto_endpoint_url)

    assert store.location == f"s3://{s3_bucket}"
    assert store.put("reports/run-1.json", b"{}") == f"s3://{s3_bucket}/reports/run-1.json"
    store.check()
    assert list(store.list_keys()) == ["reports/run-1.json"]
    assert s3_client.get_object(Bucket=s3_bucket, Key="reports/run-1.json")["Body"].read() == b"{}"


def test_s3_check_of_a_missing_bucket_is_unavailable(
    moto_endpoint_url: str, aws_test_credentials: None
) -> None:
    store = S3RawStore("no-such-bucket", "raw", endpoint_url=moto_endpoint_url)

    with pytest.raises(OvcError) as excinfo:
        store.check()

    assert excinfo.value.code == ErrorCode.RAW_STORE_UNAVAILABLE
    assert "NoSuchBucket" in excinfo.value.message


def test_s3_on_a_closed_port_is_unavailable_within_seconds(aws_test_credentials: None) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    store = S3RawStore("ovc-raw", "raw", endpoint_url=f"http://127.0.0.1:{closed_port}")

    started = time.monotonic()
    with pytest.raises(OvcError) as excinfo:
        store.check()
    elapsed = time.monotonic() - started

    assert excinfo.value.code == ErrorCode.RAW_STORE_UNAVAILABLE
    assert f"127.0.0.1:{closed_port}" in excinfo.value.message
    assert "\n" not in excinfo.value.message
    assert elapsed < 5
    for operation in (
        lambda: store.put("tv/a.txt", b"a"),
        lambda: store.get("tv/a.txt"),
        lambda: store.exists("tv/a.txt"),
        lambda: list(store.list_keys()),
    ):
        with pytest.raises(OvcError) as excinfo:
            operation()
        assert excinfo.value.code == ErrorCode.RAW_STORE_UNAVAILABLE


# --- key layout and sanitising -----------------------------------------------------------


def test_raw_event_key_with_a_block_id() -> None:
    key = raw_event_key(RECEIVED_AT, "20260113-F-GBPUSD", EVENT_ID)

    assert key == f"tv/2026-01-14/20260113-F-GBPUSD_{EVENT_ID}.txt"


@pytest.mark.parametrize("block_id", [None, ""])
def test_raw_event_key_without_a_block_id_uses_the_utc_time(block_id: str | None) -> None:
    key = raw_event_key(RECEIVED_AT, block_id, EVENT_ID)

    assert key == f"tv/2026-01-14/20260114T092400.123Z_{EVENT_ID}.txt"


def test_raw_event_key_dates_by_utc_not_local_time() -> None:
    new_york_evening = datetime(2026, 1, 13, 22, 30, tzinfo=timezone(timedelta(hours=-5)))

    key = raw_event_key(new_york_evening, None, EVENT_ID)

    assert key == f"tv/2026-01-14/20260114T033000.000Z_{EVENT_ID}.txt"


def test_raw_event_key_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        raw_event_key(datetime(2026, 1, 14, 9, 24), None, EVENT_ID)


@pytest.mark.parametrize(
    "block_id",
    [
        "../../etc/passwd",
        "a/b",
        "..",
        ".",
        "...hidden",
        "\x00",
        "a\x00b",
        "..\\..\\windows",
        "x" * 10_000,
        "20260113-F-GBPÜSD",
        "日本語",
        " ",
        "/",
    ],
)
def test_hostile_block_ids_stay_inside_the_store(
    file_store: FileRawStore, tmp_path: Path, block_id: str
) -> None:
    key = raw_event_key(RECEIVED_AT, block_id, EVENT_ID)

    uri = file_store.put(key, b"payload")

    assert key.startswith("tv/2026-01-14/")
    assert key.count("/") == 2
    assert len(key.rsplit("/", 1)[1]) <= 64 + len(f"_{EVENT_ID}.txt")
    written = tmp_path / "raw" / key
    assert written.resolve().is_relative_to((tmp_path / "raw").resolve())
    assert Path(uri.removeprefix("file://")).resolve() == written.resolve()
    assert list(file_store.list_keys()) == [key]


@given(
    received_at=st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(2999, 12, 31),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=14))]
        ),
    ),
    block_id=st.one_of(st.none(), st.text()),
    event_id=st.uuids(),
)
def test_every_raw_event_key_is_a_valid_key(
    received_at: datetime, block_id: str | None, event_id: uuid.UUID
) -> None:
    key = raw_event_key(received_at, block_id, event_id)

    assert _validate_key(key) == key
    assert key.startswith("tv/")
    assert key.endswith(f"_{event_id}.txt")
    assert key.count("/") == 2


def test_report_key_keeps_a_safe_run_id() -> None:
    run_id = "4f9c2d1e-7a3b-4c5d-8e9f-0a1b2c3d4e5f"

    assert report_key(run_id) == f"reports/{run_id}.json"


def test_report_keys_of_run_ids_that_sanitise_alike_differ() -> None:
    assert report_key("a/b") != report_key("a_b")
    assert report_key("a/b").startswith("reports/a_b-")


@given(run_id=st.text(min_size=1))
def test_every_report_key_is_a_valid_key(run_id: str) -> None:
    key = report_key(run_id)

    assert _validate_key(key) == key
    assert key.startswith("reports/")
    assert key.count("/") == 1


def test_validate_key_accepts_the_layout_keys() -> None:
    for key in ("tv/2026-01-14/20260113-F-GBPUSD_x.txt", "reports/run.json", "a", "a.b/c_d-e"):
        assert _validate_key(key) == key


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_validate_key_refuses_unsafe_keys(key: str) -> None:
    with pytest.raises(OvcError) as excinfo:
        _validate_key(key)
    assert excinfo.value.code == ErrorCode.RAW_STORE_KEY


# --- open_raw_store ----------------------------------------------------------------------


def test_open_a_file_url(tmp_path: Path) -> None:
    root = tmp_path / "with space" / "raw"

    store = open_raw_store(root.as_uri())

    assert isinstance(store, FileRawStore)
    assert store.location == root.as_uri()
    store.put("tv/a.txt", b"a")
    assert (root / "tv" / "a.txt").read_bytes() == b"a"


def test_open_a_localhost_file_url(tmp_path: Path) -> None:
    store = open_raw_store(f"file://localhost{tmp_path}/raw")

    assert store.location == (tmp_path / "raw").as_uri()


def test_the_default_setting_opens_a_file_store_under_ovc_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OVC_RAW_STORE", raising=False)
    settings = load_settings()

    store = open_raw_store(settings.raw_store_url, settings.s3_endpoint_url)

    assert store.location == (tmp_path / "home" / "raw").as_uri()
    store.check()


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("s3://ovc-raw/pre/fix", "s3://ovc-raw/pre/fix"),
        ("s3://ovc-raw/pre/fix/", "s3://ovc-raw/pre/fix"),
        ("s3://ovc-raw", "s3://ovc-raw"),
        ("s3://ovc-raw/", "s3://ovc-raw"),
    ],
)
def test_open_an_s3_url(
    url: str, location: str, aws_test_credentials: None
) -> None:
    store = open_raw_store(url, "https://account.r2.cloudflarestorage.com")

    assert isinstance(store, S3RawStore)
    assert store.location == location


def test_an_opened_s3_store_talks_to_the_endpoint(
    s3_bucket: str, moto_endpoint_url: str
) -> None:
    store = open_raw_store(f"s3://{s3_bucket}/raw", moto_endpoint_url)

    store.check()
    store.put("tv/2026-01-14/a.txt", b"a")
    assert store.get("tv/2026-01-14/a.txt") == b"a"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://x",
        "http://bucket/raw",
        "/abs/path",
        "raw",
        "s3://",
        "s3:///prefix",
        "s3://Upper_Case/raw",
        "s3://ovc-raw:9000/raw",
        "s3://ovc-raw/../escape",
        "s3://ovc-raw/a//b",
        "s3://ovc-raw/raw?versioning=1",
        "file://",
        "file:relative/path",
        "file://relative/path",
        "file:///tmp/raw#fragment",
    ],
)
def test_unsupported_urls_are_refused_at_once(url: str) -> None:
    with pytest.raises(OvcError) as excinfo:
        open_raw_store(url)

    assert excinfo.value.code == ErrorCode.RAW_STORE_SCHEME
    assert "file:///absolute/path or s3://bucket[/prefix]" in excinfo.value.message


def test_credentials_in_an_s3_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(OvcError) as excinfo:
        open_raw_store("s3://AKIAEXAMPLE:sup3rsecret@ovc-raw/raw")

    assert excinfo.value.code == ErrorCode.RAW_STORE_SCHEME
    assert "sup3rsecret" not in str(excinfo.value)


@pytest.mark.parametrize("endpoint", ["r2.example.com", "ftp://r2.example.com", "http://"])
def test_a_malformed_s3_endpoint_is_a_config_error(endpoint: str) -> None:
    with pytest.raises(OvcError) as excinfo:
        open_raw_store("s3://ovc-raw/raw", endpoint)

    assert excinfo.value.code == ErrorCode.CONFIG
