"""When an objective's ``target_from`` policy ARN is read: on aws, after approval and the
account check; never on an isolated environment, nor before approval (DESIGN.md "Safety" 1).

The drill runs for real (``run_drill``) with its runner's clients pointed at loopback: a
recorder that counts what it is sent, or the real gateway in front of a real moto server,
whose request log gives the order of the calls. Each drill stops before any fault (not
steady, or refused), so no FIS experiment has to run its minute.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.environments.localstack_coverage import ServedServices
from gameday.fis.aws_config import load_aws_environment
from gameday.fis.resilience_hub import resolve_policy_targets
from gameday.gateway.client import GatewayClient
from gameday.gateway.thread import Gateway
from gameday.kinds import RunStatus
from gameday.result import RunResult
from gameday.scenario.loader import load_scenario
from gameday.scenario.models import Environment
from tests.integration.fis.conftest import Recorder

pytestmark = pytest.mark.usefixtures("on_moto")

ENV_FILE = """apiVersion: gameday/v1
kind: AwsEnvironment
accounts: ["123456789012"]
region: us-east-1
role_arn: arn:aws:iam::123456789012:role/gameday-fis
stop_conditions: [arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-5xx]
compute: {{ec2: {{tags: {{app: orders}}}}}}
app_url: {app}
"""

SCENARIO = """apiVersion: gameday/v1
metadata: {{name: hub-drill}}
faults: [{{kind: identity-loss, start_after: 1s, duration: 1m}}]
probes: [{{name: api, kind: http, url: '{{app}}/health', interval: 50ms, timeout: 1s}}]
objectives:
  - {{kind: steady, probe: api}}
  - name: region
    kind: rto
    probe: api
    target_from: {{resiliency_policy: '{arn}', disruption: Region}}
  - name: az
    kind: rto
    probe: api
    target_from: {{resiliency_policy: policy.json, disruption: AZ}}
guardrails: {{max_duration: 10m}}
observe: {{max: 3m, recovery_window: 500ms}}
"""
POLICY_FILE = '{"policy": {"AZ": {"rtoInSecs": 120, "rpoInSecs": 15}}}'
MISSING = "arn:aws:resiliencehub:us-east-1:123456789012:resiliency-policy/missing"
_LINES = SCENARIO.format(arn=MISSING).splitlines()
(ARN_AT,) = [f"{n}:{line.index(MISSING)}" for n, line in enumerate(_LINES, 1) if MISSING in line]
"""line:column of the ARN's quoted value in ``SCENARIO``."""


class _Down(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def app_url() -> Iterator[str]:
    """The app "in the account", down: the drill stops as not steady, before any fault."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Down)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _files(tmp_path: Path, app: str, arn: str) -> tuple[Path, Path]:
    scenario, env = tmp_path / "hub.yaml", tmp_path / "aws.yaml"
    scenario.write_text(SCENARIO.format(arn=arn))
    (tmp_path / "policy.json").write_text(POLICY_FILE)
    env.write_text(ENV_FILE.format(app=app))
    return scenario, env


def _drill(scenario: Path, environment: Environment, env: Path, approve: bool) -> RunResult:
    served = None
    if environment is Environment.LOCALSTACK:  # as if read from a LocalStack: no wait for one
        known = dict.fromkeys(("sts", "iam", "sso", "cognito-identity"), "running")
        served = ServedServices(url="http://127.0.0.1:9", services=known, live=False)
    plan = make_plan(load_scenario(scenario), environment, served=served)
    options = RunOptions(approve=approve, aws_environment=load_aws_environment(env))
    return run_drill(plan, options, time.monotonic)


def _policy(moto_url: str) -> str:
    hub = boto3.client("resiliencehub", region_name="us-east-1", endpoint_url=moto_url)
    created = hub.create_resiliency_policy(
        policyName="orders-gold",
        tier="MissionCritical",
        policy={
            kind: {"rtoInSecs": 3600, "rpoInSecs": 900}
            for kind in ("Software", "Hardware", "AZ", "Region")
        },
    )
    arn: str = created["policy"]["policyArn"]
    return arn


def _calls_after(gateway: Gateway, since: int) -> list[tuple[str | None, str | None]]:
    page = GatewayClient(gateway.url).requests(since=since)
    return [(r.service, r.operation) for r in page.requests]


@pytest.fixture
def through_gateway(
    fis_gateway: Gateway, faults: GatewayClient, monkeypatch: pytest.MonkeyPatch
) -> tuple[Gateway, int]:
    """The runner's clients reach moto through the gateway; the log's position now."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", fis_gateway.url)
    return fis_gateway, faults.requests().last_seq


