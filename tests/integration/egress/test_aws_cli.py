"""The AWS CLI through the egress proxy, as a process in a real account would run it: only
HTTPS_PROXY and AWS_CA_BUNDLE, no endpoint, no config file, dummy credentials.

Both majors: v1 is the project's test dependency (awscli on PyPI); v2 is the official build
that npm serves inside AWS CDK's Lambda-layer asset (tests/js_sdk.py installs it), the only
current v2 any registry here serves (Debian 12's awscli is 2.9, from before v2 sent chunked
uploads with trailing checksums by default).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.retries.standard import DEFAULT_MAX_ATTEMPTS

from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import Outcome
from tests.egress_support import RecordedSetup as Setup
from tests.egress_support import client_env, egress_setup
from tests.integration.gateway.helpers import fault
from tests.js_sdk import awscli_v2

S3_NAMES = ("*.us-east-1.amazonaws.com", "*.s3.us-east-1.amazonaws.com", "*.s3.amazonaws.com")
"""The test endpoint's certificate names: S3's virtual-hosted bucket names too, regional and
global (botocore's default for us-east-1)."""
SERVICE_ERROR_EXIT = {"v1": 255, "v2": 254}
"""What each major exits with when the service answered an error (the CLI's return codes)."""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[Setup]:
    with egress_setup(tmp_path_factory.mktemp("egress-cli"), moto_url, S3_NAMES) as proxy:
        yield proxy


@pytest.fixture(params=["v1", "v2"], scope="module")
def cli(request: pytest.FixtureRequest) -> tuple[str, Path]:
    major = str(request.param)
    # v2 skips without node/npm (to install it) unless GAMEDAY_REQUIRE_NODE is set.
    aws = Path(sys.executable).with_name("aws") if major == "v1" else awscli_v2()
    version = subprocess.run(
        [str(aws), "--version"], capture_output=True, text=True, check=False, timeout=60
    )
    assert version.stdout.startswith(f"aws-cli/{major[1]}."), version
    return major, aws


def _aws(
    cli: tuple[str, Path], setup: Setup, home: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    major, aws = cli
    env = client_env(setup, home)
    if major == "v1":
        # v1's default is the legacy mode (5 attempts, seconds of backoff); v2's default is
        # standard, which both then use, so one expectation holds for both.
        env["AWS_RETRY_MODE"] = "standard"
    result = subprocess.run(
        [str(aws), *args, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return result


def test_calls_succeed_through_the_proxy_without_a_fault(
    setup: Setup, admin: GatewayClient, cli: tuple[str, Path], tmp_path: Path
) -> None:
    reached = setup.upstream.verified
    identity = _aws(cli, setup, tmp_path, "sts", "get-caller-identity")
    assert identity.returncode == 0, identity.stderr
    assert json.loads(identity.stdout)["Account"].isdigit()
    groups = _aws(cli, setup, tmp_path, "logs", "describe-log-groups")
    assert groups.returncode == 0, groups.stderr
    assert "logGroups" in json.loads(groups.stdout)
    assert setup.upstream.verified == reached + 2  # through the route, signatures intact
    assert setup.upstream.seen[-2].headers["host"] == "sts.us-east-1.amazonaws.com"
    assert setup.upstream.seen[-1].headers["host"] == "logs.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("service", "args", "mode", "code", "operation", "retried"),
    [
        ("sts", ("sts", "get-caller-identity"), Mode.EXPIRED_TOKEN, "ExpiredToken",
         "GetCallerIdentity", False),
        ("logs", ("logs", "describe-log-groups"), Mode.THROTTLE, "ThrottlingException",
         "DescribeLogGroups", True),
    ],
    ids=["sts-expired-token", "logs-throttle"],
)  # fmt: skip
def test_a_fault_fails_the_cli_naming_the_code(
    setup: Setup,
    admin: GatewayClient,
    cli: tuple[str, Path],
    tmp_path: Path,
    service: str,
    args: tuple[str, ...],
    mode: Mode,
    code: str,
    operation: str,
    retried: bool,
) -> None:
    admin.add(fault("cli", mode, services=(service,)))
    since = admin.requests().last_seq

    result = _aws(cli, setup, tmp_path, *args)

    assert result.returncode == SERVICE_ERROR_EXIT[cli[0]], result.stderr
    assert f"({code}) when calling the {operation} operation" in result.stderr
    records = [r for r in admin.requests(since).requests if r.fault_id == "cli"]
    # The standard mode's attempts for a retryable error, one for the rest.
    attempts = DEFAULT_MAX_ATTEMPTS if retried else 1
    assert [(r.operation, r.outcome) for r in records] == [(operation, Outcome.ERROR)] * attempts


def test_v2_uploads_chunked_with_a_trailing_checksum_through_a_decrypted_tunnel(
    setup: Setup, admin: GatewayClient, tmp_path: Path
) -> None:
    """aws-cli 2.23+ sends S3 uploads aws-chunked with a trailing checksum by default; the
    proxy forwards them byte for byte, and the download is the same bytes."""
    cli = ("v2", awscli_v2())  # the major whose default this is
    assert (
        _aws(cli, setup, tmp_path, "s3api", "create-bucket", "--bucket", "cli-v2").returncode == 0
    )
    # A fault on s3 that takes another call: the host is decrypted, the upload forwarded.
    admin.add(fault("decrypt", Mode.THROTTLE, services=("s3",), operations=("DeleteBucket",)))
    source = tmp_path / "upload.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024))
    since = admin.requests().last_seq

    put = _aws(cli, setup, tmp_path, "s3", "cp", str(source), "s3://cli-v2/object.bin")
    assert put.returncode == 0, put.stderr
    got = _aws(cli, setup, tmp_path, "s3", "cp", "s3://cli-v2/object.bin", str(tmp_path / "back"))
    assert got.returncode == 0, got.stderr

    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert hashlib.sha256((tmp_path / "back").read_bytes()).hexdigest() == digest
    forwarded = [(r.operation, r.outcome) for r in admin.requests(since).requests]
    assert ("PutObject", Outcome.FORWARDED) in forwarded
    assert ("GetObject", Outcome.FORWARDED) in forwarded
    [upload] = [s for s in setup.upstream.seen if s.method == "PUT" and s.path.endswith(".bin")]
    assert "aws-chunked" in upload.headers["content-encoding"]
    assert upload.headers["x-amz-trailer"].startswith("x-amz-checksum-")
    assert upload.headers["x-amz-decoded-content-length"] == str(source.stat().st_size)
    assert upload.trailer_ok is True  # its CRC64NVME trailer, checked upstream
