"""The calls of gameday's own probes, through the real gateway in front of a real moto server
(and a real LocalStack, when one runs): signed with the probes' access key id
(``PROBE_KEYS``), they are counted in ``probe_counts``, never as the app's; the app's key and
unsigned calls are the app's. Both emulators serve both keys from one account, so a probe
sees what the app made."""

from __future__ import annotations

import contextlib
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from gameday.environments.call_audit import read_call_audit
from gameday.environments.embedded import PROBE_KEY_IDS
from gameday.environments.stage import DUMMY_KEYS, PROBE_KEYS
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import CallCountRecord, Outcome, WatchSpec
from gameday.gateway.thread import Gateway
from gameday.kinds import CallClass
from tests.integration.localstack.conftest import LocalStack, localstack  # noqa: F401

ONCE = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def gateway(moto_url: str) -> Iterator[Gateway]:
    """A fresh gateway told the probes' key: its counts start at zero."""
    with Gateway(moto_url, probe_keys=PROBE_KEY_IDS) as running:
        yield running


def _client(service: str, url: str, keys: tuple[str, str], **config: Any) -> Any:
    # Any: boto3-stubs type client() by literal service name; here the name is a variable.
    session: Any = boto3.session.Session(
        aws_access_key_id=keys[0], aws_secret_access_key=keys[1], region_name="us-east-1"
    )
    return session.client(service, endpoint_url=url, config=ONCE.merge(Config(**config)))


def _tally(rows: tuple[CallCountRecord, ...]) -> dict[tuple[str | None, str | None, str], int]:
    return {(c.service, c.operation, c.outcome.value): c.count for c in rows}


def _table(dynamodb: Any) -> str:
    name = f"probes-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_calls_signed_with_the_probes_key_are_counted_apart(gateway: Gateway) -> None:
    app_sts, probe_sts = (_client("sts", gateway.url, k) for k in (DUMMY_KEYS, PROBE_KEYS))
    # One account for both keys in moto: a probe reads what the app made.
    assert app_sts.get_caller_identity()["Account"] == probe_sts.get_caller_identity()["Account"]
    table = _table(_client("dynamodb", gateway.url, DUMMY_KEYS))
    probe_dynamodb = _client("dynamodb", gateway.url, PROBE_KEYS)
    assert probe_dynamodb.describe_table(TableName=table)["Table"]["TableName"] == table
    probe_dynamodb.describe_table(TableName=table)

    page = GatewayClient(gateway.url).calls()
    assert _tally(page.counts) == {
        ("sts", "GetCallerIdentity", "forwarded"): 1,
        ("dynamodb", "CreateTable", "forwarded"): 1,
    }
    assert _tally(page.probe_counts) == {
        ("sts", "GetCallerIdentity", "forwarded"): 1,
        ("dynamodb", "DescribeTable", "forwarded"): 2,
    }


def test_a_presigned_url_with_the_probes_key_is_the_probes(gateway: Gateway) -> None:
    bucket = f"probes-{uuid.uuid4().hex[:8]}"
    app_s3 = _client("s3", gateway.url, DUMMY_KEYS)
    app_s3.create_bucket(Bucket=bucket)
    app_s3.put_object(Bucket=bucket, Key="k", Body=b"kept")
    urls = [
        _client("s3", gateway.url, PROBE_KEYS, signature_version=version).generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "k"}
        )
        for version in ("s3v4", "s3")  # SigV4 (X-Amz-Credential) and SigV2 (AWSAccessKeyId)
    ]
    for url in urls:
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert answer.read() == b"kept"

    page = GatewayClient(gateway.url).calls()
    assert _tally(page.probe_counts) == {("s3", "GetObject", "forwarded"): 2}
    assert ("s3", "GetObject", "forwarded") not in _tally(page.counts)


