"""The raw store: every webhook body, byte for byte, before anything else happens to it.

One interface, two backends: a local directory (`file:///abs/path`, the default
`$OVC_HOME/raw`) and an S3-compatible bucket (`s3://bucket/prefix`; Cloudflare R2 in
production through `OVC_S3_ENDPOINT_URL`). Keys are relative, `/`-separated paths built
by `raw_event_key` / `report_key`; every backend validates every key it is given, so no
key can leave the store's root or prefix.

Failures of the store itself are `OvcError(RAW_STORE_UNAVAILABLE)`; a missing object is
a `KeyError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from ovc_assets.errors import ErrorCode, OvcError, one_line
from ovc_assets.storage.files import fsync_directory, write_atomically

ACCEPTED_URL_FORMS = "file:///absolute/path or s3://bucket[/prefix]"

_MAX_KEY_LENGTH = 1024  # the S3 limit
_MAX_SEGMENT_LENGTH = 255  # the usual file-name limit
_MAX_BLOCK_ID_LENGTH = 64
_MAX_RUN_ID_LENGTH = 128

# A leading dot is not allowed in a key segment: such names are reserved for the store's
# own temporary files and probes, which readers and `list_keys` must never see.
_KEY_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")
_LEADING_DOTS = re.compile(r"^\.+")
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")

_CHECK_PROBE_NAME = ".ovc-check"


def raw_event_key(received_at: datetime, block_id: str | None, event_id: uuid.UUID) -> str:
    """The raw-store key of one webhook body (DESIGN section 4).

    `tv/YYYY-MM-DD/<block_id>_<uuid>.txt`, or `tv/YYYY-MM-DD/<iso-time>_<uuid>.txt` when
    there is no block id, the date and time being `received_at` in UTC. The block id comes
    from untrusted input and is reduced to a safe file-name fragment.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    received_utc = received_at.astimezone(UTC)
    if block_id:
        stem = _safe_name(block_id, _MAX_BLOCK_ID_LENGTH)
    else:
        stem = f"{received_utc:%Y%m%dT%H%M%S}.{received_utc.microsecond // 1000:03d}Z"
    return f"tv/{received_utc:%Y-%m-%d}/{stem}_{event_id}.txt"


def report_key(run_id: str) -> str:
    """The raw-store key of one run report: `reports/<run_id>.json`.

    A run id that has to be altered to be safe gets a short hash of the original
    appended, so two different run ids can never share a report object.
    """
    if not run_id:
        raise ValueError("run_id must not be empty")
    name = _safe_name(run_id, _MAX_RUN_ID_LENGTH)
    if name != run_id:
        digest = hashlib.sha256(run_id.encode("utf-8", "surrogatepass")).hexdigest()
        name = f"{name}-{digest[:12]}"
    return f"reports/{name}.json"


def _safe_name(text: str, max_length: int) -> str:
    name = _UNSAFE_CHARACTERS.sub("_", text)
    name = _LEADING_DOTS.sub("_", name)
    return name[:max_length]


def _is_valid_key(key: object) -> bool:
    return (
        isinstance(key, str)
        and 0 < len(key) <= _MAX_KEY_LENGTH
        and all(
            len(segment) <= _MAX_SEGMENT_LENGTH and _KEY_SEGMENT.fullmatch(segment)
            for segment in key.split("/")
        )
    )


def _validate_key(key: str) -> str:
    """Return `key` unchanged if it is a safe relative key, else raise RAW_STORE_KEY.

    Safe means: `/`-separated segments of [A-Za-z0-9._-] that are neither empty nor start
    with a dot (so no `..`, no absolute path, no `a//b`), no backslash or NUL, and at most
    1024 characters.
    """
    if not _is_valid_key(key):
        raise OvcError(ErrorCode.RAW_STORE_KEY, f"unsafe raw-store key {key!r}")
    return key


def _validate_list_prefix(prefix: str) -> None:
    if prefix:
        _validate_key(prefix.removesuffix("/"))


