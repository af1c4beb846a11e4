"""Create the resources a scenario's ``setup:`` declares, through boto3, before the drill.

Used by the embedded and localstack environments, straight against the emulator (not through
the gateway): setup is not part of the drill. Creating what already exists is not an error, so
a LocalStack that outlives runs can be reused.

A ``user`` item's access key comes back in ``Setup.keys``: the environment writes it into the
drill's shared credentials file under the item's profile.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gameday.errors import EnvironmentFailure
from gameday.scenario.models import Scenario
from gameday.scenario.target import (
    BucketSetup,
    CallSetup,
    LogGroupSetup,
    RepositorySetup,
    RoleSetup,
    TableSetup,
    UserSetup,
)

_ALREADY = {
    "ResourceAlreadyExistsException",
    "RepositoryAlreadyExistsException",
    "BucketAlreadyOwnedByYou",
    "BucketAlreadyExists",
    "ResourceInUseException",
    "EntityAlreadyExists",
    "ImageAlreadyExistsException",
}


@dataclass(frozen=True)
class AccessKey:
    """A long-term IAM access key made by setup; the secret never shows in a repr."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class Setup:
    """What setup made: how many items, and the access keys of ``user`` items by profile."""

    count: int
    keys: Mapping[str, AccessKey] = field(default_factory=dict)


_T = TypeVar("_T")

ClientFactory = Callable[[str, str], Any]
"""(service, region) -> a boto3 client pointed at the environment's endpoint."""


def boto3_clients(endpoint_url: str) -> ClientFactory:
    """A cached client factory for ``endpoint_url`` with dummy credentials, blind to the
    runner's own AWS profile, config files and proxies (``endpoint_url`` is the emulator)."""
    # No environment variable names the profile, and instance variables outrank the
    # environment: a runner's AWS_PROFILE naming a profile of its own config file is neither
    # read nor a failure (ProfileNotFound).
    core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    core.set_config_variable("config_file", os.devnull)
    core.set_config_variable("credentials_file", os.devnull)
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        botocore_session=core,
    )
    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        proxies={},  # straight to the emulator, never through the runner's HTTPS_PROXY
    )
    cache: dict[tuple[str, str], Any] = {}

    # The stubs type `client` per literal service name; the service here is the scenario's.
    make_client: Callable[..., Any] = session.client

    def client(service: str, region: str) -> Any:
        key = (service, region)
        if key not in cache:
            cache[key] = make_client(
                service, region_name=region, endpoint_url=endpoint_url, config=config
            )
        return cache[key]

    return client


def _manifest(repository: str, tag: str) -> str:
    # A minimal Docker image manifest (schema 2); the digests only need to be distinct per tag.
    config = hashlib.sha256(f"{repository}:{tag}:config".encode()).hexdigest()
    layer = hashlib.sha256(f"{repository}:{tag}:layer".encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1024,
                "digest": f"sha256:{config}",
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 2048,
                    "digest": f"sha256:{layer}",
                }
            ],
        }
    )


def _trust_policy(service: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _create(
    resource: object, home: str, regions: tuple[str, ...], client: ClientFactory
) -> AccessKey | None:
    """Create one item; a ``user``'s new access key, else None."""
    if isinstance(resource, UserSetup):
        return _create_user(client("iam", "us-east-1"), resource)
    if isinstance(resource, LogGroupSetup):
        client("logs", resource.region or home).create_log_group(logGroupName=resource.name)
    elif isinstance(resource, RepositorySetup):
        ecr = client("ecr", resource.region or home)
        _tolerate(lambda: ecr.create_repository(repositoryName=resource.name))
        for tag in resource.images:
            manifest = _manifest(resource.name, tag)
            ecr.put_image(repositoryName=resource.name, imageManifest=manifest, imageTag=tag)
    elif isinstance(resource, BucketSetup):
        region = resource.region or home
        extra = (
            {}
            if region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        client("s3", region).create_bucket(Bucket=resource.name, **extra)
    elif isinstance(resource, TableSetup):
        for region in resource.regions or regions:
            _tolerate(functools.partial(_create_table, client("dynamodb", region), resource))
    elif isinstance(resource, RoleSetup):
        client("iam", "us-east-1").create_role(
            RoleName=resource.name,
            AssumeRolePolicyDocument=_trust_policy(resource.trusted_service),
        )
    elif isinstance(resource, CallSetup):
        method = getattr(client(resource.service, resource.region or home), resource.call, None)
        if method is None:
            raise EnvironmentFailure(f"boto3 {resource.service} has no method {resource.call!r}")
        method(**resource.params)
    return None


def _create_user(iam: Any, user: UserSetup) -> AccessKey:
    # A user that outlives runs (LocalStack) keeps its old keys: IAM never shows a secret
    # again, so each run makes a key of its own (a user holds at most two: the oldest goes).
    _tolerate(lambda: iam.create_user(UserName=user.name))
    existing = iam.list_access_keys(UserName=user.name)["AccessKeyMetadata"]
    for old in sorted(existing, key=lambda key: key["CreateDate"])[: max(0, len(existing) - 1)]:
        iam.delete_access_key(UserName=user.name, AccessKeyId=old["AccessKeyId"])
    key = iam.create_access_key(UserName=user.name)["AccessKey"]
    return AccessKey(key["AccessKeyId"], key["SecretAccessKey"])


def _create_table(dynamodb: Any, table: TableSetup) -> None:
    dynamodb.create_table(
        TableName=table.name,
        KeySchema=[{"AttributeName": table.hash_key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": table.hash_key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _tolerate(call: Callable[[], _T]) -> _T | None:
    """``call()``; None when what it creates already exists."""
    try:
        return call()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in _ALREADY:
            raise
        return None


def create_setup(scenario: Scenario, client: ClientFactory) -> Setup:
    """Create every setup resource; EnvironmentFailure names the item that failed."""
    target = scenario.target
    keys: dict[str, AccessKey] = {}
    for index, resource in enumerate(target.setup):
        create = functools.partial(_create, resource, target.home_region, target.regions, client)
        try:
            key = _tolerate(create)
        except (ClientError, BotoCoreError, TypeError) as error:
            raise EnvironmentFailure(
                f"setup[{index}] ({resource.kind.value}): {error}",
                hint="check the resource's fields against docs/scenario.md",
            ) from None
        if isinstance(resource, UserSetup) and key is not None:
            keys[resource.profile_name] = key
    return Setup(len(target.setup), keys)
