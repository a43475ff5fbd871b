"""Raw-store fixtures: a local directory, and a real S3 endpoint from moto's server mode."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from ovc_assets.storage.raw_store import FileRawStore, RawStore, S3RawStore

TEST_REGION = "us-east-1"
TEST_ACCESS_KEY = "testing"


@pytest.fixture(scope="session")
def moto_endpoint_url() -> Iterator[str]:
    """The URL of a moto S3 server listening on a free loopback port for the session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_test_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials, and no user AWS config that could change what boto3 does."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_ACCESS_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", TEST_REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def s3_client(moto_endpoint_url: str):
    """A plain boto3 client on the moto server, to arrange and inspect buckets directly."""
    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint_url,
        region_name=TEST_REGION,
        aws_access_key_id=TEST_ACCESS_KEY,
        aws_secret_access_key=TEST_ACCESS_KEY,
    )


@pytest.fixture
def s3_bucket(s3_client, aws_test_credentials: None) -> str:
    """A fresh, empty bucket on the moto server."""
    bucket = f"ovc-test-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def file_store(tmp_path: Path) -> FileRawStore:
    """A file store whose root does not exist yet."""
    return FileRawStore(tmp_path / "raw")


@pytest.fixture
def s3_prefix() -> str:
    """The prefix the `s3_store` keeps its objects under."""
    return "ovc/raw"


@pytest.fixture
def s3_store(s3_bucket: str, s3_prefix: str, moto_endpoint_url: str) -> S3RawStore:
    """An S3 store under a prefix of a fresh bucket, credentials and region from the env."""
    return S3RawStore(s3_bucket, s3_prefix, endpoint_url=moto_endpoint_url)


@pytest.fixture(params=["file", "s3"])
def raw_store(request: pytest.FixtureRequest) -> RawStore:
    """Each backend in turn, for the behaviour both must share."""
    return request.getfixturevalue(f"{request.param}_store")
