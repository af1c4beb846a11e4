"""Faults reach the calls that name no region (a real gateway in front of the session's moto
server, real boto3 clients): unsigned identity calls and boto3's default S3 presigned URL
(SigV2) carry no credential scope, and through ``AWS_ENDPOINT_URL`` their Host names no region
either. A gateway told the drill's region (``default_region``, as the embedded and localstack
environments start it; ``gameday gateway --region``) takes them to be in it, so identity-loss
and region-loss rules, as the engine resolves them, fail them. One told none (the session's
``gateway``) leaves them regionless, and forwards them as before."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from gameday.environments.embedded import PROBE_KEY_IDS
from gameday.faults.rules import Rule, resolve_rules
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import Caller, Outcome, RequestRecord
from gameday.gateway.thread import Gateway
from gameday.injectors.gateway import GatewayInjector
from gameday.scenario.models import Scenario
from tests.gateway_process import gateway_process
from tests.integration.gateway.helpers import aws

ROOT = Path(__file__).resolve().parents[3]
ROLE = "arn:aws:iam::123456789012:role/federated"
CALLS: dict[str, Callable[[str], object]] = {
    "GetRoleCredentials": lambda url: aws("sso", url).get_role_credentials(
        roleName="r", accountId="123456789012", accessToken="dummy-token"
    ),
    "CreateToken": lambda url: aws("sso-oidc", url).create_token(
        clientId="c", clientSecret="s", grantType="authorization_code"
    ),
    "GetId": lambda url: aws("cognito-identity", url).get_id(
        IdentityPoolId="us-east-1:00000000-0000-0000-0000-000000000000"
    ),
    "AssumeRoleWithWebIdentity": lambda url: aws("sts", url).assume_role_with_web_identity(
        RoleArn=ROLE, RoleSessionName="session", WebIdentityToken="dummy-token"
    ),
    "AssumeRoleWithSAML": lambda url: aws("sts", url).assume_role_with_saml(
        RoleArn=ROLE,
        PrincipalArn="arn:aws:iam::123456789012:saml-provider/idp",
        SAMLAssertion="PHNhbWw+PC9zYW1sPg==",
    ),
}
"""Every call botocore sends unsigned that identity-loss takes, by operation name."""

MOTOS_ANSWERS = (ClientError, BotoCoreError, ResponseParserError)
"""What a forwarded call may raise: moto has no sso-oidc, no pool for GetId, and reads no
SAML from a dummy assertion (it answers those with an HTML 500)."""


@pytest.fixture(scope="module")
def regional(moto_url: str) -> Iterator[Gateway]:
    """A gateway as a drill in us-east-1 starts it."""
    with Gateway(moto_url, probe_keys=PROBE_KEY_IDS, default_region="us-east-1") as running:
        yield running


def _rules(fault: str) -> list[Rule]:
    """The rules the engine resolves for one fault (``"kind: identity-loss, ..."``) of a
    drill in us-east-1."""
    scenario = Scenario.model_validate(
        {
            "apiVersion": "gameday/v1",
            "metadata": {"name": "unsigned"},
            "target": {"regions": ["us-east-1"]},
            "faults": [{"duration": "30s", **_yaml_map(fault)}],
            "probes": [{"name": "p", "kind": "http", "url": "http://127.0.0.1:9/"}],
            "objectives": [{"kind": "rto", "probe": "p", "target": "1s"}],
        }
    )
    return resolve_rules(scenario)


def _yaml_map(text: str) -> dict[str, object]:
    pairs = (part.split(": ", 1) for part in text.split(", "))  # "kind: identity-loss, ..."
    return {key: value for key, value in pairs}


def _ring_after(admin: GatewayClient, since: int) -> list[RequestRecord]:
    return list(admin.requests(since=since).requests)


def _attempt(call: Callable[[str], object], url: str) -> ClientError | None:
    """The call's error, or None when it was answered with success."""
    try:
        call(url)
    except ClientError as error:
        return error
    return None


def test_identity_loss_fails_every_unsigned_identity_call_in_the_drills_region(
    regional: Gateway,
) -> None:
    admin = GatewayClient(regional.url)
    injector = GatewayInjector(admin, run_id=f"run-{uuid.uuid4().hex[:8]}")
    (rule,) = _rules("kind: identity-loss")
    since = admin.requests().last_seq
    with injector.inject(rule):
        errors = {name: _attempt(call, regional.url) for name, call in CALLS.items()}

    for name, error in errors.items():
        assert error is not None, f"{name} was not failed"
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 503, name
        assert rule.id in str(error), f"{name}: {error}"
    records = _ring_after(admin, since)
    assert {r.operation for r in records} == set(CALLS)
    # Recorded in the region it was matched by, as the app's (unsigned: no probe key).
    assert {(r.region, r.outcome, r.caller) for r in records} == {
        ("us-east-1", Outcome.ERROR, Caller.APP)
    }
    assert injector.matched_calls([rule]) == {rule.id: len(CALLS)}