def test_an_unsigned_call_is_the_apps(gateway: Gateway) -> None:
    sts = _client("sts", gateway.url, DUMMY_KEYS, signature_version=UNSIGNED)
    with contextlib.suppress(ClientError):  # answered or not, it was a call
        sts.assume_role_with_web_identity(
            RoleArn="arn:aws:iam::123456789012:role/nobody",
            RoleSessionName="session",
            WebIdentityToken="not-a-token",
        )
    page = GatewayClient(gateway.url).calls()
    assert [(c.operation, c.call_class) for c in page.counts] == [
        ("AssumeRoleWithWebIdentity", CallClass.WRITE)
    ]
    assert page.probe_counts == ()


def test_a_probes_destructive_call_is_denied_but_not_the_apps(gateway: Gateway) -> None:
    table = _table(_client("dynamodb", gateway.url, DUMMY_KEYS))
    admin = GatewayClient(gateway.url)
    admin.add_watch(WatchSpec(id="run-1", ttl_seconds=60, deny_destructive=True))
    probe_dynamodb = _client("dynamodb", gateway.url, PROBE_KEYS)
    with pytest.raises(ClientError) as denied:
        probe_dynamodb.delete_table(TableName=table)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert probe_dynamodb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"

    page = admin.calls()
    assert page.destructive == () and page.last_seq == 0
    assert {(c.operation, c.outcome, c.call_class): c.count for c in page.probe_counts} == {
        ("DeleteTable", Outcome.DENIED, CallClass.DESTRUCTIVE): 1,
        ("DescribeTable", Outcome.FORWARDED, CallClass.READ): 1,
    }
    assert all(c.call_class is not CallClass.DESTRUCTIVE for c in page.counts)


def test_the_run_audit_reads_the_probes_calls_apart_and_less_a_baseline(gateway: Gateway) -> None:
    admin = GatewayClient(gateway.url)
    app_sts, probe_sts = (_client("sts", gateway.url, k) for k in (DUMMY_KEYS, PROBE_KEYS))
    probe_sts.get_caller_identity()
    before = read_call_audit(admin, _no_note, now=time.monotonic)
    assert [(c.operation, c.count) for c in before.probe_counts] == [("GetCallerIdentity", 1)]
    app_sts.get_caller_identity()
    probe_sts.get_caller_identity()
    probe_sts.get_caller_identity()

    audit = read_call_audit(admin, _no_note, now=time.monotonic, baseline=before)
    assert [(c.operation, c.call_class, c.count) for c in audit.counts] == [
        ("GetCallerIdentity", CallClass.READ, 1)
    ]
    assert [(c.operation, c.count) for c in audit.probe_counts] == [("GetCallerIdentity", 2)]
    assert audit.probe_by_class()[CallClass.READ] == 2


def _no_note(kind: str, detail: str) -> None:
    raise AssertionError(f"{kind}: {detail}")


@pytest.mark.localstack
def test_localstack_serves_both_keys_from_one_account(localstack: LocalStack) -> None:  # noqa: F811
    with Gateway(localstack.url, probe_keys=PROBE_KEY_IDS) as gateway:
        app_logs, probe_logs = (_client("logs", gateway.url, k) for k in (DUMMY_KEYS, PROBE_KEYS))
        group = f"/gameday/probes-{uuid.uuid4().hex[:8]}"
        app_logs.create_log_group(logGroupName=group)
        try:
            found = probe_logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
            assert [g["logGroupName"] for g in found] == [group]
            accounts = {
                _client("sts", gateway.url, keys).get_caller_identity()["Account"]
                for keys in (DUMMY_KEYS, PROBE_KEYS)
            }
            assert len(accounts) == 1
        finally:
            app_logs.delete_log_group(logGroupName=group)
        page = GatewayClient(gateway.url).calls()
    assert _tally(page.counts) == {
        ("logs", "CreateLogGroup", "forwarded"): 1,
        ("logs", "DeleteLogGroup", "forwarded"): 1,
        ("sts", "GetCallerIdentity", "forwarded"): 1,
    }
    assert _tally(page.probe_counts) == {
        ("logs", "DescribeLogGroups", "forwarded"): 1,
        ("sts", "GetCallerIdentity", "forwarded"): 1,
    }
