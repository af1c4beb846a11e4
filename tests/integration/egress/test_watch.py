"""Watches through the real egress proxy: every AWS call seen (and destructive ones refused)
on services no fault targets, in drills and through the admin API.

The proxy is a real `gameday egress` subprocess routed to moto over TLS (signatures checked
upstream); the app is a real process whose SDK reaches "AWS" only through the proxy; the
runner's own calls (account check, alarms) go to moto through AWS_ENDPOINT_URL. No real
account is reached.
"""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.x509.oid import NameOID

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.fis.aws_config import load_aws_environment
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import Outcome, WatchSpec
from gameday.kinds import RunStatus
from gameday.result import RunResult
from gameday.scenario.loader import load_scenario
from gameday.scenario.models import Environment
from tests.egress_support import (
    UPSTREAM_CN,
    Setup,
    alarm_in_ok,
    app_in_account,
    egress_setup,
)

ALARM = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:watch-drill-5xx"

ENV_FILE = """apiVersion: gameday/v1
kind: AwsEnvironment
accounts: ["123456789012"]
stop_conditions: [{alarm}]
injector: egress
egress: {{url: "{proxy}"}}
app_url: {app}
"""

SCENARIO = """apiVersion: gameday/v1
metadata: {{name: watch-drill}}
{target}faults: [{{kind: identity-loss, start_after: 300ms, duration: 1500ms}}]
probes: [{{name: api, kind: http, url: '{{app}}/health', interval: 100ms, timeout: 3s}}]
objectives: [{{kind: rto, probe: api, target: 5s}}{objectives}]
guardrails: {{max_duration: 1m{guardrails}}}
observe: {{max: 20s, recovery_window: 300ms}}
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[Setup]:
    with egress_setup(tmp_path_factory.mktemp("egress-watch"), moto_url) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def app(setup: Setup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app in the "account": only the proxy variables and dummy keys, no endpoint."""
    with app_in_account(setup, tmp_path_factory.mktemp("app-home")) as url:
        yield url


