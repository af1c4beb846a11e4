"""Isolation of embedded drills (issue 14, findings 1-3; DESIGN.md "Isolation"), end to end:
a real moto server, the real gateway, the egress guard, a real app process and real probes.

Nothing here reaches the network: every name outside loopback is answered by the egress
guard itself (CONNECT refused), before any DNS lookup.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.result import RunResult
from gameday.scenario.loader import load_scenario

APP = Path(__file__).resolve().parents[2] / "fixtures" / "apps" / "isolation_app.py"
AWS_CLI = Path(sys.executable).parent / "aws"
REAL_STS = "https://sts.us-east-1.amazonaws.com"
ROLE_ARN = "arn:aws:iam::123456789012:role/app-role"

DUMP_ENV = (
    "import json, os, pathlib, sys\n"
    "aws = pathlib.Path(os.environ.get('HOME', '/nonexistent'), '.aws', 'credentials')\n"
    "env = dict(os.environ, __home_aws_credentials__=aws.read_text() if aws.exists() else '')\n"
    "json.dump(env, open(sys.argv[1], 'w'))\n"
)


def _write(tmp_path: Path, scenario: dict[str, object]) -> Path:
    path = tmp_path / "drill.yaml"
    # JSON is YAML: no quoting of the Python code, URLs and ARNs in the scenario.
    path.write_text(json.dumps(scenario, indent=1))
    return path


def _scenario(
    *,
    app_env: dict[str, str],
    probes: list[dict[str, object]],
    objectives: list[dict[str, object]],
    faults: list[dict[str, object]] | None = None,
    aws_profiles: dict[str, object] | None = None,
    setup: list[dict[str, object]] | None = None,
    observe: str = "3s",
) -> dict[str, object]:
    app: dict[str, object] = {
        "command": [sys.executable, str(APP)],
        "env": app_env,
        "health_url": "http://127.0.0.1:{port}/health",
        "ready_timeout": "15s",
    }
    if aws_profiles:
        app["aws_profiles"] = aws_profiles
    return {
        "apiVersion": "gameday/v1",
        "metadata": {"name": "isolation"},
        "target": {"app": app, "setup": setup or []},
        "faults": faults
        or [{"kind": "api-fault", "services": ["sts"], "start_after": "300ms", "duration": "1s"}],
        "probes": probes,
        "objectives": objectives,
        "observe": {"max": observe, "recovery_window": "500ms"},
    }


def _run(path: Path) -> RunResult:
    return run_drill(make_plan(load_scenario(path)), RunOptions(seed=1), time.monotonic)


def _canaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The runner's own identity, as a CI job holds it: every value is a canary."""
    home = tmp_path / "runner-home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = AKIACANARYHOMEFILE01\n"
        "aws_secret_access_key = canary-home-secret\n"
    )
    config = tmp_path / "runner-config"
    config.write_text("[profile canary-profile]\nregion = eu-west-3\n")
    canaries = {
        "AWS_ACCESS_KEY_ID": "AKIACANARYENVIRON001",
        "AWS_SECRET_ACCESS_KEY": "canary-secret-access-key",
        "AWS_SESSION_TOKEN": "canary-session-token",
        "AWS_PROFILE": "canary-profile",
        "AWS_ENDPOINT_URL": "https://canary-endpoint.invalid",
        "AWS_ENDPOINT_URL_STS": "https://canary-sts-endpoint.invalid",
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.2/canary",
        "GAMEDAY_GATEWAY_TOKEN": "canary-gateway-token",
        "GAMEDAY_MARKS_TOKEN": "canary-marks-token",
        "HOME": str(home),
    }
    for name, value in canaries.items():
        monkeypatch.setenv(name, value)
    return canaries


def _leaks(env: dict[str, str], canaries: dict[str, str]) -> list[str]:
    return [
        f"{name}={value}"
        for name, value in env.items()
        for canary in canaries.values()
        if canary in value and name not in ("PATH", "PYTHONPATH")
    ]


