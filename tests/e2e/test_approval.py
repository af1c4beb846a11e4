"""Nothing reaches AWS before approval, and never from an isolated drill: the real CLI in a
subprocess, with a loopback listener standing in for AWS (``AWS_ENDPOINT_URL``) that counts
every request it is sent.

DESIGN.md "Safety" 1: the approval check comes before any network call, and an embedded or
LocalStack drill never reaches beyond loopback; docs/aws.md "Safety: the order of the checks":
a run that is not approved is refused with exit 2 before any drill starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

POLICY_ARN = "arn:aws:resiliencehub:us-east-1:123456789012:resiliency-policy/orders-gold"

ENV_FILE = """apiVersion: gameday/v1
kind: AwsEnvironment
accounts: ["123456789012"]
region: us-east-1
role_arn: arn:aws:iam::123456789012:role/gameday-fis
stop_conditions: [arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-5xx]
compute: {ec2: {tags: {app: orders}}}
app_url: http://127.0.0.1:9
"""


def _scenario(name: str, objective: str, *, environment: str | None = None) -> str:
    target = f"target: {{environment: {environment}}}\n" if environment else ""
    return (
        "apiVersion: gameday/v1\n"
        f"metadata: {{name: {name}}}\n"
        f"{target}"
        "faults: [{kind: identity-loss, start_after: 1s, duration: 1m}]\n"
        "probes: [{name: api, kind: http, url: 'http://127.0.0.1:9/health', interval: 200ms}]\n"
        "objectives:\n"
        f"  - {objective}\n"
        "guardrails: {max_duration: 10m}\n"
        "observe: {max: 3m, recovery_window: 500ms}\n"
    )


ARN_OBJECTIVE = (
    "{kind: rto, probe: api, target_from: {resiliency_policy: '" + POLICY_ARN + "', "
    "disruption: Region}}"
)
PLAIN_OBJECTIVE = "{kind: rto, probe: api, target: 5s}"
ARN_AT = f"6:{len('  - ' + ARN_OBJECTIVE.split(POLICY_ARN)[0])}"
"""Where the ARN's quoted value starts in a scenario from ``_scenario``: line 6, its column."""


class _Counting(BaseHTTPRequestHandler):
    server: Listener

    def _count(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with self.server.lock:
            self.server.seen.append(f"{self.command} {self.path}")
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_DELETE = _count

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads ``seen``."""


class Listener(ThreadingHTTPServer):
    """A loopback HTTP server that records every request and answers 500."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Counting)

    @property
    def url(self) -> str:
        """Its address, read back from the bound socket."""
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def aws() -> Iterator[Listener]:
    """Stands in for every AWS endpoint the runner's own clients would reach."""
    server = Listener()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _gameday(aws: Listener, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": aws.url,
        "AWS_MAX_ATTEMPTS": "1",
        "NO_COLOR": "1",
        "GAMEDAY_STORE": str(tmp_path / "history.db"),
    }
    return subprocess.run(
        [sys.executable, "-m", "gameday", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _run_args(tmp_path: Path, *paths: Path) -> list[str]:
    return [
        "run",
        *map(str, paths),
        "--report-dir",
        str(tmp_path / "out"),
        "--junit",
        str(tmp_path / "junit.xml"),
    ]


def _nothing_ran(tmp_path: Path, done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr + done.stdout
    assert list((tmp_path / "out").glob("*/result.json")) == []
    assert not (tmp_path / "junit.xml").exists()


def test_an_embedded_run_refuses_a_policy_arn_and_sends_nothing(
    aws: Listener, tmp_path: Path
) -> None:
    scenario = _write(tmp_path / "hub.yaml", _scenario("hub-embedded", ARN_OBJECTIVE))
    done = _gameday(aws, tmp_path, *_run_args(tmp_path, scenario))
    assert aws.seen == []
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        f"error: {scenario}:{ARN_AT}: objectives[0].target_from.resiliency_policy: "
        f"{POLICY_ARN!r} is a Resilience Hub policy ARN, read from AWS; a drill on embedded "
        "never reaches beyond loopback"
    ) in done.stderr
    assert "hint: save the policy as JSON" in done.stderr
    _nothing_ran(tmp_path, done)


def test_an_embedded_plan_shows_the_refused_policy_arn(aws: Listener, tmp_path: Path) -> None:
    scenario = _write(tmp_path / "hub.yaml", _scenario("hub-embedded", ARN_OBJECTIVE))
    done = _gameday(aws, tmp_path, "plan", str(scenario))
    assert aws.seen == []
    assert done.returncode == 2, done.stdout + done.stderr
    (row,) = [line for line in done.stdout.splitlines() if "target_from " in line]
    assert row.split()[:3] == [
        "FAIL",
        "target_from",
        f"{scenario}:{ARN_AT}:",
    ]
    assert row.endswith("(give a JSON file of the policy, or run with --env aws)")
    assert "error: safety checks failed for: hub-embedded" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unapproved_aws_run_exits_2_before_anything_and_sends_nothing(
    aws: Listener, tmp_path: Path
) -> None:
    scenario = _write(tmp_path / "hub.yaml", _scenario("aws-drill", ARN_OBJECTIVE))
    env = _write(tmp_path / "aws.yaml", ENV_FILE)
    args = [*_run_args(tmp_path, scenario), "--env", "aws", "--aws-config", str(env)]
    done = _gameday(aws, tmp_path, *args)
    assert aws.seen == []
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines()[-2:] == [
        "error: not approved: run aws-drill as an FIS experiment in us-east-1 (1 actions, 1m)",
        "hint: pass --approve (or answer yes on a terminal) to run against a real account",
    ]
    _nothing_ran(tmp_path, done)


def test_an_unapproved_suite_with_an_aws_scenario_runs_none_of_it(
    aws: Listener, tmp_path: Path
) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    _write(suite / "a-local.yaml", _scenario("local-drill", PLAIN_OBJECTIVE))
    _write(suite / "b-aws.yaml", _scenario("aws-drill", ARN_OBJECTIVE, environment="aws"))
    env = _write(tmp_path / "aws.yaml", ENV_FILE)
    done = _gameday(aws, tmp_path, *_run_args(tmp_path, suite), "--aws-config", str(env))
    assert aws.seen == []
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "error: not approved: run aws-drill as an FIS experiment in us-east-1 (1 actions, 1m)"
        in done.stderr
    )
    _nothing_ran(tmp_path, done)


def test_an_aws_plan_says_when_a_policy_arn_is_read_and_sends_nothing(
    aws: Listener, tmp_path: Path
) -> None:
    scenario = _write(tmp_path / "hub.yaml", _scenario("aws-drill", ARN_OBJECTIVE))
    env = _write(tmp_path / "aws.yaml", ENV_FILE)
    done = _gameday(aws, tmp_path, "plan", str(scenario), "--env", "aws", "--aws-config", str(env))
    assert aws.seen == []
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        f"at-run  target_from: rto-api from {POLICY_ARN} (Region): resolved at run time, "
        "after approval and the account check"
    ) in done.stdout
