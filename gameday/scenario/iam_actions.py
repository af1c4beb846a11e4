"""The IAM action each AWS call needs, named from botocore's service models.

The rule: an operation ``Op`` of service model ``m`` is the IAM action ``prefix:Op``, where
``prefix`` is the SigV4 signing name the model declares (``signingName``, else
``endpointPrefix``: ``monitoring`` for cloudwatch, ``ses`` for sesv2, ``es`` for opensearch,
``sso-oauth`` for sso-oidc, ``elasticloadbalancing`` for elb and elbv2). That holds for nearly
every service; the reviewed exceptions are the three tables below, and a test checks every
entry against the installed botocore:

- ``PREFIX_EXCEPTIONS``: signing names that are not the IAM prefix (``monitoring`` is
  ``cloudwatch``);
- ``ACTION_EXCEPTIONS``: operations whose action has another name (S3's ``ListObjectsV2`` is
  ``s3:ListBucket``, Lambda's ``Invoke`` is ``lambda:InvokeFunction``); API Gateway's
  management APIs are authorized by HTTP method (``apigateway:GET``);
- ``REGISTRY_ACTIONS``: the registry (v2) API of image pulls and pushes, which IAM knows by
  the ECR actions behind each endpoint.

An operation the SDKs send unsigned (``authtype: none`` or ``smithy.api#noAuth`` in its model:
STS AssumeRoleWithWebIdentity, the SSO portal, SSO OIDC CreateToken) needs no IAM action.

What the rule cannot see, because the gateway records service and operation only: a call on a
version of an object (``s3:GetObjectVersion``), the source of a copy, the KMS key of an
encrypted object or table (``kms:Decrypt``), a role passed to a service (``iam:PassRole``), and
actions a service checks on the caller's behalf.

>>> actions_for("cloudwatch", "PutMetricData").actions
('cloudwatch:PutMetricData',)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gameday.scenario.botocore_data import service_metadata, service_model_files
from gameday.scenario.service_names import REGISTRY_OPERATIONS, REGISTRY_SERVICE, signing_name

PREFIX_EXCEPTIONS: Mapping[str, str] = {
    "monitoring": "cloudwatch",
    "tagging": "tag",
    "iotdata": "iot",
    "IoTSecuredTunneling": "iot",
    "mturk-requester": "mechanicalturk",
}
"""Signing name -> IAM prefix, where they differ (the Service Authorization Reference)."""

_S3_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "ListObjects": ("s3:ListBucket",),
    "ListObjectsV2": ("s3:ListBucket",),
    "HeadBucket": ("s3:ListBucket",),
    "HeadObject": ("s3:GetObject",),
    "SelectObjectContent": ("s3:GetObject",),
    "ListBuckets": ("s3:ListAllMyBuckets",),
    "ListObjectVersions": ("s3:ListBucketVersions",),
    "ListMultipartUploads": ("s3:ListBucketMultipartUploads",),
    "ListParts": ("s3:ListMultipartUploadParts",),
    "CreateMultipartUpload": ("s3:PutObject",),
    "UploadPart": ("s3:PutObject",),
    "CompleteMultipartUpload": ("s3:PutObject",),
    "CopyObject": ("s3:GetObject", "s3:PutObject"),
    "UploadPartCopy": ("s3:GetObject", "s3:PutObject"),
    "DeleteObjects": ("s3:DeleteObject",),
    "GetBucketCors": ("s3:GetBucketCORS",),
    "PutBucketCors": ("s3:PutBucketCORS",),
    "DeleteBucketCors": ("s3:PutBucketCORS",),
    "GetBucketEncryption": ("s3:GetEncryptionConfiguration",),
    "PutBucketEncryption": ("s3:PutEncryptionConfiguration",),
    "DeleteBucketEncryption": ("s3:PutEncryptionConfiguration",),
    "GetBucketLifecycle": ("s3:GetLifecycleConfiguration",),
    "GetBucketLifecycleConfiguration": ("s3:GetLifecycleConfiguration",),
    "PutBucketLifecycle": ("s3:PutLifecycleConfiguration",),
    "PutBucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration",),
    "DeleteBucketLifecycle": ("s3:PutLifecycleConfiguration",),
    "GetBucketReplication": ("s3:GetReplicationConfiguration",),
    "PutBucketReplication": ("s3:PutReplicationConfiguration",),
    "DeleteBucketReplication": ("s3:PutReplicationConfiguration",),
    "GetBucketNotificationConfiguration": ("s3:GetBucketNotification",),
    "PutBucketNotificationConfiguration": ("s3:PutBucketNotification",),
    "DeleteBucketTagging": ("s3:PutBucketTagging",),
    "DeleteBucketOwnershipControls": ("s3:PutBucketOwnershipControls",),
    "GetObjectLockConfiguration": ("s3:GetBucketObjectLockConfiguration",),
    "PutObjectLockConfiguration": ("s3:PutBucketObjectLockConfiguration",),
    "GetPublicAccessBlock": ("s3:GetBucketPublicAccessBlock",),
    "PutPublicAccessBlock": ("s3:PutBucketPublicAccessBlock",),
    "DeletePublicAccessBlock": ("s3:PutBucketPublicAccessBlock",),
    "GetBucketAccelerateConfiguration": ("s3:GetAccelerateConfiguration",),
    "PutBucketAccelerateConfiguration": ("s3:PutAccelerateConfiguration",),
    "GetBucketAnalyticsConfiguration": ("s3:GetAnalyticsConfiguration",),
    "ListBucketAnalyticsConfigurations": ("s3:GetAnalyticsConfiguration",),
    "PutBucketAnalyticsConfiguration": ("s3:PutAnalyticsConfiguration",),
    "DeleteBucketAnalyticsConfiguration": ("s3:PutAnalyticsConfiguration",),
    "GetBucketInventoryConfiguration": ("s3:GetInventoryConfiguration",),
    "ListBucketInventoryConfigurations": ("s3:GetInventoryConfiguration",),
    "PutBucketInventoryConfiguration": ("s3:PutInventoryConfiguration",),
    "DeleteBucketInventoryConfiguration": ("s3:PutInventoryConfiguration",),
    "GetBucketMetricsConfiguration": ("s3:GetMetricsConfiguration",),
    "ListBucketMetricsConfigurations": ("s3:GetMetricsConfiguration",),
    "PutBucketMetricsConfiguration": ("s3:PutMetricsConfiguration",),
    "DeleteBucketMetricsConfiguration": ("s3:PutMetricsConfiguration",),
    "GetBucketIntelligentTieringConfiguration": ("s3:GetIntelligentTieringConfiguration",),
    "ListBucketIntelligentTieringConfigurations": ("s3:GetIntelligentTieringConfiguration",),
    "PutBucketIntelligentTieringConfiguration": ("s3:PutIntelligentTieringConfiguration",),
    "DeleteBucketIntelligentTieringConfiguration": ("s3:PutIntelligentTieringConfiguration",),
    "CreateSession": ("s3express:CreateSession",),
    "ListDirectoryBuckets": ("s3express:ListAllMyDirectoryBuckets",),
    "WriteGetObjectResponse": ("s3-object-lambda:WriteGetObjectResponse",),
}
"""S3 operations whose action has another name ("Required permissions for Amazon S3 API
operations" in the S3 User Guide; each operation's "Permissions" in the API reference)."""

ACTION_EXCEPTIONS: Mapping[tuple[str, str], tuple[str, ...]] = {
    **{("s3", operation): actions for operation, actions in _S3_ACTIONS.items()},
    ("lambda", "Invoke"): ("lambda:InvokeFunction",),
    ("lambda", "InvokeWithResponseStream"): ("lambda:InvokeFunction",),
    ("apigatewaymanagementapi", "PostToConnection"): ("execute-api:ManageConnections",),
    ("apigatewaymanagementapi", "GetConnection"): ("execute-api:ManageConnections",),
    ("apigatewaymanagementapi", "DeleteConnection"): ("execute-api:ManageConnections",),
}
"""(service model, operation) -> the actions it needs, where they are not ``prefix:Op``."""

BY_HTTP_METHOD = frozenset({"apigateway", "apigatewayv2"})
"""Services whose actions are the HTTP method of the call (``apigateway:GET``, ``:POST``...)."""

REGISTRY_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "GetManifest": ("ecr:BatchGetImage",),
    "PutManifest": ("ecr:PutImage",),
    "DeleteManifest": ("ecr:BatchDeleteImage",),
    # The gateway names a blob's GET (pull) and HEAD (a push's existence check) alike.
    "GetBlob": ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer"),
    "InitiateBlobUpload": ("ecr:InitiateLayerUpload",),
    "UploadBlob": ("ecr:CompleteLayerUpload", "ecr:UploadLayerPart"),
    "ListTags": ("ecr:ListImages",),
}
"""Registry (v2 API) operation -> the ECR actions behind it ("Private repository policies" in
the ECR User Guide). ``Ping`` needs only the token of ``ecr:GetAuthorizationToken``, a call
of its own; ``Catalog``, ``DeleteBlob`` and ``ListReferrers`` have no ECR action."""