class RawStore(ABC):
    """Where raw webhook bodies and run reports are kept, addressed by relative keys."""

    @property
    @abstractmethod
    def location(self) -> str:
        """The store's root URI, as shown to users and as `raw_store_path` in run reports."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> str:
        """Store `data` under `key`, replacing any previous object; return the object's URI.

        When this returns, the object is durable and complete; a reader never sees a
        partly written object under `key`.
        """

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes stored under `key`; `KeyError` if there is none."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""

    @abstractmethod
    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """The keys that start with `prefix`, relative to the store root, in sorted order.

        Objects whose names are not valid keys (temporary files, foreign objects) are left
        out, so every listed key can be passed to `get`.
        """

    @abstractmethod
    def check(self) -> None:
        """Raise RAW_STORE_UNAVAILABLE, with a one-line reason, unless the store is writable."""


class FileRawStore(RawStore):
    """A raw store in a local directory, created on first use.

    Each object is written to a hidden temporary file beside its final name, fsync'd,
    renamed into place and its directory fsync'd, so it is either absent or complete.
    """

    def __init__(self, root: Path) -> None:
        self._root = Path(root).absolute()

    @property
    def location(self) -> str:
        return self._root.as_uri()

    def put(self, key: str, data: bytes) -> str:
        path = self._path_for(key)
        try:
            self._make_directories_durably(path.parent)
            write_atomically(path, data)
        except OSError as exc:
            raise self._unavailable(f"cannot write {path}", exc) from exc
        return path.as_uri()

    def get(self, key: str) -> bytes:
        path = self._path_for(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise KeyError(key) from None
        except OSError as exc:
            raise self._unavailable(f"cannot read {path}", exc) from exc

    def exists(self, key: str) -> bool:
        path = self._path_for(key)
        try:
            return path.is_file()
        except OSError as exc:
            raise self._unavailable(f"cannot look up {path}", exc) from exc

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        _validate_list_prefix(prefix)
        # Walk only the deepest directory the prefix names in full.
        start = self._root.joinpath(prefix.rpartition("/")[0])
        keys = []
        walk = os.walk(start, onerror=self._raise_unless_missing)
        for directory, subdirectories, file_names in walk:
            subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
            relative = Path(directory).relative_to(self._root)
            for name in file_names:
                key = (relative / name).as_posix()
                if key.startswith(prefix) and _is_valid_key(key):
                    keys.append(key)
        yield from sorted(keys)

    def check(self) -> None:
        probe = self._root / f"{_CHECK_PROBE_NAME}-{uuid.uuid4().hex}"
        try:
            self._make_directories_durably(self._root)
            with open(probe, "xb") as file:
                file.write(b"ok")
                file.flush()
                os.fsync(file.fileno())
            probe.unlink()
        except OSError as exc:
            raise self._unavailable(f"cannot write to {self._root}", exc) from exc

    def _raise_unless_missing(self, exc: OSError) -> None:
        # os.walk skips unreadable directories by default, which would make a store that
        # cannot be read look empty.
        if not isinstance(exc, (FileNotFoundError, NotADirectoryError)):
            raise self._unavailable(f"cannot list {exc.filename}", exc) from exc

    def _path_for(self, key: str) -> Path:
        return self._root.joinpath(*_validate_key(key).split("/"))

    def _make_directories_durably(self, directory: Path) -> None:
        missing = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for new_directory in reversed(missing):
            new_directory.mkdir(exist_ok=True)
            # A new directory entry is durable only once its parent is fsync'd.
            fsync_directory(new_directory.parent)

    @staticmethod
    def _unavailable(action: str, exc: OSError) -> OvcError:
        reason = exc.strerror or one_line(exc)
        return OvcError(ErrorCode.RAW_STORE_UNAVAILABLE, f"{action}: {reason}")


S3_MAX_KEYS_PER_LIST = 1000


class S3RawStore(RawStore):
    """A raw store in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO), under a prefix.

    The boto3 client comes from dagster-aws's `S3Resource`, so credentials follow the
    usual boto chain (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, profiles, ...).
    A PUT is atomic: an object is either absent or complete.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region_name: str | None = None,
        max_retries: int = 2,
        list_page_size: int = S3_MAX_KEYS_PER_LIST,
    ) -> None:
        """`prefix` is a relative key without surrounding slashes ("" for the bucket root).

        `max_retries` counts the retries after the first try; it is kept small so that an
        unreachable store is reported in seconds rather than retried for a minute.
        `list_page_size` is the number of keys asked for per listing request (S3's maximum).
        """
        # Imported here because dagster-aws imports all of dagster (about a second), which
        # a file-backed store, e.g. in the webhook receiver, has no need for.
        from dagster_aws.s3 import S3Resource

        if prefix:
            _validate_key(prefix)
        self._bucket = bucket
        self._prefix = prefix
        self._list_page_size = list_page_size
        self._client = S3Resource(
            endpoint_url=endpoint_url,
            region_name=region_name,
            # dagster-aws hands this to botocore as `retries.max_attempts`, which botocore
            # counts as retries after the first call, whatever the field's name says.
            max_attempts=max_retries,
        ).get_client()

    @property
    def location(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}" if self._prefix else f"s3://{self._bucket}"

    def put(self, key: str, data: bytes) -> str:
        object_key = self._object_key(key)
        with self._errors_as_unavailable(f"cannot write {key!r}"):
            self._client.put_object(Bucket=self._bucket, Key=object_key, Body=data)
        return f"s3://{self._bucket}/{object_key}"

    def get(self, key: str) -> bytes:
        object_key = self._object_key(key)
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=object_key)
            return response["Body"].read()
        except ClientError as exc:
            if _is_not_found(exc):
                raise KeyError(key) from None
            raise self._unavailable(f"cannot read {key!r}", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable(f"cannot read {key!r}", exc) from exc

    def exists(self, key: str) -> bool:
        object_key = self._object_key(key)
        try:
            self._client.head_object(Bucket=self._bucket, Key=object_key)
        except ClientError as exc:
            if _is_not_found(exc):
                return False
            raise self._unavailable(f"cannot look up {key!r}", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable(f"cannot look up {key!r}", exc) from exc
        return True

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        _validate_list_prefix(prefix)
        root = f"{self._prefix}/" if self._prefix else ""
        paginator = self._client.get_paginator("list_objects_v2")
        with self._errors_as_unavailable("cannot list objects"):
            # S3 lists keys in UTF-8 byte order, which is sorted order for valid keys.
            pages = paginator.paginate(
                Bucket=self._bucket, Prefix=root + prefix, PaginationConfig={"PageSize": self._list_page_size}
            )
            for page in pages:
                for listed in page.get("Contents", []):
                    key = listed["Key"][len(root) :]
                    if _is_valid_key(key):
                        yield key

    def check(self) -> None:
        # A fixed probe key, overwritten each time: proves write access without needing
        # delete permission and without piling up objects.
        probe_key = f"{self._prefix}/{_CHECK_PROBE_NAME}" if self._prefix else _CHECK_PROBE_NAME
        with self._errors_as_unavailable("cannot write a probe object"):
            self._client.put_object(Bucket=self._bucket, Key=probe_key, Body=b"ok")

    def _object_key(self, key: str) -> str:
        _validate_key(key)
        return f"{self._prefix}/{key}" if self._prefix else key

    @contextlib.contextmanager
    def _errors_as_unavailable(self, action: str) -> Iterator[None]:
        try:
            yield
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(action, exc) from exc

    def _unavailable(self, action: str, exc: Exception) -> OvcError:
        return OvcError(
            ErrorCode.RAW_STORE_UNAVAILABLE, f"{self.location}: {action}: {one_line(exc)}"
        )


def _is_not_found(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") in {"NoSuchKey", "404", "NotFound"}


def open_raw_store(url: str, s3_endpoint_url: str | None = None) -> RawStore:
    """The raw store that `url` (`OVC_RAW_STORE`) names.

    `file:///absolute/path` gives a `FileRawStore`; `s3://bucket[/prefix]` gives an
    `S3RawStore`, talking to `s3_endpoint_url` (`OVC_S3_ENDPOINT_URL`) when it is set.
    Anything else raises RAW_STORE_SCHEME at once, so a bad setting stops start-up.
    """
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise _bad_url("credentials do not belong in the URL; use the AWS_* variables")
    if parts.query or parts.fragment:
        raise _bad_url(f"unexpected query or fragment in {url!r}")
    if parts.scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise _bad_url(f"{url!r} is not an absolute file URL")
        return FileRawStore(Path(path))
    if parts.scheme == "s3":
        if not _BUCKET_NAME.fullmatch(parts.netloc):
            raise _bad_url(f"{url!r} does not name a valid bucket")
        prefix = parts.path.strip("/")
        if prefix and not _is_valid_key(prefix):
            raise _bad_url(f"{url!r} has an unsafe prefix")
        if s3_endpoint_url is not None and not _is_http_url(s3_endpoint_url):
            raise OvcError(
                ErrorCode.CONFIG,
                f"OVC_S3_ENDPOINT_URL must be an http(s) URL, got {s3_endpoint_url!r}",
            )
        return S3RawStore(parts.netloc, prefix, endpoint_url=s3_endpoint_url)
    raise _bad_url(f"unsupported raw store URL {url!r}")


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _bad_url(reason: str) -> OvcError:
    return OvcError(
        ErrorCode.RAW_STORE_SCHEME, f"{reason}; OVC_RAW_STORE must be {ACCEPTED_URL_FORMS}"
    )
