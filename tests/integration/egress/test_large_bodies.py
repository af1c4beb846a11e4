"""A 100 MB S3 upload and download through the egress proxy, byte for byte: botocore's default
flexible checksums send the unseekable body aws-chunked with a trailing CRC32 (over HTTPS), the
upstream checks the SigV4 signature, the chunk framing and the trailer against the decoded
bytes, and the object read back has the same SHA-256. Once through a decrypted tunnel (a fault
on s3 that takes another call), once through a blind one."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import Outcome
from tests.egress_support import RecordedSetup, aws_chunked_trailer_ok, egress_setup
from tests.integration.gateway.helpers import fault

SIZE = 100 * 1024 * 1024
S3_NAMES = ("*.us-east-1.amazonaws.com", "*.s3.us-east-1.amazonaws.com", "*.s3.amazonaws.com")
"""The test endpoint's certificate names: S3's virtual-hosted bucket names, regional and
global (botocore's default for us-east-1), for the blind tunnel's client to verify."""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[RecordedSetup]:
    with egress_setup(tmp_path_factory.mktemp("egress-large"), moto_url, S3_NAMES) as proxy:
        yield proxy


pytestmark = pytest.mark.usefixtures("in_account")


@pytest.fixture(scope="module")
def payload() -> bytes:
    return os.urandom(SIZE)


class Unseekable(io.RawIOBase):
    """A stream botocore cannot rewind or measure: what an app uploads from a pipe."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), len(self._view) - self._position)
        buffer[:size] = self._view[self._position : self._position + size]
        self._position += size
        return size


def _s3() -> Any:
    session: Any = boto3.session.Session()  # its own connection pool: a fresh tunnel
    return session.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        # One attempt: an unseekable body cannot be sent twice, and a retry would hide a
        # failure; botocore's checksum defaults are left alone.
        config=Config(retries={"total_max_attempts": 1}, read_timeout=120),
    )


@pytest.mark.slow
@pytest.mark.parametrize("tunnel", ["decrypted", "blind"])
def test_100_mb_goes_up_chunked_and_comes_back_the_same(
    setup: RecordedSetup, admin: GatewayClient, payload: bytes, tunnel: str
) -> None:
    bucket, key = f"large-{tunnel}", "object.bin"
    _s3().create_bucket(Bucket=bucket)
    if tunnel == "decrypted":
        admin.add(fault("decrypt", Mode.THROTTLE, services=("s3",), operations=("DeleteBucket",)))
    s3 = _s3()
    since, verified = admin.requests().last_seq, setup.upstream.verified

    s3.put_object(Bucket=bucket, Key=key, Body=Unseekable(payload), ContentLength=SIZE)
    digest = hashlib.sha256()
    for chunk in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(1 << 20):
        digest.update(chunk)

    assert digest.hexdigest() == hashlib.sha256(payload).hexdigest()
    assert setup.upstream.verified == verified + 2  # both signatures held upstream
    [upload] = [
        s
        for s in setup.upstream.seen
        if s.method == "PUT" and s.path == f"/{key}" and s.headers["host"].startswith(f"{bucket}.")
    ]
    assert upload.headers["content-encoding"] == "aws-chunked"
    assert upload.headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert upload.headers["x-amz-trailer"] == "x-amz-checksum-crc32"
    assert upload.headers["x-amz-decoded-content-length"] == str(SIZE)
    assert upload.body_bytes > SIZE and upload.trailer_ok is True
    records = [(r.operation, r.outcome) for r in admin.requests(since).requests]
    if tunnel == "decrypted":
        assert records == [("PutObject", Outcome.FORWARDED), ("GetObject", Outcome.FORWARDED)]
        assert [f.hits for f in admin.list()] == [0]
    else:
        assert records == []  # never decrypted: the proxy saw bytes only


def test_the_trailer_check_catches_a_changed_byte() -> None:
    """The upstream's check is not blind: one flipped byte of data, or a lost trailer, fails."""
    body = AwsChunkedWrapper(
        io.BytesIO(os.urandom(3000)),
        checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=1024,
    ).read()
    assert aws_chunked_trailer_ok(body, "x-amz-checksum-crc32") is True
    flipped = bytearray(body)
    flipped[body.index(b"\r\n") + 10] ^= 0xFF
    assert aws_chunked_trailer_ok(bytes(flipped), "x-amz-checksum-crc32") is False
    truncated = body[: body.rindex(b"x-amz-checksum-crc32")]
    assert aws_chunked_trailer_ok(truncated, "x-amz-checksum-crc32") is False
