"""The demo service as the drill engine runs it: a real subprocess, a real moto server behind
the real fault gateway, a loopback alert sink. Nothing is mocked."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import FaultEffect, FaultMatch, FaultSpec
from gameday.gateway.thread import Gateway

HOME = "us-east-1"
FAILOVER = "us-west-2"

# Short intervals keep each test to a few seconds; the behaviour is the same as the defaults'.
FAST_ENV = {"GAMEDAY_DEMO_REFRESH_S": "0.3", "GAMEDAY_DEMO_SHIP_S": "0.2"}


def wait_until(
    check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05
) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() >= deadline:
            pytest.fail(f"not within {timeout_s} s: {what}")
        time.sleep(interval_s)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Response:
    status: int
    body: dict[str, object]


class Demo:
    """One running ``python -m gameday.demo`` process."""

    def __init__(self, process: subprocess.Popen[str], url: str, stdout_line: str, log: Path):
        self.process = process
        self.url = url
        self.stdout_line = stdout_line
        self.log = log

    def request(self, method: str, path: str, timeout_s: float = 10.0) -> Response:
        request = urllib.request.Request(self.url + path, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as answer:
                return Response(answer.status, json.loads(answer.read()))
        except urllib.error.HTTPError as error:
            with error:
                return Response(error.code, json.loads(error.read()))

    def health(self, component: str | None = None) -> Response:
        return self.request("GET", "/health" + (f"/{component}" if component else ""))

    def stop(self, timeout_s: float = 5.0) -> tuple[int, float]:
        """SIGTERM; the exit code and the seconds it took to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout_s)
        return code, time.monotonic() - started

    def logs(self) -> str:
        return self.log.read_text()


def unwrap_sns(body: dict[str, str]) -> dict[str, str]:
    """The demo's alert from an SNS HTTP notification (its ``Message``), or ``body`` itself."""
    if body.get("Type") == "Notification":
        message: dict[str, str] = json.loads(body["Message"])
        return message
    return body


class AlertSink:
    """A loopback webhook that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, str]] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with sink._lock:
                    sink.alerts.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return  # the test output is for failures, not for every request

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/alerts"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def of(self, component: str) -> list[str]:
        """The states alerted for ``component``, in order of arrival, by either path."""
        with self._lock:
            alerts = [unwrap_sns(alert) for alert in self.alerts]
        return [alert["state"] for alert in alerts if alert["component"] == component]

    def via_sns(self) -> list[dict[str, str]]:
        """The alerts that came through the SNS topic (its HTTP notifications), unwrapped."""
        with self._lock:
            return [unwrap_sns(alert) for alert in self.alerts if "TopicArn" in alert]

    def via_webhook(self) -> list[dict[str, str]]:
        """The alerts the demo posted to the webhook itself."""
        with self._lock:
            return [alert for alert in self.alerts if "TopicArn" not in alert]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class Faults:
    """Faults injected through the gateway's admin API, all removed after each test."""

    def __init__(self, client: GatewayClient) -> None:
        self.client = client

    def add(
        self,
        service: str,
        mode: Mode = Mode.UNAVAILABLE,
        region: str | None = None,
        operations: tuple[str, ...] = (),
    ) -> None:
        match = FaultMatch(
            services=(service,), regions=(region,) if region else (), operations=operations
        )
        spec = FaultSpec(
            id=f"{service}-{region or 'all'}-{'-'.join(operations) or 'any'}", match=match,
            effect=FaultEffect(mode=mode), ttl_seconds=60,
        )  # fmt: skip
        self.client.add(spec)

    def hits(self) -> int:
        """Requests the injected faults have been applied to so far."""
        return sum(fault.hits for fault in self.client.list())

    def clear(self) -> None:
        self.client.clear()


@dataclass(frozen=True)
class Resources:
    """What the demo uses, named apart from anything else in the shared moto server."""

    table: str
    log_group: str
    repository: str
    role: str
    digest: str
    """Of the image pushed as tag v1."""

    def env(self) -> dict[str, str]:
        return {
            "GAMEDAY_DEMO_TABLE": self.table,
            "GAMEDAY_DEMO_LOG_GROUP": self.log_group,
            "GAMEDAY_DEMO_REPOSITORY": self.repository,
            "GAMEDAY_DEMO_ROLE_ARN": f"arn:aws:iam::123456789012:role/{self.role}",
        }