@pytest.fixture
def at_moto(moto_url: str, monkeypatch: pytest.MonkeyPatch, admin: GatewayClient) -> str:
    """The runner's own calls go to moto; the proxy starts each test with no fault, no
    watch."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    alarm_in_ok(moto_url, "watch-drill-5xx")
    assert admin.watches() == []
    return moto_url


@pytest.fixture
def table(moto_url: str) -> str:
    """A table in the "account", made directly in moto (not through the proxy)."""
    name = f"orders-{uuid.uuid4().hex[:8]}"
    _moto_dynamodb(moto_url).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _moto_dynamodb(moto_url: str) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_url)


def _exists(moto_url: str, table: str) -> bool:
    return table in _moto_dynamodb(moto_url).list_tables()["TableNames"]


def _issuer_through(proxy_url: str, port: int) -> str:
    """The issuer CN of the certificate a client sees through a CONNECT to 127.0.0.1:port."""
    host, _, proxy_port = proxy_url.removeprefix("http://").rpartition(":")
    with socket.create_connection((host, int(proxy_port)), timeout=10) as sock:
        sock.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(1024)
            assert chunk, f"proxy closed: {answer!r}"
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    issuer = x509.load_der_x509_certificate(der).issuer
    return str(issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _files(
    tmp_path: Path,
    proxy: str,
    app: str,
    *,
    deny: bool = False,
    objective: bool = False,
    abort_at: int | None = None,
) -> tuple[Path, Path]:
    scenario, env = tmp_path / "drill.yaml", tmp_path / "aws.yaml"
    scenario.write_text(
        SCENARIO.format(
            target="target: {deny_destructive: true}\n" if deny else "",
            objectives=", {kind: destructive_calls, target: 0}" if objective else "",
            guardrails=f", abort_when: [{{destructive_calls: {abort_at}}}]" if abort_at else "",
        )
    )
    env.write_text(ENV_FILE.format(alarm=ALARM, proxy=proxy, app=app))
    return scenario, env


def _run(scenario: Path, env: Path) -> RunResult:
    plan = make_plan(load_scenario(scenario), Environment.AWS)
    options = RunOptions(approve=True, aws_environment=load_aws_environment(env))
    return run_drill(plan, options, time.monotonic)


class _DestroyInFault(threading.Thread):
    """Once a fault is in force (after T0), asks the app to delete ``table``: a destructive
    reaction on a service no fault targets."""

    def __init__(self, admin: GatewayClient, app: str, table: str) -> None:
        super().__init__()
        self.admin, self.url = admin, f"{app}/destroy?table={table}"
        self.answer: tuple[int, str] | None = None

    def run(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.admin.list():
            time.sleep(0.02)
        self.answer = _get(self.url)


def _drill_deleting(
    admin: GatewayClient, app: str, table: str, scenario: Path, env: Path
) -> tuple[RunResult, tuple[int, str] | None]:
    # A pooled connection to DynamoDB from before the run: blind, as nothing targets it.
    assert _get(f"{app}/tables")[0] == 200
    destroyer = _DestroyInFault(admin, app, table)
    destroyer.start()
    result = _run(scenario, env)
    destroyer.join()
    return result, destroyer.answer


def test_a_denying_drill_refuses_a_deletion_on_a_service_no_fault_targets(
    at_moto: str, setup: Setup, app: str, admin: GatewayClient, table: str, tmp_path: Path
) -> None:
    scenario, env = _files(tmp_path, setup.proxy_url, app, deny=True)
    result, answer = _drill_deleting(admin, app, table, scenario, env)
    assert result.status is RunStatus.PASSED, result.reason
    assert answer == (403, "AccessDeniedException")
    assert _exists(at_moto, table)  # nothing reached the account
    (call,) = result.calls.destructive
    assert (call.service, call.operation, call.resource) == ("dynamodb", "DeleteTable", table)
    assert call.outcome == "denied"
    assert result.calls.deny_destructive
    events = " ".join(e.detail for e in result.events)
    assert "every AWS host" in events and "destructive calls are refused" in events
    page = admin.calls()
    assert page.watches == () and not page.deny_destructive  # gone with the run
    assert page.sees_all_calls is False  # blind again for hosts no fault targets


def test_a_destructive_calls_objective_counts_a_deletion_on_an_unfaulted_service(
    at_moto: str, setup: Setup, app: str, admin: GatewayClient, table: str, tmp_path: Path
) -> None:
    scenario, env = _files(tmp_path, setup.proxy_url, app, objective=True)
    result, answer = _drill_deleting(admin, app, table, scenario, env)
    assert answer == (200, "deleted")
    assert not _exists(at_moto, table)  # no denial asked: the call went through, seen
    assert result.status is RunStatus.FAILED, result.reason
    (objective,) = [o for o in result.objectives if o.kind == "destructive_calls"]
    assert objective.met is False and objective.measured == 1
    (call,) = result.calls.destructive
    assert (call.operation, call.outcome) == ("DeleteTable", "forwarded")
    assert admin.watches() == []


def test_the_watch_ends_with_a_drill_the_guardrail_aborts(
    at_moto: str, setup: Setup, app: str, admin: GatewayClient, table: str, tmp_path: Path
) -> None:
    scenario, env = _files(tmp_path, setup.proxy_url, app, deny=True, abort_at=1)
    result, answer = _drill_deleting(admin, app, table, scenario, env)
    assert result.status is RunStatus.ABORTED, result.reason
    assert "dynamodb DeleteTable" in (result.reason or "")
    assert answer == (403, "AccessDeniedException") and _exists(at_moto, table)
    assert admin.watches() == [] and admin.list() == []


class _OlderProxy(ThreadingHTTPServer):
    """Stands in for a proxy of a gameday older than watches, which cannot be run here: its
    admin API answers health and calls as that version did (no watch fields), 404 for any
    path it did not have. It records every request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _OlderAdmin)
        self.seen: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


_OLDER_ANSWERS = {
    "/_gameday/health": b'{"status":"ok","upstream":"https://egress.invalid","faults":0,'
    b'"requests":0}',
    "/_gameday/calls": b'{"counts":[],"destructive":[],"last_seq":0,"dropped":0,'
    b'"deny_destructive":false}',
    "/_gameday/requests": b'{"requests":[],"last_seq":0,"dropped":0}',
}
"""What an older gameday's admin API answered (its models had no watch fields)."""


