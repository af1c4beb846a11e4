"""The endpoint host table agrees with botocore's own endpoint resolution; ISO durations."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from gameday.errors import InvalidInputError
from gameday.faults.catalog import KIND_SERVICES
from gameday.fis.endpoints import GLOBAL_HOSTS, REGIONAL_HOSTS, endpoint_hosts, sources_text
from gameday.fis.iso import iso_duration, parse_iso_duration
from gameday.scenario.models import FaultKind

# The catalog's name that botocore knows by another; the registry's v2 API has no model at all.
_BOTOCORE = {"monitoring": "cloudwatch"}
_MODELLED = sorted(s for s in REGIONAL_HOSTS if s != "registry")


def _resolved(service: str, region: str) -> str:
    # ignore_configured_endpoint_urls: resolve as in a real account, despite AWS_ENDPOINT_URL.
    # botocore has had ignore_configured_endpoint_urls since 1.31; its stubs lag behind.
    config = Config(ignore_configured_endpoint_urls=True)  # type: ignore[call-arg]
    # The stubs type each service by a literal name; these names come from a table.
    client = boto3.client(service, region_name=region, config=config)  # type: ignore[call-overload]
    return str(client.meta.endpoint_url).removeprefix("https://")


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
@pytest.mark.parametrize("service", _MODELLED)
def test_regional_hosts_are_botocores(service: str, region: str) -> None:
    [pattern] = REGIONAL_HOSTS[service]
    assert pattern.format(region=region) == _resolved(_BOTOCORE.get(service, service), region)


@pytest.mark.parametrize("service", ["iam", "route53", "cloudfront", "organizations"])
def test_global_hosts_are_botocores(service: str) -> None:
    assert GLOBAL_HOSTS[service][0] == _resolved(service, "eu-west-1")


def test_every_catalog_service_of_a_loss_kind_has_hosts() -> None:
    for kind in (FaultKind.IDENTITY_LOSS, FaultKind.LOGGING_LOSS, FaultKind.REGISTRY_LOSS):
        assert endpoint_hosts(KIND_SERVICES[kind], ["us-east-1"], ("123456789012",))


def test_global_endpoints_go_with_us_east_1_only() -> None:
    assert endpoint_hosts(["sts", "iam"], ["eu-west-1"]) == ("sts.eu-west-1.amazonaws.com",)
    assert endpoint_hosts(["sts", "iam"], ["us-east-1"]) == (
        "iam.amazonaws.com",
        "sts.amazonaws.com",
        "sts.us-east-1.amazonaws.com",
    )


def test_registry_hosts_need_an_account_and_unknown_services_are_refused() -> None:
    assert endpoint_hosts(["registry"], ["eu-west-1"], ("111122223333",)) == (
        "111122223333.dkr.ecr.eu-west-1.amazonaws.com",
    )
    with pytest.raises(InvalidInputError, match=r"registry loss needs the registry's account"):
        endpoint_hosts(["registry"], ["eu-west-1"])
    with pytest.raises(InvalidInputError, match="no endpoint host names known for service 'sqs'"):
        endpoint_hosts(["sqs"], ["eu-west-1"])


def test_sources_past_fis_limit_are_refused() -> None:
    hosts = tuple(f"host-{i}.example.com" for i in range(60))
    with pytest.raises(InvalidInputError, match="FIS takes at most 1024"):
        sources_text(hosts, "f")
    assert sources_text(hosts[:2], "f") == "host-0.example.com,host-1.example.com"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "PT0S"),
        (20, "PT20S"),
        (60, "PT1M"),
        (90, "PT1M30S"),
        (3600, "PT1H"),
        (4000.2, "PT1H6M41S"),
    ],
)
def test_iso_durations_round_up_to_whole_seconds(seconds: float, text: str) -> None:
    assert iso_duration(seconds) == text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT5M", 300), ("PT0H2M0S", 120), ("PT1H30M", 5400), ("PT0.5S", 0.5), ("P1D", 86400)],
)
def test_iso_durations_parse(text: str, seconds: float) -> None:
    assert parse_iso_duration(text) == seconds


@pytest.mark.parametrize("text", ["5m", "PT", "P", "PT5", "1PT", "PT1M2H"])
def test_bad_iso_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not an ISO 8601 duration"):
        parse_iso_duration(text)