def _push_image(url: str, repository: str, tag: str) -> str:
    ecr = boto3.client("ecr", endpoint_url=url, region_name=HOME)
    config = b'{"architecture": "amd64", "os": "linux"}'
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config),
            "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
        },
        "layers": [],
    }
    image = ecr.put_image(
        repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag
    )
    return image["image"]["imageId"]["imageDigest"]


@pytest.fixture(scope="session")
def resources(moto_url: str) -> Resources:
    """The role, tables, log group and image the demo uses (straight to moto, no gateway)."""
    suffix = uuid.uuid4().hex[:8]
    table, log_group = f"orders-{suffix}", f"/gameday/demo-test/{suffix}"
    repository, role = f"demo-test/app-{suffix}", f"demo-app-{suffix}"
    iam = boto3.client("iam", endpoint_url=moto_url, region_name=HOME)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}  # fmt: skip
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    for region in (HOME, FAILOVER):
        boto3.client("dynamodb", endpoint_url=moto_url, region_name=region).create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    boto3.client("logs", endpoint_url=moto_url, region_name=HOME).create_log_group(
        logGroupName=log_group
    )
    boto3.client("ecr", endpoint_url=moto_url, region_name=HOME).create_repository(
        repositoryName=repository
    )
    digest = _push_image(moto_url, repository, "v1")
    return Resources(table, log_group, repository, role, digest)


@pytest.fixture(scope="session")
def gateway(moto_url: str) -> Iterator[Gateway]:
    with Gateway(upstream=moto_url) as running:
        yield running


@pytest.fixture
def faults(gateway: Gateway) -> Iterator[Faults]:
    injected = Faults(GatewayClient(gateway.url))
    try:
        yield injected
    finally:
        injected.clear()


@pytest.fixture
def alert_sink() -> Iterator[AlertSink]:
    sink = AlertSink()
    try:
        yield sink
    finally:
        sink.close()


DemoFactory = Callable[..., Demo]


@pytest.fixture
def start_demo(gateway: Gateway, resources: Resources, tmp_path: Path) -> Iterator[DemoFactory]:
    """Start the demo with ``GAMEDAY_*`` overrides; wait until it is ready (unless told not to)."""
    running: list[Demo] = []

    def start(ready: bool = True, **env: str) -> Demo:
        workdir = tmp_path / f"demo-{len(running)}"
        (workdir / "tmp").mkdir(parents=True)
        port_file, log = workdir / "port", workdir / "stderr.log"
        environ = {
            **os.environ, **resources.env(), **FAST_ENV, **env,
            "AWS_ENDPOINT_URL": gateway.url, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
            "TMPDIR": str(workdir / "tmp"),
        }  # fmt: skip
        with log.open("w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "gameday.demo", "--port-file", str(port_file)],
                env=environ, stdout=subprocess.PIPE, stderr=stderr, text=True,
            )  # fmt: skip
        wait_until(lambda: port_file.exists() or process.poll() is not None, 10, "the port file")
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        demo = Demo(process, port_file.read_text().strip() if port_file.exists() else "", line, log)
        running.append(demo)
        assert process.poll() is None, f"the demo exited: {demo.logs()}"
        if ready:
            wait_until(lambda: demo.health().status == 200, 10, "the demo is ready")
        return demo

    yield start
    for demo in running:
        if demo.process.poll() is None:
            demo.process.kill()
            demo.process.wait()
        if demo.process.stdout is not None:
            demo.process.stdout.close()


def audit_messages(moto_url: str, log_group: str) -> set[str]:
    """Every audit line in the log group, read straight from CloudWatch Logs."""
    logs = boto3.client("logs", endpoint_url=moto_url, region_name=HOME)
    messages: set[str] = set()
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=log_group):
        messages.update(event.get("message", "") for event in page["events"])
    return messages


def requests_since(
    client: GatewayClient, since: int
) -> list[tuple[str | None, str | None, str | None]]:
    """(service, region, operation) of each request the gateway saw after ``since``."""
    page = client.requests(since=since)
    return [(r.service, r.region, r.operation) for r in page.requests]
