"""The break-glass path end to end at its seams: setup makes an IAM user and a long-term key
in a real moto server, the isolation writes it into the drill's shared credentials file, and
an ``aws`` probe with ``profile:`` signs with exactly that key, through the real gateway,
while STS and IAM are down."""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from pathlib import Path

import boto3
import pytest

from gameday.environments.isolation import isolate
from gameday.environments.setup import boto3_clients, create_setup
from gameday.environments.stage import DUMMY_KEYS
from gameday.errors import ScenarioError
from gameday.faults.modes import Mode
from gameday.gateway.thread import Gateway
from gameday.probes.aws import AwsProbe
from gameday.probes.base import ProbeError, open_probe_context
from gameday.scenario.loader import parse_scenario
from gameday.scenario.probe_models import AwsProbe as AwsProbeSpec
from tests.integration.demo.conftest import HOME, Faults, new_id

SCENARIO = """\
apiVersion: gameday/v1
metadata: {{name: break-glass-seam}}
target:
  setup:
    - {{kind: table, name: {table}}}
    - {{kind: user, name: {user}, profile: break-glass}}
faults:
  - {{kind: identity-loss, duration: 1s}}
probes:
  - {{name: bg, kind: aws, service: dynamodb, call: describe_table, params: {{TableName: x}}}}
objectives:
  - {{kind: availability, probe: bg, target: 1}}
"""


def _probe(name: str, service: str, call: str, params: dict[str, object]) -> AwsProbeSpec:
    return AwsProbeSpec.model_validate(
        {"name": name, "kind": "aws", "service": service, "call": call, "params": params,
         "profile": "break-glass", "timeout": "2s"}
    )  # fmt: skip


def test_the_probe_signs_with_the_setup_users_long_term_key_while_identity_is_down(
    tmp_path: Path, moto_url: str, gateway: Gateway, faults: Faults
) -> None:
    table, user = new_id("bg-table"), new_id("bg-user")
    scenario = parse_scenario(tmp_path / "s.yaml", SCENARIO.format(table=table, user=user))
    setup = create_setup(scenario, boto3_clients(moto_url))
    key = setup.keys["break-glass"]
    # Long-term IAM user keys start AKIA; STS-issued ones ASIA and need a session token.
    assert key.access_key_id.startswith("AKIA")
    iam = boto3.client("iam", endpoint_url=moto_url, region_name=HOME)
    owned = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in owned] == [key.access_key_id]
    assert key.secret_access_key not in repr(setup)

    faults.add("sts", Mode.UNAVAILABLE)
    faults.add("iam", Mode.UNAVAILABLE)

    async def sample() -> tuple[str | None, str | None, bool, bool]:
        with ExitStack() as stack:
            isolation = isolate(
                scenario, tmp_path, endpoint_url=gateway.url, stack=stack, now=time.monotonic,
                keys=setup.keys,
            )  # fmt: skip
            async with open_probe_context(
                run_id="r", origin_s=time.monotonic(), aws_endpoint_url=gateway.url,
                region=HOME, credentials=DUMMY_KEYS, environ=isolation.probe_environment(),
            ) as ctx:  # fmt: skip
                read = AwsProbe(_probe("read", "dynamodb", "describe_table",
                                       {"TableName": table}), ctx)  # fmt: skip
                whoami = AwsProbe(_probe("iam", "iam", "get_user", {"UserName": user}), ctx)
                # What signs each request, as botocore holds it (the stubs do not show it).
                signing = read._client._request_signer._credentials  # type: ignore[attr-defined]
                frozen = signing.get_frozen_credentials()
                read_ok = (await read.sample()).ok
                iam_ok = (await whoami.sample()).ok
                return frozen.access_key, frozen.token, read_ok, iam_ok

    access_key, token, read_ok, iam_ok = asyncio.run(sample())

    assert access_key == key.access_key_id
    assert token is None
    assert read_ok, "the break-glass read must work with STS and IAM down"
    assert not iam_ok, "IAM's own API is down: a break-glass step that needs it fails"


def test_a_probe_naming_no_such_profile_is_refused_before_the_drill(tmp_path: Path) -> None:
    scenario = parse_scenario(tmp_path / "s.yaml", SCENARIO.format(table="orders", user="someone"))

    async def build() -> None:
        with ExitStack() as stack:
            isolation = isolate(
                scenario, tmp_path, endpoint_url="http://127.0.0.1:9", stack=stack,
                now=time.monotonic,
            )  # fmt: skip
            async with open_probe_context(
                run_id="r", origin_s=0.0, aws_endpoint_url="http://127.0.0.1:9",
                credentials=DUMMY_KEYS, environ=isolation.probe_environment(),
            ) as ctx:  # fmt: skip
                AwsProbe(_probe("bg", "dynamodb", "list_tables", {}), ctx)

    with pytest.raises(ProbeError) as refused:
        asyncio.run(build())
    assert refused.value.message.startswith("probe 'bg': no profile 'break-glass'")


def test_a_users_profile_may_not_take_gamedays_own(tmp_path: Path) -> None:
    text = SCENARIO.format(table="orders", user="bg").replace(
        "profile: break-glass", "profile: default"
    )
    with pytest.raises(ScenarioError) as refused:
        parse_scenario(tmp_path / "s.yaml", text)
    assert "profile 'default' is already gameday's own profile" in str(refused.value)
