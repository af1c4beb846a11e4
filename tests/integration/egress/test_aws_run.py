"""`run --env aws` with `injector: egress`, end to end on loopback: the runner's own calls (the
account check, the stop-condition alarms) go to a real moto server through AWS_ENDPOINT_URL;
the app is a real process whose SDK reaches "AWS" only through the real `gameday egress`
proxy (HTTPS_PROXY, AWS_CA_BUNDLE, no endpoint), routed to moto over TLS. No real account is
reached."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.fis.aws_config import load_aws_environment
from gameday.gateway.client import GatewayClient
from gameday.kinds import RunStatus
from gameday.scenario.loader import load_scenario
from gameday.scenario.models import Environment
from tests.egress_support import EGRESS_APP, Setup, alarm_in_ok, app_in_account, egress_setup

ALARM = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:egress-drill-5xx"

ENV_FILE = """apiVersion: gameday/v1
kind: AwsEnvironment
accounts: ["123456789012"]
stop_conditions: [{alarm}]
injector: egress
egress: {{url: "{proxy}"}}
app_url: {app}
"""

SCENARIO = """apiVersion: gameday/v1
metadata: {{name: egress-drill}}
faults: [{{kind: identity-loss, start_after: 600ms, duration: {duration}}}]
probes: [{{name: api, kind: http, url: '{{app}}/health', interval: 100ms, timeout: 3s}}]
objectives: [{{kind: rto, probe: api, target: 5s}}, {{kind: steady, probe: api}}]
guardrails: {{max_duration: 1m}}
observe: {{max: 40s, recovery_window: 500ms}}
"""


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[Setup]:
    with egress_setup(tmp_path_factory.mktemp("egress-run"), moto_url) as setup:
        yield setup


@pytest.fixture(scope="module")
def app(proxy: Setup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app in the "account": only the proxy variables and dummy keys, no endpoint."""
    with app_in_account(proxy, tmp_path_factory.mktemp("app-home")) as url:
        yield url