def test_on_aws_a_policy_arn_is_read_after_approval_and_the_account_check(
    tmp_path: Path, app_url: str, on_moto: str, through_gateway: tuple[Gateway, int]
) -> None:
    arn = _policy(on_moto)
    scenario, env = _files(tmp_path, app_url, arn)
    result = _drill(scenario, Environment.AWS, env, approve=True)
    assert result.status is RunStatus.NOT_STEADY, result.reason
    calls = _calls_after(*through_gateway)
    assert calls == [
        ("sts", "GetCallerIdentity"),
        ("resiliencehub", "DescribeResiliencyPolicy"),
    ]
    # The file before the environment comes up; the ARN once the account is cleared.
    read = [(e.kind, e.detail) for e in result.events if e.kind in ("target", "approval")]
    assert [kind for kind, _ in read] == ["target", "approval", "target"]
    assert read[0][1] == "az: resiliency policy file policy.json, AZ rtoInSecs=120 (2m)"
    assert read[2][1] == f"region: Resilience Hub policy {arn}, Region rtoInSecs=3600 (1h)"


def test_on_aws_an_unreadable_policy_arn_stops_the_drill_after_the_checks(
    tmp_path: Path, app_url: str, through_gateway: tuple[Gateway, int]
) -> None:
    scenario, env = _files(tmp_path, app_url, MISSING)
    result = _drill(scenario, Environment.AWS, env, approve=True)
    assert result.status is RunStatus.ERROR
    assert result.reason == f"no resiliency policy {MISSING}"
    assert (result.fis or {}).get("template_id") is None and result.fis_experiments == []
    assert result.faults[0].injected_at is None
    assert _calls_after(*through_gateway) == [
        ("sts", "GetCallerIdentity"),
        ("resiliencehub", "DescribeResiliencyPolicy"),
    ]


def test_an_unapproved_aws_drill_sends_nothing(
    tmp_path: Path, app_url: str, recorder: Recorder
) -> None:
    scenario, env = _files(tmp_path, app_url, MISSING)
    result = _drill(scenario, Environment.AWS, env, approve=False)
    assert recorder.seen == []
    assert result.status is RunStatus.ERROR
    assert (result.reason or "").startswith("not approved: run hub-drill as an FIS experiment")


@pytest.mark.parametrize("environment", [Environment.EMBEDDED, Environment.LOCALSTACK])
def test_an_isolated_drill_refuses_a_policy_arn_before_anything(
    tmp_path: Path, app_url: str, recorder: Recorder, environment: Environment
) -> None:
    """Started without ``gameday run`` (an embedding program), the drill refuses anyway."""
    scenario, env = _files(tmp_path, app_url, MISSING)
    result = _drill(scenario, environment, env, approve=True)
    assert recorder.seen == []
    assert result.status is RunStatus.ERROR
    assert result.reason == (
        f"{scenario}:{ARN_AT}: objectives[1].target_from.resiliency_policy: {MISSING!r} is a "
        f"Resilience Hub policy ARN, read from AWS; a drill on {environment.value} never "
        "reaches beyond loopback"
    )
    assert [e.detail for e in result.events if e.kind == "phase"] == []  # nothing came up


def test_policy_files_alone_are_read_without_any_call(tmp_path: Path, recorder: Recorder) -> None:
    scenario, _ = _files(tmp_path, "http://127.0.0.1:9", MISSING)
    loaded = load_scenario(scenario)
    resolved, sources = resolve_policy_targets(loaded.scenario, tmp_path, arns=False)
    assert recorder.seen == []
    assert list(sources) == ["az"]
    targets = [getattr(o, "target", None) for o in resolved.objectives]
    assert targets == [None, None, 120.0]
