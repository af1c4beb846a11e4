"""A gateway whose admin API becomes unreachable in the middle of a drill: the real gateway in
front of the real moto server, the real engine and probes; only the path to the admin API
goes through a loopback proxy that the test closes right after the fault is injected.

The fault cannot be removed: the run says so (rollback incomplete, the fault named, exit 5,
the drill's own status kept), and the gateway still drops the fault by its TTL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.engine.suite import exit_code_for
from gameday.environments.stage import DUMMY_KEYS, Evidence, Stage, StageRequest
from gameday.errors import ExitCode
from gameday.gateway.client import GatewayClient
from gameday.gateway.thread import Gateway
from gameday.injectors.gateway import GatewayInjector
from gameday.recorder import Recorder
from gameday.scenario.loader import load_scenario
from tests.integration.gateway.flaky import FlakyProxy

SCENARIO = """apiVersion: gameday/v1
metadata: {name: admin-lost}
faults: [{name: sts-down, kind: identity-loss, start_after: 200ms, duration: 1s}]
probes: [{name: sts, kind: aws, service: sts, call: get_caller_identity, interval: 100ms}]
objectives: [{kind: rto, probe: sts, target: 10s}, {kind: steady, probe: sts, samples: 2}]
observe: {max: 4s, recovery_window: 200ms, stable: 2}
"""


@pytest.fixture
def gateway(moto_url: str) -> Iterator[Gateway]:
    with Gateway(moto_url, seed=7) as running:
        yield running


class AdminThroughProxy:
    """The gateway, with the injector's admin calls going through ``proxy``."""

    def __init__(self, gateway: Gateway, moto_url: str, proxy: FlakyProxy) -> None:
        self.gateway, self.moto_url, self.proxy = gateway, moto_url, proxy

    async def bring_up(self, request: StageRequest, stack: ExitStack) -> Stage:
        del stack
        client = GatewayClient(self.proxy.url, retry_deadline_s=1.0)
        return Stage(
            injector=GatewayInjector(client, request.run_id),
            rules=tuple(request.plan.rules),
            evidence=Evidence,
            app=None,
            aws_endpoint_url=self.gateway.url,
            emulator_url=self.moto_url,
            clients=None,
            credentials=DUMMY_KEYS,
        )


def _sts_answers(url: str) -> bool:
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    try:
        sts.get_caller_identity()
    except ClientError:
        return False
    return True


def test_an_unreachable_admin_api_is_exit_5_and_the_ttl_still_removes_the_fault(
    tmp_path: Path, moto_url: str, gateway: Gateway
) -> None:
    parts = urlsplit(gateway.url)
    proxy = FlakyProxy((parts.hostname or "127.0.0.1", parts.port or 80), []).start()
    direct = GatewayClient(gateway.url)
    seen: dict[str, object] = {}

    def cut_admin(recorder: Recorder, kind: str, detail: str) -> None:
        del recorder
        if kind == "inject":
            seen["held"] = [f.id for f in direct.list()]
            seen["sts while held"] = _sts_answers(gateway.url)
            proxy.close()  # from now on the admin API cannot be reached
            seen["cut at"] = time.monotonic()

    path = tmp_path / "drill.yaml"
    path.write_text(SCENARIO)
    options = RunOptions(
        environment=AdminThroughProxy(gateway, moto_url, proxy), listeners=[cut_admin]
    )
    result = run_drill(make_plan(load_scenario(path)), options, time.monotonic)

    (fault,) = result.faults
    spec_id = f"{result.run_id}.sts-down"
    assert seen["held"] == [spec_id]
    assert seen["sts while held"] is False
    assert fault.injected_at is not None
    assert fault.removed_at is None  # never recorded as removed
    assert result.rollback.complete is False
    (problem,) = result.rollback.problems
    assert problem.startswith(f"fault {spec_id} (unavailable on ")
    assert "may still be in force: " in problem
    assert problem.endswith(
        "the gateway drops it by itself at the end of its TTL (3 s after it was added); "
        f"to remove it now: gameday abort --gateway {proxy.url}"
    )
    assert fault.not_removed == problem
    assert "rollback-failed" in [e.kind for e in result.events]
    assert exit_code_for([result]) is ExitCode.ROLLBACK_FAILED
    # The TTL removed it all the same: 1 s window + 2 s margin after it was added.
    deadline = float(seen["cut at"]) + 3.0 + 2.0  # type: ignore[arg-type]
    while direct.list() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert direct.list() == []
    assert _sts_answers(gateway.url)