def test_no_runner_identity_reaches_the_app_or_a_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canaries = _canaries(tmp_path, monkeypatch)
    app_env, probe_env, runner_env = (tmp_path / f"{n}.json" for n in ("app", "probe", "runner"))
    path = _write(
        tmp_path,
        _scenario(
            app_env={"ENV_FILE": str(app_env)},
            probes=[
                {
                    "name": "env",
                    "kind": "command",
                    "command": [sys.executable, "-c", DUMP_ENV, str(probe_env)],
                    "interval": "200ms",
                },
                {
                    "name": "as-runner",
                    "kind": "command",
                    "command": [sys.executable, "-c", DUMP_ENV, str(runner_env)],
                    "credentials": "runner",
                    "interval": "200ms",
                },
                # Signs with the dummy keys at the gateway, though the runner's AWS_PROFILE
                # names a profile only the runner's config file has.
                {"name": "whoami", "kind": "aws", "service": "sts", "call": "get_caller_identity"},
            ],
            objectives=[
                {"kind": "steady", "probe": "env"},
                {"kind": "steady", "probe": "whoami"},
            ],
        ),
    )
    result = _run(path)
    assert result.steady_before is True, result.reason
    app, probe = json.loads(app_env.read_text()), json.loads(probe_env.read_text())
    for env in (app, probe):
        assert _leaks(env, canaries) == []
        assert not {k for k in env if k.startswith("GAMEDAY_") and k != "GAMEDAY_ALERT_URL"} - {
            "GAMEDAY_APP_PORT"
        }
        assert env["HOME"] != canaries["HOME"]
        assert env["AWS_CONFIG_FILE"] == str(Path(env["HOME"], ".aws", "config"))
        assert env["HTTPS_PROXY"].startswith("http://") and "127.0.0.1" in env["HTTPS_PROXY"]
        assert env["NO_PROXY"] == "127.0.0.1,localhost,::1"
        assert "AWS_ACCESS_KEY_ID" not in env and "AWS_PROFILE" not in env
    assert app["PATH"] and app["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    # ~/.aws is the run's: the dummy keys, never the runner's file; the probes' own keys
    # in the probes' own HOME (their calls are counted apart from the app's).
    assert "aws_access_key_id = gameday-probe" in probe["__home_aws_credentials__"]
    assert app["HOME"] != probe["HOME"]
    assert app["AWS_SHARED_CREDENTIALS_FILE"] != probe["AWS_SHARED_CREDENTIALS_FILE"]
    # What the scenario says it wants, it gets: this probe runs as the runner.
    runner = json.loads(runner_env.read_text())
    assert runner["AWS_ACCESS_KEY_ID"] == canaries["AWS_ACCESS_KEY_ID"]
    whoami = next(p for p in result.probes if p.name == "whoami")
    # Healthy before the fault (steady), and what failed was the gateway's fault answer.
    assert whoami.samples and all("injected by gameday" in d for _, d in whoami.failures)
    assert result.egress == []


def test_an_sdk_given_a_real_endpoint_fails_closed_and_the_result_names_it(
    tmp_path: Path,
) -> None:
    probes: list[dict[str, object]] = [
        {"name": "api", "kind": "http", "url": "{app}/health", "interval": "200ms"}
    ]
    if AWS_CLI.exists():  # awscli v1 is a test dependency: the real CLI, as in finding 2
        probes.append(
            {
                "name": "cli",
                "kind": "command",
                "command": [
                    "env",  # one try: the CLI's retries would only slow the test down
                    "AWS_MAX_ATTEMPTS=1",
                    "AWS_RETRY_MODE=standard",
                    str(AWS_CLI),
                    "sts",
                    "get-caller-identity",
                    "--endpoint-url",
                    REAL_STS,
                    "--cli-connect-timeout",
                    "2",
                ],
                # The CLI's "could not connect" is exit 255: healthy here means failed closed.
                "expect": {"exit_code": 255},
                "interval": "500ms",
                "timeout": "20s",
            }
        )
    objectives: list[dict[str, object]] = [{"kind": "availability", "probe": "api", "target": 1}]
    if AWS_CLI.exists():
        objectives.append({"kind": "steady", "probe": "cli", "samples": 1})
    path = _write(
        tmp_path,
        _scenario(app_env={"MODE": "direct"}, probes=probes, objectives=objectives),
    )
    result = _run(path)
    assert result.status.value != "error", result.reason  # the drill went on
    by_source = {(e.host, e.port, e.source): e for e in result.egress}
    app = by_source[("sts.us-east-1.amazonaws.com", 443, "app")]
    assert app.attempts >= 3 and app.first_at is not None
    if AWS_CLI.exists():
        cli = by_source[("sts.us-east-1.amazonaws.com", 443, "probe")]
        assert cli.attempts >= 1
        assert result.steady_before is True, result.reason  # the CLI exited 255 in steady
    # The app's own calls to the gateway are untouched: its health never failed.
    api = next(o for o in result.objectives if o.kind == "availability")
    assert api.met, api.detail


def test_an_apps_profile_assumes_its_role_through_the_gateway_and_identity_loss_hits_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _canaries(tmp_path, monkeypatch)  # the runner's own profile must not get in the way
    path = _write(
        tmp_path,
        _scenario(
            app_env={"MODE": "profile", "AWS_PROFILE": "app"},
            aws_profiles={
                "app": {
                    "role_arn": ROLE_ARN,
                    "source_profile": "base",
                    "role_session_name": "gameday-app",
                },
                "base": {},
            },
            setup=[{"kind": "role", "name": "app-role"}],
            faults=[{"kind": "identity-loss", "start_after": "500ms", "duration": "1s"}],
            probes=[{"name": "api", "kind": "http", "url": "{app}/health", "interval": "100ms"}],
            objectives=[
                {"kind": "steady", "probe": "api"},
                {"kind": "rto", "probe": "api", "target": "5s"},
            ],
        ),
    )
    result = _run(path)
    assert result.steady_before is True, result.reason
    calls = {(s, o, outcome): n for s, o, outcome, n in result.gateway.calls}
    assumed_ok = calls.get(("sts", "AssumeRole", "forwarded"), 0)
    assumed_hit = sum(n for (s, o, out), n in calls.items() if (s, o) == ("sts", "AssumeRole"))
    assert assumed_ok >= 3, calls  # steady state: the role is assumed through the gateway
    assert assumed_hit - assumed_ok >= 3, calls  # and the fault answered those calls
    rto = next(o for o in result.objectives if o.kind == "rto")
    assert rto.impact_start is not None  # the app felt the identity outage
