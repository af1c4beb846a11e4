"""A second real client: the AWS CLI, in a subprocess, prints the injected error code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient
from gameday.gateway.thread import Gateway
from tests.integration.gateway.helpers import fault

AWS = Path(sys.executable).with_name("aws")


@pytest.mark.parametrize(
    ("service", "args", "expected"),
    [
        ("sts", ["sts", "get-caller-identity"], "(Throttling) when calling the GetCallerIdentity"),
        (
            "logs",
            ["logs", "describe-log-groups"],
            "(ThrottlingException) when calling the DescribeLogGroups",
        ),
    ],
    ids=["query", "json"],
)
def test_aws_cli_prints_the_injected_code(
    gateway: Gateway, admin: GatewayClient, service: str, args: list[str], expected: str
) -> None:
    admin.add(fault("cli", Mode.THROTTLE, services=(service,)))

    result = subprocess.run(
        [str(AWS), *args, "--endpoint-url", gateway.url, "--region", "us-east-1"],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
        # One attempt: the CLI's retries would only add backoff sleeps here.
        env={**os.environ, "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"},
    )

    assert result.returncode == 255, result.stderr  # awscli v1's exit code for a service error
    assert expected in result.stderr
    assert [r.fault_id for r in admin.requests().requests][-1:] == ["cli"]