@dataclass(frozen=True, slots=True)
class IamMapping:
    """The IAM actions one call needs; none, and why, when it needs none or has no name."""

    actions: tuple[str, ...]
    why_none: str = ""


def iam_prefix(service: str) -> str | None:
    """The IAM prefix of a botocore service model (``cloudwatch`` -> ``cloudwatch``, ``sesv2``
    -> ``ses``, ``sso-oidc`` -> ``sso-oauth``), or None when botocore has no such model."""
    if service == REGISTRY_SERVICE:
        return "ecr"
    if service not in service_model_files():
        return None
    signing = signing_name(service, service_metadata(service))
    return PREFIX_EXCEPTIONS.get(signing, signing)


def actions_for(service: str, operation: str) -> IamMapping:
    """The IAM actions a call of ``operation`` on ``service`` (a botocore model name, or
    ``registry``, as the gateway names calls) needs."""
    if service == REGISTRY_SERVICE:
        if operation not in REGISTRY_OPERATIONS:
            return IamMapping((), f"{operation!r} is not a registry (v2 API) operation")
        found = REGISTRY_ACTIONS.get(operation)
        if found is None:
            return IamMapping((), "no ECR action authorizes this registry endpoint")
        return IamMapping(found)
    prefix = iam_prefix(service)
    if prefix is None:
        return IamMapping((), f"botocore has no service model {service!r}")
    model = _operation_models(service).get(operation)
    if model is None:
        return IamMapping((), f"{operation!r} is not an operation of botocore's {service!r}")
    if model.get("authtype") == "none" or model.get("auth") == ["smithy.api#noAuth"]:
        return IamMapping((), "sent unsigned (its model's auth is none): no IAM action")
    if service in BY_HTTP_METHOD:
        return IamMapping((f"{prefix}:{model['http']['method']}",))
    return IamMapping(ACTION_EXCEPTIONS.get((service, operation), (f"{prefix}:{operation}",)))


