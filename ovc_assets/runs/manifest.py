"""The run manifest of seed 003 (`ovc.ovc_runs`): what ran, from which code, with which inputs.

- Code identity: the package version (importlib.metadata) and the git commit, branch and
  dirty flag, read from a build-time file `ovc_assets/_build_info.json` when the package
  ships one, else from the working tree the package is imported from (`git`, 2 s timeout),
  else "unknown". Never an exception.
- Inputs: the command-line arguments or the Dagster run config, and `input_hash`, the
  sha256 of the canonical JSON of the inputs, so identical reruns are recognisable.
- Environment: the OVC_*, DAGSTER_*, OANDA_*, AWS_*, PG* variables with secrets redacted:
  the value of any variable named like TOKEN, KEY, SECRET, PASSWORD, PASSWD, CREDENTIAL or
  DSN becomes `***`, and the password of any URL or libpq DSN becomes `***`.

`SecretScrubber` goes one step further for everything run tracking writes (manifest,
report, JSON artifacts, log lines): it knows the secret values present in the environment
and replaces them wherever they appear, whatever the field is called.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg.types.json import Jsonb

from ovc_assets.storage.postgres import MASK, mask_dsn

log = logging.getLogger(__name__)

PACKAGE_NAME = "ovc-assets"
UNKNOWN = "unknown"
GIT_TIMEOUT_SECONDS = 2.0
BUILD_INFO_FILE = Path(__file__).resolve().parents[1] / "_build_info.json"
_PACKAGE_DIR = Path(__file__).resolve().parents[1]

SECRET_NAME_PATTERN = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL|DSN", re.IGNORECASE)
ENV_PREFIXES = ("OVC_", "DAGSTER_", "OANDA_", "AWS_", "PG")
# Values shorter than this are not scrubbed from free text (a secret "1" would mangle everything).
_MIN_SCRUB_LENGTH = 4
_PASSWORD_IN_DSN = re.compile(r"(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)

MANIFEST_STATUSES = ("STARTED", "SUCCESS", "FAILURE", "CANCELED", "CRASHED", "ROLLED_BACK")


# --- code identity ---------------------------------------------------------------------


@dataclass(frozen=True)
class GitInfo:
    commit: str = UNKNOWN
    branch: str = UNKNOWN
    dirty: bool | None = None

    @property
    def short(self) -> str:
        return self.commit[:12] if self.commit != UNKNOWN else UNKNOWN


@lru_cache(maxsize=1)
def package_version() -> str:
    try:
        return metadata.version(PACKAGE_NAME)
    except metadata.PackageNotFoundError:
        from ovc_assets import __version__

        return __version__


@lru_cache(maxsize=1)
def git_info() -> GitInfo:
    """The code's git state; cached for the life of the process (it cannot change under it
    in a way that matters for the runs it makes)."""
    try:
        if BUILD_INFO_FILE.is_file():
            data = json.loads(BUILD_INFO_FILE.read_text(encoding="utf-8"))
            return GitInfo(
                commit=str(data.get("git_commit") or UNKNOWN),
                branch=str(data.get("git_branch") or UNKNOWN),
                dirty=data.get("git_dirty") if isinstance(data.get("git_dirty"), bool) else None,
            )
        return _git_info_from_working_tree(_PACKAGE_DIR.parent)
    except Exception as error:  # noqa: BLE001 - "unknown" outside git, never a crash
        log.debug("git info unavailable: %s", error)
        return GitInfo()


def _git(repo: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _git_info_from_working_tree(repo: Path) -> GitInfo:
    toplevel = _git(repo, "rev-parse", "--show-toplevel")
    # Only a checkout of this project counts: a wheel installed into a virtualenv that
    # happens to sit inside some other repository must not report that repository.
    if not toplevel or Path(toplevel).resolve() != repo.resolve():
        return GitInfo()
    commit = _git(repo, "rev-parse", "HEAD") or UNKNOWN
    branch = _git(repo, "rev-parse", "--abbrev-ref", "HEAD") or UNKNOWN
    status = _git(repo, "status", "--porcelain", "--untracked-files=no")
    return GitInfo(commit=commit, branch=branch, dirty=None if status is None else bool(status))


def run_ver() -> str:
    """`run_ver` of the report: package version plus git commit, e.g. `0.1.0+5f56f50a1b2c`
    (`-dirty` when the working tree had uncommitted changes)."""
    info = git_info()
    suffix = "-dirty" if info.dirty else ""
    return f"{package_version()}+{info.short}{suffix}"


# --- redaction -------------------------------------------------------------------------


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME_PATTERN.search(name))


def mask_secrets_in_text(text: str) -> str:
    """Mask the password of a URL (`scheme://user:pw@host`) or libpq DSN (`password=pw`)."""
    if "://" in text and "@" in text:
        try:
            if urlsplit(text).password:
                return mask_dsn(text)
        except ValueError:
            pass
        return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", rf"\g<1>{MASK}@", text)
    if "password" in text.lower() and "=" in text:
        return _PASSWORD_IN_DSN.sub(lambda m: m.group(0).replace(m.group(1), MASK), text)
    return text


def redact(value: object, *, key: str | None = None) -> object:
    """A copy of a JSON-like value with secrets replaced: any value under a key named like a
    secret becomes `***`; passwords inside URLs and DSNs are masked."""
    if key is not None and is_secret_name(key) and value not in (None, ""):
        return MASK
    if isinstance(value, Mapping):
        return {str(k): redact(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return mask_secrets_in_text(value)
    return value


@dataclass(frozen=True)
class SecretScrubber:
    """Replaces known secret values (from the environment) with `***` in any text."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SecretScrubber:
        environ = os.environ if environ is None else environ
        found: set[str] = set()
        for name, value in environ.items():
            if not value:
                continue
            if is_secret_name(name):
                found.add(value)
            found.update(_passwords_in(value))
        return cls(tuple(sorted((s for s in found if len(s) >= _MIN_SCRUB_LENGTH), key=len, reverse=True)))

    def scrub(self, text: str) -> str:
        text = mask_secrets_in_text(text)
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def scrub_value(self, value: object) -> object:
        """Scrub every string inside a JSON-like value."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, Mapping):
            return {self.scrub(str(k)): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.scrub_value(item) for item in value]
        return value


def _passwords_in(value: str) -> set[str]:
    passwords: set[str] = set()
    if "://" in value:
        try:
            password = urlsplit(value).password
        except ValueError:
            password = None
        if password:
            passwords.add(password)
    for match in _PASSWORD_IN_DSN.finditer(value):
        passwords.add(match.group(1).strip("'"))
    return passwords


def environment_info(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment variables that shape a run, secrets redacted."""
    environ = os.environ if environ is None else environ
    return {
        name: str(redact(value, key=name))
        for name, value in sorted(environ.items())
        if name.startswith(ENV_PREFIXES)
    }


