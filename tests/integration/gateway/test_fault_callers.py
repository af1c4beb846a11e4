"""A fault's matched calls are the app's (a real gateway told the probes' key, in front of the
session's moto server, real boto3 clients): the probes' calls are failed like anyone's, but a
drill reads only the app's from the gateway's counters, so a fault that met nothing but a probe
tested nothing. The request ring says who made each call."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from gameday.environments.embedded import PROBE_KEY_IDS
from gameday.environments.stage import DUMMY_KEYS, PROBE_KEYS
from gameday.faults.modes import Mode
from gameday.faults.rules import Rule
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import Caller
from gameday.gateway.thread import Gateway
from gameday.injectors.gateway import GatewayInjector
from gameday.scenario.models import FaultKind

ONCE = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def gateway(moto_url: str) -> Iterator[Gateway]:
    """A fresh gateway as a drill starts it: its counters start at zero."""
    with Gateway(moto_url, probe_keys=PROBE_KEY_IDS, default_region="us-east-1") as running:
        yield running


def _sts(url: str, keys: tuple[str, str], **config: Any) -> Any:
    # Any: boto3-stubs type client() by literal service name.
    session: Any = boto3.session.Session(
        aws_access_key_id=keys[0], aws_secret_access_key=keys[1], region_name="us-east-1"
    )
    return session.client("sts", endpoint_url=url, config=ONCE.merge(Config(**config)))


def _rule(rule_id: str) -> Rule:
    return Rule(
        id=rule_id,
        fault=rule_id,
        kind=FaultKind.IDENTITY_LOSS,
        mode=Mode.THROTTLE,
        services=("sts",),
        regions=("us-east-1",),
        operations=(),
        probability=1.0,
        start_s=0.0,
        end_s=30.0,
    )


def _fails(call: Any, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(ClientError) as failed:
            call()
        assert failed.value.response["Error"]["Code"] == "Throttling"


def test_a_fault_counts_the_apps_calls_and_not_the_probes(gateway: Gateway) -> None:
    admin = GatewayClient(gateway.url)
    injector = GatewayInjector(admin, run_id=f"run-{uuid.uuid4().hex[:8]}")
    rule = _rule("sts-down")
    app, probe = _sts(gateway.url, DUMMY_KEYS), _sts(gateway.url, PROBE_KEYS)
    unsigned = _sts(gateway.url, DUMMY_KEYS, signature_version=UNSIGNED)
    with injector.inject(rule):
        _fails(probe.get_caller_identity, times=3)  # failed like anyone's...
        _fails(app.get_caller_identity)
        _fails(
            lambda: unsigned.assume_role_with_web_identity(
                RoleArn="arn:aws:iam::123456789012:role/r",
                RoleSessionName="session",
                WebIdentityToken="token",
            )
        )

    assert injector.matched_calls([rule]) == {rule.id: 2}  # ...but not the app's calls
    records = admin.requests().requests
    assert [(r.operation, r.caller) for r in records] == [
        *[("GetCallerIdentity", Caller.PROBE)] * 3,
        ("GetCallerIdentity", Caller.APP),
        ("AssumeRoleWithWebIdentity", Caller.APP),  # unsigned: nobody's key, the app's
    ]
    fault_id = records[0].fault_id
    assert fault_id is not None and {r.fault_id for r in records} == {fault_id}
    metrics = admin.metrics()
    assert f'gameday_gateway_fault_calls_total{{caller="probe",fault="{fault_id}"}} 3.0' in metrics
    assert f'gameday_gateway_fault_calls_total{{caller="app",fault="{fault_id}"}} 2.0' in metrics


def test_a_fault_only_the_probes_met_matched_none_of_the_apps_calls(gateway: Gateway) -> None:
    admin = GatewayClient(gateway.url)
    injector = GatewayInjector(admin, run_id="probes-only")
    rule = _rule("probes-only")
    with injector.inject(rule):
        _fails(_sts(gateway.url, PROBE_KEYS).get_caller_identity, times=2)
    _sts(gateway.url, DUMMY_KEYS).get_caller_identity()  # the app's, after the fault: no match

    assert injector.matched_calls([rule]) == {rule.id: 0}
    assert admin.list() == []  # removed: the counters outlive it