@functools.cache
def known_actions(prefix: str) -> frozenset[str]:
    """Every action of IAM prefix ``prefix`` that some call can need (the operations of each
    model with that prefix, through the tables above): what a wildcard such as ``dynamodb:*``
    grants, as far as botocore's models name it."""
    found: set[str] = set()
    for service in _services_by_prefix().get(prefix, ()):
        for operation in _operation_models(service):
            found.update(actions_for(service, operation).actions)
    for actions in (*ACTION_EXCEPTIONS.values(), *REGISTRY_ACTIONS.values()):
        found.update(a for a in actions if a.split(":", 1)[0] == prefix)
    return frozenset(found)


def known_prefixes() -> frozenset[str]:
    """Every IAM prefix botocore's models (and the tables above) give an action."""
    extra = {a.split(":", 1)[0] for actions in ACTION_EXCEPTIONS.values() for a in actions}
    return frozenset(_services_by_prefix()) | extra


@functools.cache
def _services_by_prefix() -> Mapping[str, tuple[str, ...]]:
    by_prefix: dict[str, list[str]] = {}
    for service in service_model_files():
        prefix = iam_prefix(service)
        if prefix is not None:
            by_prefix.setdefault(prefix, []).append(service)
    return {prefix: tuple(services) for prefix, services in by_prefix.items()}


@functools.cache
def _operation_models(service: str) -> Mapping[str, Mapping[str, Any]]:
    # botocore's own loader (the search paths botocore_data mirrors); imported here because
    # `gameday validate` never needs it.
    from botocore.loaders import create_loader  # noqa: PLC0415

    model = create_loader().load_service_model(service, "service-2")
    operations: Mapping[str, Mapping[str, Any]] = model["operations"]
    return operations