class _OlderAdmin(BaseHTTPRequestHandler):
    server: _OlderProxy

    def _answer(self) -> None:
        self.server.seen.append(f"{self.command} {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = _OLDER_ANSWERS.get(self.path.partition("?")[0]) if self.command == "GET" else None
        status = 200 if body is not None else 404
        body = body or b'{"error":"no admin endpoint"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


def test_a_proxy_older_than_watches_is_refused_before_any_fault(
    at_moto: str, app: str, tmp_path: Path
) -> None:
    older = _OlderProxy()
    thread = threading.Thread(target=older.serve_forever, daemon=True)
    thread.start()
    try:
        scenario, env = _files(tmp_path, older.url, app, deny=True)
        result = _run(scenario, env)
    finally:
        older.shutdown()
        older.server_close()
    assert result.status is RunStatus.ERROR
    assert f"the gateway or egress proxy at {older.url} does not support watches" in (
        result.reason or ""
    )
    assert result.faults[0].injected_at is None
    assert not [line for line in older.seen if line.startswith("PUT /_gameday/faults")]
    assert any(line.startswith("PUT /_gameday/watches/") for line in older.seen)


def test_a_watch_decrypts_every_aws_host_and_closes_blind_tunnels(
    in_account: None, setup: Setup, admin: GatewayClient, table: str, moto_url: str
) -> None:
    dynamodb = boto3.client("dynamodb", config=Config(retries={"total_max_attempts": 2}))
    before = _dynamodb_counts(admin)
    dynamodb.list_tables()  # a pooled connection, through a blind tunnel: not counted
    assert _dynamodb_counts(admin) == before
    admin.add_watch(WatchSpec(id="by-hand", ttl_seconds=30, deny_destructive=True))
    try:
        deadline = time.monotonic() + 10
        while not admin.calls().sees_all_calls and time.monotonic() < deadline:
            time.sleep(0.05)  # the proxy closes the blind tunnel between two calls
        assert admin.calls().sees_all_calls
        with pytest.raises(ClientError) as refused:
            dynamodb.delete_table(TableName=table)  # the same client, reconnected
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
        assert _exists(moto_url, table)
        # A non-AWS host stays blind: the client sees the upstream's own certificate.
        assert _issuer_through(setup.proxy_url, setup.upstream_port) == UPSTREAM_CN
    finally:
        assert admin.remove_watch("by-hand")
    after = _dynamodb_counts(admin)
    assert (
        after.get(("DeleteTable", Outcome.DENIED), 0)
        == before.get(("DeleteTable", Outcome.DENIED), 0) + 1
    )
    page = admin.calls()
    assert not page.deny_destructive and page.sees_all_calls is False


def _dynamodb_counts(admin: GatewayClient) -> dict[tuple[str | None, Outcome], int]:
    counts = admin.calls().counts
    return {(c.operation, c.outcome): c.count for c in counts if c.service == "dynamodb"}


def test_a_watch_ends_by_itself_at_its_ttl(setup: Setup, admin: GatewayClient) -> None:
    admin.add_watch(WatchSpec(id="short", ttl_seconds=0.5, deny_destructive=True))
    assert admin.calls().deny_destructive
    time.sleep(0.7)
    page = admin.calls()
    assert page.watches == () and not page.deny_destructive and not page.sees_all_calls
    assert not admin.remove_watch("short")


@pytest.fixture
def denying_proxy(setup: Setup, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`gameday egress --deny-destructive`, routed to the module's upstream."""
    cert = setup.ca_dir.parent / "upstream.crt"
    argv = [sys.executable, "-m", "gameday", "egress", "--listen", "127.0.0.1:0"]
    argv += ["--ca-dir", str(tmp_path / "ca"), "--route-ca", str(cert), "--deny-destructive"]
    argv += ["--route", f"*.amazonaws.com=https://127.0.0.1:{setup.upstream_port}"]
    proxy = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proxy.stdout is not None
        line = proxy.stdout.readline()
        assert "destructive calls are refused" in line, line
        found = re.search(r"listening on (http://\S+);", line)
        assert found, line
        bundle = tmp_path / "client-bundle.pem"
        bundle.write_bytes((tmp_path / "ca" / "ca-bundle.pem").read_bytes() + cert.read_bytes())
        yield found.group(1), bundle
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        if proxy.stdout is not None:
            proxy.stdout.close()


def test_egress_deny_destructive_refuses_for_the_proxy_life(
    denying_proxy: tuple[str, Path], table: str, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, bundle = denying_proxy
    for key in ("AWS_ENDPOINT_URL", "NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", url)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(bundle))
    dynamodb = boto3.client("dynamodb", config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError) as refused:
        dynamodb.delete_table(TableName=table)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert _exists(moto_url, table)
    page = GatewayClient(url).calls()
    assert page.deny_destructive and page.sees_all_calls and page.watches == ()
    (call,) = page.destructive
    assert (call.operation, call.resource, call.outcome) == ("DeleteTable", table, Outcome.DENIED)