def input_hash(inputs: Mapping[str, object]) -> str:
    """sha256 of the canonical JSON of the inputs (sorted keys, no spaces)."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- the manifest row ------------------------------------------------------------------


@dataclass
class RunManifest:
    run_id: str
    run_type: str
    status: str
    started_at: datetime
    dagster_run_id: str | None = None
    completed_at: datetime | None = None
    package_version: str = field(default_factory=package_version)
    git_commit: str = UNKNOWN
    git_branch: str = UNKNOWN
    git_dirty: bool | None = None
    cli_args: dict | None = None
    run_config: dict | None = None
    env_info: dict | None = None
    input_hash: str | None = None
    dedup_mode: str | None = None
    source_tier: str | None = None
    error: str | None = None
    rollback_of: str | None = None

    def __post_init__(self) -> None:
        if self.status not in MANIFEST_STATUSES:
            raise ValueError(f"manifest status must be one of {MANIFEST_STATUSES}, got {self.status!r}")

    def with_code_identity(self) -> RunManifest:
        info = git_info()
        self.package_version = package_version()
        self.git_commit, self.git_branch, self.git_dirty = info.commit, info.branch, info.dirty
        return self

    def scrubbed(self, scrubber: SecretScrubber) -> RunManifest:
        """Redact and scrub every free-form field (arguments, config, environment, error)."""
        self.cli_args = _scrub_json(self.cli_args, scrubber)
        self.run_config = _scrub_json(self.run_config, scrubber)
        self.env_info = _scrub_json(self.env_info, scrubber)
        self.error = scrubber.scrub(self.error) if self.error else self.error
        return self

    def params(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "dagster_run_id": self.dagster_run_id,
            "run_type": self.run_type,
            "status": self.status,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "package_version": self.package_version,
            "git_commit": self.git_commit,
            "git_branch": self.git_branch,
            "git_dirty": self.git_dirty,
            "cli_args": None if self.cli_args is None else Jsonb(self.cli_args),
            "run_config": None if self.run_config is None else Jsonb(self.run_config),
            "env_info": None if self.env_info is None else Jsonb(self.env_info),
            "input_hash": self.input_hash,
            "dedup_mode": self.dedup_mode,
            "source_tier": self.source_tier,
            "error": self.error,
            "rollback_of": self.rollback_of,
        }


def _scrub_json(value: dict | None, scrubber: SecretScrubber) -> dict | None:
    if value is None:
        return None
    return scrubber.scrub_value(redact(value))  # type: ignore[return-value]


def manifest_for_step(dagster_run_id: str, run_type: str) -> RunManifest:
    """The manifest a run's first step records: STARTED, with the worker's code identity
    and redacted environment."""
    scrubber = SecretScrubber.from_environ()
    manifest = RunManifest(
        run_id=dagster_run_id,
        dagster_run_id=dagster_run_id,
        run_type=run_type,
        status="STARTED",
        started_at=datetime.now(UTC),
        env_info=environment_info(),
    ).with_code_identity()
    return manifest.scrubbed(scrubber)


MANIFEST_COLUMNS = (
    "run_id", "dagster_run_id", "run_type", "status", "started_at", "completed_at", "package_version",
    "git_commit", "git_branch", "git_dirty", "cli_args", "run_config", "env_info", "input_hash",
    "dedup_mode", "source_tier", "error", "rollback_of",
)  # fmt: skip

_VALUES = ", ".join(f"%({name})s" for name in MANIFEST_COLUMNS)
INSERT_MANIFEST_IF_ABSENT_SQL = f"""
INSERT INTO ovc.ovc_runs ({", ".join(MANIFEST_COLUMNS)})
VALUES ({_VALUES})
ON CONFLICT (run_id) DO NOTHING
"""  # noqa: S608 - fixed column names, values parameterised

# The end of a run: status, times, inputs and error are the finisher's; the code identity
# and environment stay those of the worker that started the run when it recorded them.
UPSERT_MANIFEST_SQL = f"""
INSERT INTO ovc.ovc_runs AS r ({", ".join(MANIFEST_COLUMNS)})
VALUES ({_VALUES})
ON CONFLICT (run_id) DO UPDATE SET
    dagster_run_id  = coalesce(EXCLUDED.dagster_run_id, r.dagster_run_id),
    run_type        = EXCLUDED.run_type,
    status          = CASE WHEN r.status = 'ROLLED_BACK' THEN r.status ELSE EXCLUDED.status END,
    started_at      = least(r.started_at, EXCLUDED.started_at),
    completed_at    = EXCLUDED.completed_at,
    cli_args        = coalesce(EXCLUDED.cli_args, r.cli_args),
    run_config      = coalesce(EXCLUDED.run_config, r.run_config),
    env_info        = coalesce(r.env_info, EXCLUDED.env_info),
    input_hash      = coalesce(EXCLUDED.input_hash, r.input_hash),
    dedup_mode      = coalesce(EXCLUDED.dedup_mode, r.dedup_mode),
    source_tier     = coalesce(EXCLUDED.source_tier, r.source_tier),
    error           = EXCLUDED.error,
    rollback_of     = coalesce(EXCLUDED.rollback_of, r.rollback_of),
    updated_at      = now()
"""  # noqa: S608 - fixed column names, values parameterised

SELECT_MANIFEST_SQL = """
SELECT run_id, dagster_run_id, run_type, status, started_at, completed_at, package_version,
       git_commit, git_branch, git_dirty, cli_args, run_config, env_info, input_hash, dedup_mode,
       source_tier, error, rollback_of, rolled_back_by, updated_at
FROM ovc.ovc_runs WHERE run_id = %s
"""


def insert_manifest_if_absent(conn: psycopg.Connection, manifest: RunManifest) -> None:
    conn.execute(INSERT_MANIFEST_IF_ABSENT_SQL, manifest.params())


def upsert_manifest(conn: psycopg.Connection, manifest: RunManifest) -> None:
    conn.execute(UPSERT_MANIFEST_SQL, manifest.params())


def load_manifest(conn: psycopg.Connection, run_id: str) -> dict[str, object] | None:
    cursor = conn.execute(SELECT_MANIFEST_SQL, (run_id,))
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([column.name for column in cursor.description], row, strict=True))
