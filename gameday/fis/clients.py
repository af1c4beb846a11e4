"""boto3 clients for the fis injector, made so that ``AWS_ENDPOINT_URL`` always wins.

boto3 reads ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_<SERVICE>``) by itself when a client
is made without ``endpoint_url``; passing ``endpoint_url=None`` would be the same, but passing
anything else would override it. So no client here is given an endpoint: tests point the
variable at a moto server on loopback, and nothing reaches a real endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

import boto3
from botocore.config import Config

FIS_TIMEOUTS = Config(connect_timeout=5, read_timeout=20)
"""Each FIS call is bounded: botocore's default 60 s read timeout, times its own attempts,
inside each of gameday's retries, would let a blackholed endpoint hold a rollback for
minutes. FIS answers in well under a second; retries are gameday's (gameday.fis.calls)."""

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_fis import FISClient
    from mypy_boto3_sts import STSClient


class ResiliencyPolicyReader(Protocol):
    """The one Resilience Hub call gameday makes (boto3-stubs has no resiliencehub types here)."""

    def describe_resiliency_policy(self, *, policyArn: str) -> dict[str, Any]:
        """The policy with ``policyArn``: ``{"policy": {"policy": {...}, ...}}``."""
        ...


class AwsClients:
    """Makes the clients one region needs, from one boto3 session.

    >>> clients = AwsClients("us-east-1")
    >>> clients.fis().list_experiments()
    """

    def __init__(self, region: str, session: boto3.Session | None = None) -> None:
        self.region = region
        self.session = session or boto3.Session()

    def fis(self) -> FISClient:
        """An FIS client in the experiment region."""
        return self.session.client("fis", region_name=self.region, config=FIS_TIMEOUTS)

    def sts(self) -> STSClient:
        """An STS client in the experiment region (for GetCallerIdentity)."""
        return self.session.client("sts", region_name=self.region)

    def cloudwatch(self, region: str | None = None) -> CloudWatchClient:
        """A CloudWatch client in ``region`` (an alarm ARN's) or the experiment region."""
        return self.session.client(
            "cloudwatch", region_name=region or self.region, config=FIS_TIMEOUTS
        )

    def resiliencehub(self, region: str | None = None) -> ResiliencyPolicyReader:
        """A Resilience Hub client, in ``region`` (a policy ARN's) or the experiment region."""
        client = self.session.client("resiliencehub", region_name=region or self.region)
        return cast("ResiliencyPolicyReader", client)
