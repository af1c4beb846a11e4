"""What the app did, through the real gateway in front of a real moto server (issue 17).

Every call is counted by service, operation, outcome and class at ``/_gameday/calls``, each
destructive one kept with its resource; with ``deny_destructive`` the gateway answers it with
the AccessDenied of the request's own protocol, as botocore reads it, and nothing is
destroyed in the emulator.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gameday.gateway.client import GatewayClient
from gameday.gateway.models import CallsPage, Outcome
from gameday.gateway.thread import Gateway
from gameday.kinds import CallClass
from tests.integration.gateway.helpers import aws


@pytest.fixture(scope="module")
def denying(moto_url: str) -> Iterator[Gateway]:
    with Gateway(moto_url, deny_destructive=True) as running:
        yield running


@pytest.fixture
def counting(moto_url: str) -> Iterator[Gateway]:
    """A fresh gateway: its counts start at zero."""
    with Gateway(moto_url) as running:
        yield running


def _table(client: Any) -> str:
    name = f"audit-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _counts(page: CallsPage) -> dict[tuple[str | None, str | None, str], tuple[CallClass, int]]:
    return {(c.service, c.operation, c.outcome.value): (c.call_class, c.count) for c in page.counts}


def test_every_call_is_counted_by_class_and_a_destructive_one_is_kept(
    counting: Gateway, moto_url: str
) -> None:
    dynamodb = aws("dynamodb", counting.url)
    table = _table(dynamodb)
    dynamodb.put_item(TableName=table, Item={"id": {"S": "1"}})
    dynamodb.get_item(TableName=table, Key={"id": {"S": "1"}})
    dynamodb.get_item(TableName=table, Key={"id": {"S": "1"}})
    dynamodb.delete_table(TableName=table)

    page = GatewayClient(counting.url).calls()
    counts = _counts(page)
    assert counts[("dynamodb", "GetItem", "forwarded")] == (CallClass.READ, 2)
    assert counts[("dynamodb", "PutItem", "forwarded")] == (CallClass.WRITE, 1)
    assert counts[("dynamodb", "CreateTable", "forwarded")] == (CallClass.WRITE, 1)
    assert counts[("dynamodb", "DeleteTable", "forwarded")] == (CallClass.DESTRUCTIVE, 1)
    (call,) = page.destructive
    assert (call.service, call.operation, call.resource) == ("dynamodb", "DeleteTable", table)
    assert call.outcome is Outcome.FORWARDED and call.region == "us-east-1"
    assert not page.deny_destructive
    # Without deny_destructive the call reached the emulator: the table is gone.
    assert table not in aws("dynamodb", moto_url).list_tables()["TableNames"]


def test_destructive_calls_are_read_after_a_sequence_number(counting: Gateway) -> None:
    dynamodb = aws("dynamodb", counting.url)
    first, second = _table(dynamodb), _table(dynamodb)
    client = GatewayClient(counting.url)
    dynamodb.delete_table(TableName=first)
    page = client.calls()
    assert [c.resource for c in page.destructive] == [first]
    dynamodb.delete_table(TableName=second)
    later = client.calls(since=page.last_seq)
    assert [c.resource for c in later.destructive] == [second]
    assert client.calls(since=later.last_seq).destructive == ()


def _denied(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_deny_destructive_refuses_in_each_protocol_and_nothing_is_destroyed(
    denying: Gateway, moto_url: str
) -> None:
    direct = {service: aws(service, moto_url) for service in ("dynamodb", "s3", "sqs")}
    table = _table(direct["dynamodb"])
    bucket = f"audit-{uuid.uuid4().hex[:8]}"
    direct["s3"].create_bucket(Bucket=bucket)
    queue = direct["sqs"].create_queue(QueueName=bucket)["QueueUrl"]

    with pytest.raises(ClientError) as json_error:  # json
        aws("dynamodb", denying.url).delete_table(TableName=table)
    assert _denied(json_error) == ("AccessDeniedException", 403)
    with pytest.raises(ClientError) as xml_error:  # rest-xml
        aws("s3", denying.url).delete_bucket(Bucket=bucket)
    assert _denied(xml_error) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as query_error:  # query
        aws("cloudformation", denying.url).delete_stack(StackName="prod")
    assert _denied(query_error) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as ec2_error:  # ec2
        aws("ec2", denying.url).terminate_instances(InstanceIds=["i-0123456789abcdef0"])
    assert _denied(ec2_error)[0] == "AccessDenied"
    # Reading is untouched, and so is the queue's own acknowledgement (not destructive).
    assert aws("dynamodb", denying.url).describe_table(TableName=table)["Table"]["TableName"]
    aws("sqs", denying.url).send_message(QueueUrl=queue, MessageBody="m")
    message = aws("sqs", denying.url).receive_message(QueueUrl=queue)["Messages"][0]
    aws("sqs", denying.url).delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

    # Nothing was destroyed in the emulator.
    assert table in direct["dynamodb"].list_tables()["TableNames"]
    assert bucket in [b["Name"] for b in direct["s3"].list_buckets()["Buckets"]]

    page = GatewayClient(denying.url).calls()
    assert page.deny_destructive
    refused = {(c.service, c.operation): c for c in page.destructive}
    assert refused[("dynamodb", "DeleteTable")].resource == table
    assert refused[("s3", "DeleteBucket")].resource == bucket
    assert refused[("cloudformation", "DeleteStack")].resource == "prod"
    assert refused[("ec2", "TerminateInstances")].resource == "i-0123456789abcdef0"
    assert all(c.outcome is Outcome.DENIED for c in page.destructive)
    counts = _counts(page)
    assert counts[("dynamodb", "DeleteTable", "denied")][0] is CallClass.DESTRUCTIVE
    assert counts[("sqs", "DeleteMessage", "forwarded")][0] is CallClass.WRITE
