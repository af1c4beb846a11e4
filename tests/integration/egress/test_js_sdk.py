"""The JavaScript SDK v3 through the egress proxy, configured as docs/egress.md shows it: a
proxy agent (hpagent) in the SDK's NodeHttpHandler, the proxy's CA through
NODE_EXTRA_CA_CERTS, no endpoint override. Its error names and its attempts are the SDK's own:
the attempts it reports ($metadata.attempts) against its default max attempts and its own
retry classification, and against what the proxy counted."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import Outcome
from tests.egress_support import Setup, client_env, egress_setup
from tests.integration.gateway.helpers import fault
from tests.js_sdk import js_sdk_script, require_node

SERVICES = ("sts", "logs")
ERROR_NAMES = {
    # docs/gateway.md "Modes on the wire": sts speaks query, logs json.
    Mode.THROTTLE: {"sts": "Throttling", "logs": "ThrottlingException"},
    Mode.UNAVAILABLE: {"sts": "ServiceUnavailable", "logs": "ServiceUnavailableException"},
    Mode.EXPIRED_TOKEN: {"sts": "ExpiredToken", "logs": "ExpiredTokenException"},
}
RETRIED = {Mode.THROTTLE: True, Mode.UNAVAILABLE: True, Mode.EXPIRED_TOKEN: False}
"""What AWS's retry guidance says of each; the SDK's own classification must agree."""

NodeCall = Callable[..., dict[str, dict[str, Any]]]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[Setup]:
    require_node()
    with egress_setup(tmp_path_factory.mktemp("egress-js"), moto_url) as proxy:
        yield proxy


@pytest.fixture
def node_call(setup: Setup, tmp_path: Path) -> NodeCall:
    """Runs tests/fixtures/js-sdk/call.mjs for the services given, at once; its results by
    service."""
    script = js_sdk_script("call.mjs", tmp_path / "js")
    env = client_env(setup, tmp_path)

    def run(*services: str) -> dict[str, dict[str, Any]]:
        result = subprocess.run(
            ["node", str(script), *services],
            cwd=script.parent,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines() if line]
        return {line["service"]: line for line in lines}

    return run


def test_calls_succeed_through_the_proxy_without_a_fault(
    setup: Setup, admin: GatewayClient, node_call: NodeCall
) -> None:
    reached = setup.upstream.verified
    results = node_call(*SERVICES)
    assert {s: (r["ok"], r["attempts"]) for s, r in results.items()} == {
        "sts": (True, 1),
        "logs": (True, 1),
    }
    # Only through the proxy's --route could they reach the test's endpoint, signed right.
    assert setup.upstream.verified == reached + 2


@pytest.mark.parametrize("mode", sorted(ERROR_NAMES), ids=str)
def test_a_fault_gives_its_error_name_and_the_sdks_attempts(
    setup: Setup, admin: GatewayClient, node_call: NodeCall, mode: Mode
) -> None:
    for service in SERVICES:
        admin.add(fault(f"{mode}-{service}", mode, services=(service,)))
    since = admin.requests().last_seq

    results = node_call(*SERVICES)

    records = admin.requests(since).requests
    for service in SERVICES:
        result = results[service]
        assert (result["ok"], result["name"]) == (False, ERROR_NAMES[mode][service]), result
        assert result["retryable"] is RETRIED[mode]
        expected = result["default_max_attempts"] if result["retryable"] else 1
        faulted = [r for r in records if r.fault_id == f"{mode}-{service}"]
        assert [r.outcome for r in faulted] == [Outcome.ERROR] * expected
        assert result["attempts"] == expected
    assert results["sts"]["default_max_attempts"] == 3  # the SDK's documented default