@pytest.fixture
def at_moto(moto_url: str, monkeypatch: pytest.MonkeyPatch, proxy: Setup) -> str:
    """The runner's own calls go to moto; the proxy starts each test with no fault."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    alarm_in_ok(moto_url, "egress-drill-5xx")
    GatewayClient(proxy.proxy_url).clear()
    return moto_url


def _files(tmp_path: Path, proxy: str, app: str, duration: str = "2s") -> tuple[Path, Path]:
    scenario, env = tmp_path / "drill.yaml", tmp_path / "aws.yaml"
    scenario.write_text(SCENARIO.format(duration=duration))
    env.write_text(ENV_FILE.format(alarm=ALARM, proxy=proxy, app=app))
    return scenario, env


def _run(scenario: Path, env: Path, *, approve: bool = True):  # type: ignore[no-untyped-def]
    plan = make_plan(load_scenario(scenario), Environment.AWS)
    options = RunOptions(approve=approve, aws_environment=load_aws_environment(env))
    return run_drill(plan, options, time.monotonic)


def test_a_drill_runs_through_the_egress_proxy(
    at_moto: str, proxy: Setup, app: str, tmp_path: Path
) -> None:
    scenario, env = _files(tmp_path, proxy.proxy_url, app)
    result = _run(scenario, env)
    assert result.status is RunStatus.PASSED, result.reason
    (fault,) = result.faults
    assert fault.injected_at is not None and fault.removed_at is not None
    # The app really lost its identity calls through the proxy, and came back.
    failed = [offset for offset, ok, _ in result.probes[0].samples if not ok]
    assert failed and all(fault.injected_at <= offset for offset in failed)
    assert result.probes[0].samples[-1][1]
    assert fault.matched_calls  # the proxy's counters: calls this run's rule acted on
    sts = [c for c in result.calls.counts if c.service == "sts"]
    assert {c.outcome for c in sts} >= {"forwarded", "error"}
    assert GatewayClient(proxy.proxy_url).list() == []  # nothing left in force
    events = " ".join(e.detail for e in result.events)
    assert "sts.us-east-1.amazonaws.com" in events  # the decrypted hosts are said


def test_without_approval_the_proxy_is_never_touched(
    at_moto: str, proxy: Setup, app: str, tmp_path: Path
) -> None:
    scenario, env = _files(tmp_path, proxy.proxy_url, app)
    admin = GatewayClient(proxy.proxy_url)
    before = admin.calls(since=0).last_seq
    result = _run(scenario, env, approve=False)
    assert result.status is RunStatus.ERROR
    assert "approve" in (result.reason or "")
    assert result.faults[0].injected_at is None
    assert admin.calls(since=0).last_seq == before


def test_a_stop_condition_in_alarm_removes_the_faults(
    at_moto: str, proxy: Setup, app: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gameday.environments.aws_egress.STOP_CONDITION_POLL_S", 0.2)
    scenario, env = _files(tmp_path, proxy.proxy_url, app, duration="30s")
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=at_moto)
    admin = GatewayClient(proxy.proxy_url)

    def alarm_once_injected() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not admin.list():
            time.sleep(0.05)
        cloudwatch.set_alarm_state(
            AlarmName="egress-drill-5xx", StateValue="ALARM", StateReason="5xx over threshold"
        )

    thread = threading.Thread(target=alarm_once_injected)
    thread.start()
    started = time.monotonic()
    result = _run(scenario, env)
    thread.join()
    assert result.status is RunStatus.ABORTED, result.reason
    assert "stop condition egress-drill-5xx" in (result.reason or "")
    assert time.monotonic() - started < 15  # the 30 s fault did not run its course
    assert admin.list() == []


def test_an_unreachable_proxy_refuses_the_drill(at_moto: str, app: str, tmp_path: Path) -> None:
    scenario, env = _files(tmp_path, "http://127.0.0.1:9", app)
    result = _run(scenario, env)
    assert result.status is RunStatus.ERROR
    assert "egress proxy at http://127.0.0.1:9 does not answer" in (result.reason or "")


def test_plan_lists_the_decrypted_hosts_and_the_limits(
    proxy: Setup, app: str, tmp_path: Path
) -> None:
    scenario, env = _files(tmp_path, proxy.proxy_url, app)
    script = Path(sys.executable).parent / "gameday"
    argv = [str(script), "plan", str(scenario), "--env", "aws", "--aws-config", str(env)]
    text = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout
    assert "through the egress proxy at " + proxy.proxy_url in text
    assert "sts.us-east-1.amazonaws.com" in text and "iam.amazonaws.com" in text
    assert "logs." not in text  # identity loss decrypts identity hosts only
    assert "HTTPS_PROXY" in text
    data = json.loads(
        subprocess.run(
            [*argv, "--format", "json"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    )
    (plan,) = data["plans"]
    assert plan["injector"] == "egress" and plan["ok"] is True
    assert "sts.amazonaws.com" in plan["decrypted_hosts"]


def test_an_account_outside_the_allow_list_is_refused_before_the_proxy(
    at_moto: str, proxy: Setup, app: str, tmp_path: Path
) -> None:
    scenario, env = _files(tmp_path, proxy.proxy_url, app)
    env.write_text(env.read_text().replace("123456789012", "111111111111", 1))
    admin = GatewayClient(proxy.proxy_url)
    before = admin.calls(since=0).last_seq
    result = _run(scenario, env)
    assert result.status is RunStatus.ERROR
    assert "not in the allow-list" in (result.reason or "")
    assert admin.calls(since=0).last_seq == before and admin.list() == []


def test_the_runner_starts_the_proxy_and_the_app_behind_it(
    at_moto: str, proxy: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """egress.start: the runner's own proxy (routed to the same TLS upstream) and target.app
    behind it; the app gets no endpoint override, and neither outlives the run."""
    upstream = proxy.upstream
    cert = proxy.ca_dir.parent / "upstream.crt"
    scenario, env = _files(tmp_path, proxy.proxy_url, "unused")
    scenario.write_text(
        scenario.read_text().replace(
            "faults:",
            f"target: {{app: {{command: [{sys.executable}, {EGRESS_APP}], "
            "health_url: 'http://127.0.0.1:{port}/health', "
            "env: {AWS_ACCESS_KEY_ID: testing, AWS_SECRET_ACCESS_KEY: testing, "
            "AWS_SESSION_TOKEN: testing, AWS_DEFAULT_REGION: us-east-1}}}\nfaults:",
        )
    )
    env.write_text(
        env.read_text()
        .replace(
            f'egress: {{url: "{proxy.proxy_url}"}}',
            "egress: {start: true, routes: ['*.amazonaws.com=https://127.0.0.1:"
            f"{upstream.port}'], route_ca: '{cert}'}}",
        )
        .replace("app_url: unused\n", "")
    )
    # The app trusts the runner's bundle only: system roots plus the run's CA. The upstream's
    # certificate stands in for AWS's, so it stands in for the system roots too.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    result = _run(scenario, env)
    assert result.status is RunStatus.PASSED, result.reason
    (fault,) = result.faults
    assert fault.matched_calls
    events = " ".join(e.detail for e in result.events)
    assert "egress proxy started on http://127.0.0.1:" in events
    assert "behind the proxy" in events
