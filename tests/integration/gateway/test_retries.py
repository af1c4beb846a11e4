"""botocore's own retry rules applied to injected errors, counted in the request ring.

Each mode keeps its default number of attempts and its real backoff sleeps (nothing patched):
legacy's are long (DynamoDB's ten attempts sleep about 25 s in all), so every case runs at
once in its own thread, each with a fault scoped to a region of its own.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient
from gameday.gateway.thread import Gateway
from tests.integration.gateway.helpers import aws, fault


@dataclass(frozen=True)
class Case:
    retry_mode: str
    service: str
    mode: Mode
    attempts: int

    @property
    def id(self) -> str:
        return f"{self.retry_mode}-{self.service}-{self.mode}"


CASES = [
    Case("legacy", "sts", Mode.THROTTLE, 5),
    Case("legacy", "sts", Mode.UNAVAILABLE, 5),
    Case("legacy", "dynamodb", Mode.THROTTLE, 10),
    Case("standard", "sts", Mode.THROTTLE, 3),
    Case("standard", "sts", Mode.UNAVAILABLE, 3),
    # botocore/retries/standard.py _SERVICE_MAX_ATTEMPTS: DynamoDB gets 4 in standard mode.
    Case("standard", "dynamodb", Mode.THROTTLE, 4),
    Case("adaptive", "sts", Mode.THROTTLE, 3),
    Case("adaptive", "sts", Mode.UNAVAILABLE, 3),
    *(
        Case(retry_mode, "sts", mode, 1)
        for retry_mode in ("legacy", "standard", "adaptive")
        for mode in (Mode.DENIED, Mode.EXPIRED_TOKEN)
    ),
]

REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-central-1", "eu-north-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
    "ap-northeast-1", "ap-northeast-2", "sa-east-1", "ca-central-1",
]  # fmt: skip


def _call(client: Any, service: str) -> None:
    if service == "sts":
        client.get_caller_identity()
    else:
        client.list_tables()


@pytest.mark.slow
def test_each_retry_mode_retries_what_it_should_as_often_as_it_should(
    gateway: Gateway, admin: GatewayClient
) -> None:
    assert len(REGIONS) >= len(CASES)
    since = admin.requests().last_seq
    clients = []
    for case, region in zip(CASES, REGIONS, strict=False):
        admin.add(fault(case.id, case.mode, services=(case.service,), regions=(region,)))
        # attempts=None: the mode's own default number of attempts.
        client = aws(case.service, gateway.url, region=region, retry_mode=case.retry_mode,
                     attempts=None)  # fmt: skip
        clients.append(client)

    def run(index: int) -> int:
        with pytest.raises(ClientError) as raised:
            _call(clients[index], CASES[index].service)
        # What botocore itself counted: attempts = retries + 1.
        return int(raised.value.response["ResponseMetadata"]["RetryAttempts"]) + 1

    with ThreadPoolExecutor(len(CASES)) as pool:
        botocore_counts = list(pool.map(run, range(len(CASES))))

    records = admin.requests(since).requests
    counted = {case.id: sum(1 for r in records if r.fault_id == case.id) for case in CASES}
    assert counted == {case.id: case.attempts for case in CASES}
    assert botocore_counts == [case.attempts for case in CASES]
