"""The resource a destructive call names, read from the requests botocore itself builds, in
each wire protocol (docs/audit.md "Resource names")."""

from __future__ import annotations

from typing import Any

import pytest

from gameday.gateway.classify import Protocol, RequestInfo
from gameday.gateway.resource_name import MAX_CHARS, resource_name
from tests.unit.gateway._botocore import capture

IMAGE = {"imageTag": "v1"}
POLICY = "arn:aws:iam::123456789012:policy/app"


def _named(service: str, method: str, params: dict[str, Any], **client_args: Any) -> str | None:
    request = capture(service, method, params, **client_args)
    info = request.classify()
    host = request.headers.get("Host", "")
    return resource_name(info, request.method, request.path, request.query, request.body, host)


@pytest.mark.parametrize(
    ("service", "method", "params", "expected"),
    [
        # json: the first required string member of the body
        ("dynamodb", "delete_table", {"TableName": "orders"}, "orders"),
        ("ecs", "delete_service", {"cluster": "prod", "service": "web"}, "web"),
        ("logs", "delete_log_group", {"logGroupName": "/app/orders"}, "/app/orders"),
        (
            "ecr",
            "batch_delete_image",
            {"repositoryName": "app", "imageIds": [{"imageTag": "v1"}]},
            "app",
        ),
        # query: form fields
        ("cloudformation", "delete_stack", {"StackName": "prod"}, "prod"),
        ("rds", "delete_db_instance", {"DBInstanceIdentifier": "db-1"}, "db-1"),
        (
            "iam",
            "detach_role_policy",
            {"RoleName": "app", "PolicyArn": "arn:aws:iam::1:policy/x"},
            "app",
        ),
        # ec2: numbered list members; a call with no required member names its GroupId
        ("ec2", "terminate_instances", {"InstanceIds": ["i-1", "i-2"]}, "i-1,i-2"),
        ("ec2", "revoke_security_group_ingress", {"GroupId": "sg-1"}, "sg-1"),
        # rest-json: URI labels, joined with /
        ("lambda", "delete_function", {"FunctionName": "resize"}, "resize"),
        ("eks", "delete_nodegroup", {"clusterName": "c1", "nodegroupName": "ng"}, "c1/ng"),
        # rest-xml: bucket and key from the URI (path-style)
        ("s3", "delete_bucket", {"Bucket": "my-bucket"}, "my-bucket"),
        ("s3", "delete_object", {"Bucket": "my-bucket", "Key": "a/b.txt"}, "my-bucket/a/b.txt"),
    ],
)
def test_the_resource_a_call_names(
    service: str, method: str, params: dict[str, Any], expected: str
) -> None:
    args = {"addressing": "path"} if service == "s3" else {}
    assert _named(service, method, params, **args) == expected


def test_a_virtual_hosted_s3_call_names_its_bucket_from_the_host() -> None:
    endpoint = "http://s3.localhost:9"  # a name, not an address: botocore puts the bucket in it
    params = {"Bucket": "my-bucket", "Key": "k"}
    request = capture("s3", "delete_object", params, endpoint=endpoint, addressing="virtual")
    assert request.headers["Host"].startswith("my-bucket.") and request.path == "/k"
    assert _named("s3", "delete_object", params, endpoint=endpoint, addressing="virtual") == (
        "my-bucket/k"
    )


def test_what_cannot_be_read_is_none() -> None:
    info = RequestInfo(
        service="dynamodb", region=None, operation="DeleteTable", protocol=Protocol.JSON
    )
    assert resource_name(info, "POST", "/", "", b"{not json") is None
    assert resource_name(info, "POST", "/", "", b"[1, 2]") is None
    assert resource_name(info, "POST", "/", "", None) is None
    unknown = RequestInfo(service="nosuch", region=None, operation="DeleteX", protocol=None)
    assert resource_name(unknown, "POST", "/", "", b"{}") is None
    unnamed = RequestInfo(service=None, region=None, operation=None, protocol=None)
    assert resource_name(unnamed, "DELETE", "/x", "", None) is None


def test_a_long_name_is_cut() -> None:
    info = RequestInfo(
        service="dynamodb", region=None, operation="DeleteTable", protocol=Protocol.JSON
    )
    named = resource_name(info, "POST", "/", "", b'{"TableName": "' + b"t" * 500 + b'"}')
    assert (
        named is not None and len(named) == MAX_CHARS and named.endswith("\N{HORIZONTAL ELLIPSIS}")
    )


def test_a_registry_deletion_names_repository_and_reference() -> None:
    info = RequestInfo(
        service="registry", region=None, operation="DeleteManifest", protocol=Protocol.REGISTRY
    )
    assert resource_name(info, "DELETE", "/v2/team/app/manifests/v1", "", None) == "team/app:v1"
