"""Identity drills end to end (embedded: a real moto server, the real gateway, a loopback app,
real probes), judged by the app's calls alone:

- a ``federation_only`` identity-loss meets an app whose AssumeRoleWithWebIdentity is unsigned
  (no credential scope, no region in the gateway's Host): the gateway takes it to be in the
  drill's home region, fails it, and the drill is graded, not ``inconclusive``;
- an identity-loss whose only STS caller is an ``aws`` probe tested nothing: the probe's calls
  are failed, but they are not the app's, so the run is ``inconclusive`` (exit 3); the same
  drill with an app that calls STS is graded.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.engine.suite import exit_code_for
from gameday.errors import ExitCode
from gameday.kinds import RunStatus
from gameday.result import RunResult
from gameday.scenario.loader import load_scenario

APP = Path(__file__).resolve().with_name("identity_app.py")
STS_PROBE = (
    "  - {name: identity, kind: aws, service: sts, call: get_caller_identity, interval: 100ms,\n"
    "     timeout: 2s}\n"
)


def _drill(folder: Path, *, sts_call: str, fault: str, probes: str = "") -> RunResult:
    folder.mkdir(parents=True, exist_ok=True)
    scenario = folder / "drill.yaml"
    scenario.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: identity-calls}\n"
        "target:\n"
        "  regions: [eu-west-1]\n"
        "  app:\n"
        f"    command: ['{sys.executable}', '{APP}']\n"
        f"    env: {{STS_CALL: {sts_call}}}\n"
        "    health_url: 'http://127.0.0.1:{port}/health'\n"
        "    ready_timeout: 15s\n"
        f"faults: [{{name: idp-down, kind: identity-loss, {fault}start_after: 300ms,\n"
        "          duration: 700ms}]\n"
        "probes:\n"
        "  - {name: work, kind: http, url: '{app}/work', interval: 100ms, timeout: 2s}\n"
        f"{probes}"
        "objectives:\n"
        "  - {kind: availability, probe: work, target: 0.5}\n"
        "observe: {max: 2s, recovery_window: 200ms}\n"
    )
    return run_drill(make_plan(load_scenario(scenario)), RunOptions(seed=1), time.monotonic)


def _gateway_calls(result: RunResult, operation: str, outcome: str) -> int:
    return sum(n for _, o, out, n in result.gateway.calls if (o, out) == (operation, outcome))


def test_federation_only_meets_the_apps_unsigned_web_identity_call(tmp_path: Path) -> None:
    result = _drill(tmp_path, sts_call="web-identity", fault="federation_only: true, ")

    assert result.status is not RunStatus.INCONCLUSIVE, result.reason
    (fault,) = result.faults
    assert fault.operations == ("AssumeRoleWithSAML", "AssumeRoleWithWebIdentity")
    assert fault.regions == ("eu-west-1",)
    failed = _gateway_calls(result, "AssumeRoleWithWebIdentity", "error")
    assert fault.matched_calls is not None and fault.matched_calls == failed > 0
    assert exit_code_for([result]) in (ExitCode.OK, ExitCode.OBJECTIVE_MISSED)


@pytest.mark.parametrize(
    ("sts_call", "status"),
    [("none", RunStatus.INCONCLUSIVE), ("caller", None)],
    ids=["only-the-probe-calls-sts", "the-app-calls-sts"],
)
def test_a_fault_only_a_probe_met_tested_nothing(
    tmp_path: Path, sts_call: str, status: RunStatus | None
) -> None:
    result = _drill(tmp_path, sts_call=sts_call, fault="", probes=STS_PROBE)

    # The probe met the fault either way: the gateway failed its calls.
    probe = next(p for p in result.probes if p.name == "identity")
    assert probe.failures, "the aws probe never saw the fault"
    (fault,) = result.faults
    assert fault.matched_calls is not None
    app_failed = sum(
        c.count
        for c in result.calls.counts
        if (c.service, c.operation, c.outcome) == ("sts", "GetCallerIdentity", "error")
    )
    assert fault.matched_calls == app_failed  # the app's, never the probe's
    if status is RunStatus.INCONCLUSIVE:
        assert result.status is RunStatus.INCONCLUSIVE
        assert exit_code_for([result]) is ExitCode.COULD_NOT_RUN
        assert result.reason is not None and "'idp-down'" in result.reason
        assert (result.score, fault.matched_calls) == (None, 0)
    else:
        assert result.status in (RunStatus.PASSED, RunStatus.FAILED), result.reason
        assert result.score is not None and fault.matched_calls > 0
