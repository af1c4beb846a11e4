"""registry-loss reaches image pulls too: the registry (v2 API) traffic that ECR serves with
Basic/Bearer auth instead of SigV4 is classified by path and failed with the distribution
spec's own error bodies, through the real gateway over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from gameday.faults.modes import Mode
from gameday.gateway.classify import Protocol, classify
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import FaultEffect, FaultMatch, FaultSpec
from gameday.gateway.thread import Gateway

HOST = "123456789012.dkr.ecr.us-west-2.amazonaws.com"


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("GET", "/v2/", "Ping"),
        ("GET", "/v2/demo/app/manifests/v1", "GetManifest"),
        ("HEAD", "/v2/demo/app/manifests/sha256:ab", "GetManifest"),
        ("PUT", "/v2/demo/app/manifests/v2", "PutManifest"),
        ("GET", "/v2/demo/app/blobs/sha256:ab", "GetBlob"),
        ("POST", "/v2/demo/app/blobs/uploads/", "InitiateBlobUpload"),
        ("PATCH", "/v2/demo/app/blobs/uploads/3f2a", "UploadBlob"),
        ("GET", "/v2/demo/app/tags/list", "ListTags"),
        ("GET", "/v2/_catalog", "Catalog"),
    ],
)
def test_registry_requests_are_classified(method: str, path: str, operation: str) -> None:
    info = classify(method, path, "", {"Host": HOST, "Authorization": "Basic QVdTOnRva2Vu"})
    assert (info.service, info.region, info.operation, info.protocol) == (
        "registry",
        "us-west-2",
        operation,
        Protocol.REGISTRY,
    )


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        (Mode.UNAVAILABLE, 503, "UNAVAILABLE"),
        (Mode.THROTTLE, 429, "TOOMANYREQUESTS"),
        (Mode.INTERNAL, 500, "UNKNOWN"),
        (Mode.DENIED, 403, "DENIED"),
        (Mode.EXPIRED_TOKEN, 401, "UNAUTHORIZED"),
    ],
)
def test_an_image_pull_fails_with_the_registry_error(
    gateway: Gateway, admin: GatewayClient, mode: Mode, status: int, code: str
) -> None:
    admin.add(
        FaultSpec(
            id="registry-down",
            match=FaultMatch(services=("registry",)),
            effect=FaultEffect(mode=mode),
            ttl_seconds=30,
        )
    )
    request = urllib.request.Request(
        f"{gateway.url}/v2/demo/app/manifests/v1",
        headers={"Authorization": "Basic QVdTOnRva2Vu", "Host": HOST},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == status
    body = json.loads(caught.value.read())
    caught.value.close()
    assert body["errors"][0]["code"] == code
    (record,) = [r for r in admin.requests().requests if r.fault_id == "registry-down"][-1:]
    assert (record.service, record.operation) == ("registry", "GetManifest")
