"""Requests that name no region: botocore's own unsigned identity calls read their region from
the real AWS host they are sent to (as the egress proxy sees them), and through a gateway at
``AWS_ENDPOINT_URL`` (a loopback Host) they name none and are taken to be in the gateway's
default region (``assume_region``), so the identity-loss rules the engine resolves match them.
Also: who made a call, in the request ring and in the per-fault counters."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from gameday.faults.rules import Rule, resolve_rules
from gameday.gateway.classify import RequestInfo, assume_region, classify
from gameday.gateway.ledger import CallLedger
from gameday.gateway.metrics import GatewayMetrics, calls_by_fault
from gameday.gateway.models import Caller, Outcome
from gameday.gateway.store import ActiveFault, RequestLog
from gameday.injectors.gateway import fault_spec
from gameday.scenario.models import Scenario
from tests.unit.gateway._botocore import CREDENTIALS, Captured, capture, client

# (service, method, params): each sent unsigned by botocore (authtype none in its model).
UNSIGNED_IDENTITY_CALLS: list[tuple[str, str, dict[str, object]]] = [
    ("sso", "get_role_credentials", {"roleName": "r", "accountId": "1" * 12, "accessToken": "t"}),
    ("sso-oidc", "create_token", {"clientId": "c", "clientSecret": "s", "grantType": "code"}),
    ("cognito-identity", "get_id", {"IdentityPoolId": "eu-west-1:0000"}),
    (
        "sts",
        "assume_role_with_web_identity",
        {
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "RoleSessionName": "session",
            "WebIdentityToken": "token",
        },
    ),
    (
        "sts",
        "assume_role_with_saml",
        {
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "PrincipalArn": "arn:aws:iam::123456789012:saml-provider/p",
            "SAMLAssertion": "x" * 8,
        },
    ),
]


def _aws_host(service: str, region: str) -> str:
    """The host botocore resolves for ``service`` in ``region``: made offline, nothing sent."""
    # conftest sets AWS_ENDPOINT_URL, which botocore would use instead of AWS's own hosts
    # (the option is missing from botocore-stubs).
    config = Config(ignore_configured_endpoint_urls=True)  # type: ignore[call-arg]
    session: Any = boto3.session.Session()  # Any: the service name is a variable
    made = session.client(service, region_name=region, config=config)
    return str(urlsplit(made.meta.endpoint_url).netloc)


def _classify(request: Captured, host: str | None = None) -> RequestInfo:
    headers = {**request.headers, **({"Host": host} if host else {})}
    return classify(request.method, request.path, request.query, headers, request.body)


def _rules(fault: dict[str, object], regions: tuple[str, ...] = ("eu-west-1",)) -> list[Rule]:
    scenario = Scenario.model_validate(
        {
            "apiVersion": "gameday/v1",
            "metadata": {"name": "identity"},
            "target": {"regions": list(regions)},
            "faults": [{"duration": "10s", **fault}],
            "probes": [{"name": "p", "kind": "http", "url": "http://127.0.0.1:9/"}],
            "objectives": [{"kind": "rto", "probe": "p", "target": "1s"}],
        }
    )
    return resolve_rules(scenario)


def _compiled(rule: Rule) -> ActiveFault:
    return ActiveFault.compile(fault_spec(rule, "run-1"), now=0.0)


@pytest.mark.parametrize(("service", "method", "params"), UNSIGNED_IDENTITY_CALLS)
def test_an_unsigned_identity_call_names_its_region_only_in_a_real_host(
    service: str, method: str, params: dict[str, object]
) -> None:
    request = capture(service, method, params)
    through_gateway = _classify(request)  # Host: 127.0.0.1:9, as AWS_ENDPOINT_URL sends it
    assert through_gateway.classified and through_gateway.signing_name is None
    assert through_gateway.access_key_id is None  # unsigned: the app's, whoever sent it
    assert through_gateway.region is None
    assert assume_region(through_gateway, "eu-west-1").region == "eu-west-1"

    host = _aws_host(service, "ap-southeast-2")
    at_aws = _classify(request, host)  # what the egress proxy sees
    assert at_aws.region == "ap-southeast-2", host
    # A region the request names is kept: the default is for requests that name none.
    assert assume_region(at_aws, "eu-west-1").region == "ap-southeast-2"


def test_the_global_sts_endpoint_is_us_east_1() -> None:
    host = _aws_host("sts", "aws-global")
    assert host == "sts.amazonaws.com"
    request = capture("sts", UNSIGNED_IDENTITY_CALLS[3][1], UNSIGNED_IDENTITY_CALLS[3][2])
    assert _classify(request, host).region == "us-east-1"


@pytest.mark.parametrize(("service", "method", "params"), UNSIGNED_IDENTITY_CALLS)
def test_identity_loss_as_the_engine_resolves_it_takes_the_call_in_the_default_region(
    service: str, method: str, params: dict[str, object]
) -> None:
    (rule,) = _rules({"kind": "identity-loss"})
    fault = _compiled(rule)
    info = _classify(capture(service, method, params))

    assert not fault.applies_to(info)  # the reviewer's finding: no region, no match
    assert fault.applies_to(assume_region(info, "eu-west-1"))
    assert not fault.applies_to(assume_region(info, "us-west-2"))  # not the drill's region


def test_federation_only_takes_the_two_federation_calls_alone() -> None:
    (rule,) = _rules({"kind": "identity-loss", "federation_only": True})
    fault = _compiled(rule)
    taken = {
        method
        for service, method, params in UNSIGNED_IDENTITY_CALLS
        if fault.applies_to(assume_region(_classify(capture(service, method, params)), "eu-west-1"))
    }
    assert taken == {"assume_role_with_web_identity", "assume_role_with_saml"}
    signed = _classify(capture("sts", "get_caller_identity", region="eu-west-1"))
    assert signed.region == "eu-west-1" and not fault.applies_to(signed)


def test_a_request_that_names_a_region_or_several_keeps_what_it_names() -> None:
    signed = _classify(capture("sts", "get_caller_identity", region="eu-west-1"))
    assert assume_region(signed, "us-east-1").region == "eu-west-1"
    sigv4a = classify(
        "GET",
        "/b/k",
        "",
        {
            "Host": "127.0.0.1:9",
            "Authorization": "AWS4-ECDSA-P256-SHA256 Credential=AKID/20260101/s3/aws4_request, "
            "SignedHeaders=host, Signature=00",
            "X-Amz-Region-Set": "*",
        },
    )
    assert sigv4a.signing_name == "s3" and sigv4a.region is None
    assert assume_region(sigv4a, "us-east-1").region is None
    unsigned = _classify(capture(*UNSIGNED_IDENTITY_CALLS[0]))
    assert assume_region(unsigned, None) is unsigned


def test_a_sigv2_presigned_url_is_in_the_default_region_and_region_loss_takes_it() -> None:
    s3 = cast(Any, client("s3"))  # boto3's default presign: SigV2, no region in it
    url = urlsplit(s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}))
    assert "AWSAccessKeyId=" in url.query
    info = classify("GET", url.path, url.query, {"Host": url.netloc})
    assert (info.service, info.operation, info.region) == ("s3", "GetObject", None)
    (lost,) = _rules({"kind": "region-loss", "region": "eu-west-1"})
    assert not _compiled(lost).applies_to(info)
    assert _compiled(lost).applies_to(assume_region(info, "eu-west-1"))


def test_the_ring_records_who_called_and_the_region_matched_by() -> None:
    ledger = CallLedger(probe_keys=frozenset({"gameday-probe"}))
    app = assume_region(_classify(capture(*UNSIGNED_IDENTITY_CALLS[3])), "eu-west-1")
    probe = RequestInfo("sts", "eu-west-1", "GetCallerIdentity", None,
                        signing_name="sts", access_key_id="gameday-probe")  # fmt: skip
    signed_app = _classify(capture("sts", "get_caller_identity"))
    assert signed_app.access_key_id == CREDENTIALS.access_key
    log = RequestLog(wall_clock=lambda: 0.0)
    for info in (app, probe, signed_app):
        log.record("POST", info, 503, Outcome.ERROR, "f", 0.001, ledger.caller_of(info))
    log.record("GET", None, 400, Outcome.REFUSED, None, 0.0)
    records = log.page().requests
    assert [(r.operation, r.region, r.caller) for r in records] == [
        ("AssumeRoleWithWebIdentity", "eu-west-1", Caller.APP),
        ("GetCallerIdentity", "eu-west-1", Caller.PROBE),
        ("GetCallerIdentity", "us-east-1", Caller.APP),
        (None, None, Caller.APP),
    ]


def test_matched_calls_by_caller_and_from_a_gateway_that_cannot_tell_callers_apart() -> None:
    metrics = GatewayMetrics(fault_count=lambda: 1)
    for caller in (Caller.APP, Caller.PROBE, Caller.PROBE):
        metrics.observe("sts", "GetCallerIdentity", Outcome.ERROR, "a", 0.001, caller)
    metrics.observe("sts", "GetCallerIdentity", Outcome.ERROR, "b", 0.001, Caller.PROBE)
    metrics.observe("sts", "GetCallerIdentity", Outcome.FORWARDED, None, 0.001, Caller.APP)
    text = metrics.render().decode()

    assert calls_by_fault(text) == {"a": 3, "b": 1}  # every caller, as before
    assert calls_by_fault(text, Caller.APP) == {"a": 1}
    assert calls_by_fault(text, Caller.PROBE) == {"a": 2, "b": 1}
    # The requests counter keeps its labels: the caller is on the new counter only.
    assert 'caller="' not in "".join(
        line for line in text.splitlines() if line.startswith("gameday_gateway_requests_total")
    )
    older = "\n".join(line for line in text.splitlines() if "fault_calls" not in line) + "\n"
    assert calls_by_fault(older, Caller.APP) == {"a": 3, "b": 1}
