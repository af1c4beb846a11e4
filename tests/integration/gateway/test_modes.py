"""Every error mode, for services of every wire protocol, as the real boto3 client reads it.

The expected codes come from DESIGN.md's mode table and issue 3, written out here by hand
(not computed by the gateway's own wire module), so a wrong preset fails here.
"""

from __future__ import annotations

import botocore.session
import pytest
from botocore.exceptions import ClientError

from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient
from gameday.gateway.thread import Gateway
from tests.integration.gateway.helpers import CALLS, aws, fault

# family -> mode -> (code, HTTP status)
EXPECTED: dict[str, dict[Mode, tuple[str, int]]] = {
    "query": {
        Mode.THROTTLE: ("Throttling", 400),
        Mode.UNAVAILABLE: ("ServiceUnavailable", 503),
        Mode.INTERNAL: ("InternalFailure", 500),
        Mode.DENIED: ("AccessDenied", 403),
        Mode.EXPIRED_TOKEN: ("ExpiredToken", 400),
    },
    "ec2": {
        Mode.THROTTLE: ("RequestLimitExceeded", 503),
        Mode.UNAVAILABLE: ("ServiceUnavailable", 503),
        Mode.INTERNAL: ("InternalError", 500),
        Mode.DENIED: ("AccessDenied", 403),
        Mode.EXPIRED_TOKEN: ("ExpiredToken", 400),
    },
    "json": {
        Mode.THROTTLE: ("ThrottlingException", 400),
        Mode.UNAVAILABLE: ("ServiceUnavailable", 503),
        Mode.INTERNAL: ("InternalFailure", 500),
        Mode.DENIED: ("AccessDeniedException", 403),
        Mode.EXPIRED_TOKEN: ("ExpiredTokenException", 400),
    },
    "s3": {
        Mode.THROTTLE: ("SlowDown", 503),
        Mode.UNAVAILABLE: ("ServiceUnavailable", 503),
        Mode.INTERNAL: ("InternalError", 500),
        Mode.DENIED: ("AccessDenied", 403),
        Mode.EXPIRED_TOKEN: ("ExpiredToken", 400),
    },
}
EXPECTED["dynamodb"] = {
    **EXPECTED["json"],
    Mode.THROTTLE: ("ProvisionedThroughputExceededException", 400),
}

ERROR_MODES = [Mode.THROTTLE, Mode.UNAVAILABLE, Mode.INTERNAL, Mode.DENIED, Mode.EXPIRED_TOKEN]


def expected(service: str, family: str, mode: Mode) -> tuple[str, int]:
    code, status = EXPECTED[family][mode]
    if mode is Mode.UNAVAILABLE and family in ("json", "dynamodb"):
        # A json service that models its own ServiceUnavailableException (CloudWatch Logs)
        # gets that, so its SDKs raise their typed exception.
        model = botocore.session.get_session().get_service_model(service)
        if "ServiceUnavailableException" in {shape.name for shape in model.error_shapes}:
            code = "ServiceUnavailableException"
    return code, status


@pytest.mark.parametrize("mode", ERROR_MODES, ids=str)
@pytest.mark.parametrize("service", sorted(CALLS))
def test_error_mode_reaches_boto3_with_its_code_and_status(
    gateway: Gateway, admin: GatewayClient, service: str, mode: Mode
) -> None:
    call, operation, family = CALLS[service]
    client = aws(service, gateway.url)
    since = admin.requests().last_seq
    admin.add(fault(f"{service}-{mode}", mode, services=(service,)))

    with pytest.raises(ClientError) as raised:
        call(client)

    code, status = expected(service, family, mode)
    error = raised.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    [seen] = admin.requests(since).requests
    assert (seen.service, seen.operation, seen.fault_id, seen.status) == (
        service,
        operation,
        f"{service}-{mode}",
        status,
    )


@pytest.mark.parametrize("service", ["sts", "logs", "s3"])
def test_status_and_code_override(gateway: Gateway, admin: GatewayClient, service: str) -> None:
    call, _, _ = CALLS[service]
    admin.add(fault("custom", Mode.UNAVAILABLE, services=(service,), status=429, code="TooBusy"))

    with pytest.raises(ClientError) as raised:
        call(aws(service, gateway.url))

    error = raised.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("TooBusy", 429)


def test_head_request_gets_the_status_without_a_body(
    gateway: Gateway, admin: GatewayClient
) -> None:
    # HTTP forbids a body on HEAD; botocore then names the error by its status.
    admin.add(fault("head", Mode.DENIED, services=("s3",), operations=("HeadBucket",)))

    with pytest.raises(ClientError) as raised:
        aws("s3", gateway.url).head_bucket(Bucket="any-bucket")

    error = raised.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("403", 403)