def test_without_a_default_region_they_name_none_and_no_regional_rule_takes_them(
    gateway: Gateway, admin: GatewayClient
) -> None:
    injector = GatewayInjector(admin, run_id=f"run-{uuid.uuid4().hex[:8]}")
    (rule,) = _rules("kind: identity-loss")
    since = admin.requests().last_seq
    with injector.inject(rule):
        for call in CALLS.values():
            with contextlib.suppress(*MOTOS_ANSWERS):
                call(gateway.url)

    records = _ring_after(admin, since)
    assert {r.operation for r in records} == set(CALLS)
    assert {(r.region, r.fault_id) for r in records} == {(None, None)}
    assert injector.matched_calls([rule]) == {rule.id: 0}


def test_federation_only_fails_the_two_federation_calls_and_nothing_else(
    regional: Gateway,
) -> None:
    admin = GatewayClient(regional.url)
    injector = GatewayInjector(admin, run_id=f"run-{uuid.uuid4().hex[:8]}")
    (rule,) = _rules("kind: identity-loss, federation_only: true")
    since = admin.requests().last_seq
    with injector.inject(rule):
        for call in CALLS.values():
            with contextlib.suppress(*MOTOS_ANSWERS):
                call(regional.url)
        identity = aws("sts", regional.url).get_caller_identity()  # signed: not federation

    assert identity["Account"] == "123456789012"
    faulted = {r.operation: r.fault_id for r in _ring_after(admin, since)}
    assert faulted == {
        "GetRoleCredentials": None,
        "CreateToken": None,
        "GetId": None,
        "AssumeRoleWithWebIdentity": injector_fault_id(injector, rule),
        "AssumeRoleWithSAML": injector_fault_id(injector, rule),
        "GetCallerIdentity": None,
    }
    assert injector.matched_calls([rule]) == {rule.id: 2}


def injector_fault_id(injector: GatewayInjector, rule: Rule) -> str:
    return f"{injector.run_id}.{rule.id}"


def _presigned(url: str, bucket: str) -> str:
    s3 = aws("s3", url)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"kept")
    # boto3's default presigned URL: SigV2 (AWSAccessKeyId=...), no region in it.
    presigned: str = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    assert "AWSAccessKeyId=" in presigned
    return presigned


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_region_loss_fails_a_sigv2_presigned_url_in_the_drills_region_only(
    regional: Gateway,
) -> None:
    admin = GatewayClient(regional.url)
    injector = GatewayInjector(admin, run_id=f"run-{uuid.uuid4().hex[:8]}")
    url = _presigned(regional.url, f"presigned-{uuid.uuid4().hex[:8]}")
    rules = {
        region: _rules(f"name: lost-{region}, kind: region-loss, region: {region}")[0]
        for region in ("us-east-1", "eu-west-1")
    }
    with injector.inject(rules["eu-west-1"]):
        assert _get(url) == (200, b"kept")
    with injector.inject(rules["us-east-1"]):
        status, body = _get(url)
    assert status == 503 and b"ServiceUnavailable" in body
    assert injector.matched_calls(rules.values()) == {rules["us-east-1"].id: 1,
                                                      rules["eu-west-1"].id: 0}  # fmt: skip


@pytest.fixture(scope="module")
def cli_gateway(moto_url: str) -> Iterator[tuple[str, str]]:
    """``gameday gateway --region eu-west-1`` in a subprocess: (its URL, its ready line)."""
    with gateway_process(moto_url, "--region", "eu-west-1") as gateway:
        yield gateway.url, gateway.ready_line


def test_the_standalone_gateway_takes_its_region_from_the_command_line(
    cli_gateway: tuple[str, str],
) -> None:
    url, ready = cli_gateway
    assert ready.endswith("; requests that name no region are in eu-west-1"), ready
    admin = GatewayClient(url)
    (rule,) = _rules("kind: identity-loss")  # the rule is for us-east-1: not this gateway's
    injector = GatewayInjector(admin, run_id="cli")
    with injector.inject(rule):
        assert _attempt(CALLS["AssumeRoleWithWebIdentity"], url) is None
    records: list[Any] = list(admin.requests().requests)
    assert [(r.operation, r.region, r.fault_id) for r in records] == [
        ("AssumeRoleWithWebIdentity", "eu-west-1", None)
    ]


def test_the_standalone_gateway_refuses_a_region_botocore_does_not_know(moto_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gameday", "gateway", "--upstream", moto_url,
         "--listen", "127.0.0.1:0", "--region", "moon-base-1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--region: unknown region 'moon-base-1'" in done.stderr
