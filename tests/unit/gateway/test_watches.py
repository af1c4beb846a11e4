"""Watches without a server: their TTLs on a fake clock, what the ledger reports while they
hold, how long a run's watch lasts, and what the egress plan says about them."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.egress.plan import egress_plan_dict, egress_plan_text, plan_egress, watch_reasons
from gameday.engine.guard import watches_calls
from gameday.fis.aws_config import AwsEnvironment, merge_environment
from gameday.fis.template import rules_for
from gameday.gateway.classify import RequestInfo
from gameday.gateway.ledger import CallLedger, Watches
from gameday.gateway.models import Outcome, WatchSpec
from gameday.injectors.gateway import WATCH_MARGIN_S, watch_ttl_s
from gameday.kinds import CallClass
from gameday.scenario.loader import load_scenario
from gameday.scenario.models import Scenario
from gameday.scenario.probe_models import DataProbe


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_watch_holds_until_its_ttl_and_not_a_moment_longer() -> None:
    clock = Clock()
    watches = Watches(clock)
    status, created = watches.put(WatchSpec(id="run", ttl_seconds=10, deny_destructive=True))
    assert created and status.expires_in_s == 10
    clock.now += 9.999
    assert watches.active and watches.denying and len(watches) == 1
    clock.now += 0.001
    assert not watches.active and not watches.denying and watches.get("run") is None
    assert watches.statuses() == () and not watches.remove("run")


def test_a_put_again_restarts_the_ttl_and_replaces_the_denial() -> None:
    clock = Clock()
    watches = Watches(clock)
    watches.put(WatchSpec(id="run", ttl_seconds=10, deny_destructive=True))
    clock.now += 8
    status, created = watches.put(WatchSpec(id="run", ttl_seconds=10))
    assert not created and status.expires_in_s == 10 and not watches.denying
    clock.now += 8
    assert watches.active


def test_any_denying_watch_denies_and_the_list_is_soonest_first() -> None:
    clock = Clock()
    watches = Watches(clock)
    watches.put(WatchSpec(id="long", ttl_seconds=60, deny_destructive=True))
    watches.put(WatchSpec(id="short", ttl_seconds=5))
    assert [w.id for w in watches.statuses()] == ["short", "long"] and watches.denying
    assert watches.remove("long")
    assert watches.active and not watches.denying


def _destructive() -> RequestInfo:
    return RequestInfo(
        service="dynamodb", region="us-east-1", operation="DeleteTable", protocol=None
    )


def test_the_ledger_denies_while_a_watch_denies_or_always_with_the_flag() -> None:
    clock = Clock()
    ledger = CallLedger(clock=clock, wall_clock=lambda: 0.0)
    assert not ledger.deny_destructive and not ledger.watching
    ledger.watches.put(WatchSpec(id="run", ttl_seconds=5, deny_destructive=True))
    ledger.record(_destructive(), CallClass.DESTRUCTIVE, Outcome.DENIED, "orders")
    page = ledger.page()
    assert page.deny_destructive and page.sees_all_calls
    assert page.watches is not None and [w.id for w in page.watches] == ["run"]
    clock.now += 5
    assert not ledger.page().deny_destructive and ledger.page().watches == ()
    always = CallLedger(deny_destructive=True, clock=clock)
    assert always.deny_destructive and always.watching and always.page().watches == ()


def test_the_ledger_reports_what_its_owner_sees() -> None:
    seen = [False]
    ledger = CallLedger(sees_all_calls=lambda: seen[0])
    assert ledger.page().sees_all_calls is False
    seen[0] = True
    assert ledger.page().sees_all_calls is True
    assert CallLedger().page().sees_all_calls is True  # the gateway: every call it is sent


SCENARIO = """apiVersion: gameday/v1
metadata: {{name: w}}
target: {{deny_destructive: {deny}}}
faults: [{{kind: identity-loss, duration: 1s}}]
probes:
  - {{name: api, kind: http, url: 'http://127.0.0.1:1/health', interval: 2s, timeout: 3s}}
  - {{name: markers, kind: data, interval: 1s, timeout: 1s,
     write_url: 'http://127.0.0.1:1/m',
     read: {{url: 'http://127.0.0.1:1/m/{{marker}}', settle: 4s, deadline: 20s}}}}
objectives: [{{kind: steady, probe: api, samples: 5}}{objectives}]
guardrails: {{max_duration: {max_duration}{guardrails}}}
observe: {{max: 30s}}
"""


def _scenario(
    tmp_path: Path,
    *,
    deny: bool = False,
    objective: bool = False,
    guardrail: bool = False,
    max_duration: str = "2m",
) -> Scenario:
    path = tmp_path / "s.yaml"
    path.write_text(
        SCENARIO.format(
            deny=str(deny).lower(),
            objectives=", {kind: destructive_calls, target: 0}" if objective else "",
            guardrails=", abort_when: [{destructive_calls: 1}]" if guardrail else "",
            max_duration=max_duration,
        )
    )
    return load_scenario(path).scenario


def test_a_run_watch_outlasts_the_longest_run(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path)
    api, markers = scenario.probes
    steady_s = 5 * (api.interval + api.timeout + api.retries.backoff)
    assert isinstance(markers, DataProbe)
    read_s = markers.read.settle + markers.read.deadline + markers.timeout
    demo_ready_s = 20.0  # no target.app: the demo's ready timeout
    longest_s = demo_ready_s + 2 * steady_s + scenario.guardrails.max_duration + read_s
    assert watch_ttl_s(scenario) == pytest.approx(longest_s + WATCH_MARGIN_S)
    longer = _scenario(tmp_path, max_duration="10m")
    assert watch_ttl_s(longer) - watch_ttl_s(scenario) == pytest.approx(8 * 60)


@pytest.mark.parametrize(
    ("flags", "reasons"),
    [
        ({}, ()),
        ({"deny": True}, ("target.deny_destructive",)),
        ({"objective": True}, ("a destructive_calls objective",)),
        ({"guardrail": True}, ("a destructive_calls guardrail",)),
        (
            {"deny": True, "objective": True, "guardrail": True},
            (
                "target.deny_destructive",
                "a destructive_calls objective",
                "a destructive_calls guardrail",
            ),
        ),
    ],
)
def test_the_plan_watches_exactly_when_the_drill_watches_calls(
    tmp_path: Path, flags: dict[str, bool], reasons: tuple[str, ...]
) -> None:
    scenario = _scenario(
        tmp_path,
        deny=flags.get("deny", False),
        objective=flags.get("objective", False),
        guardrail=flags.get("guardrail", False),
    )
    assert watch_reasons(scenario) == reasons
    assert bool(reasons) == watches_calls(scenario)  # the engine's own test, the same answer


def _egress_plan(scenario: Scenario):  # type: ignore[no-untyped-def]
    env = AwsEnvironment.model_validate(
        {
            "accounts": ["123456789012"],
            "stop_conditions": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"],
            "injector": "egress",
            "egress": {"url": "http://127.0.0.1:4580"},
        }
    )
    merged = merge_environment(scenario, env)
    return plan_egress(scenario, merged, rules_for(scenario), environ={})


def test_the_egress_plan_says_every_aws_host_is_decrypted_and_why(tmp_path: Path) -> None:
    plan = _egress_plan(_scenario(tmp_path, deny=True))
    text = egress_plan_text(plan)
    assert "decrypted for the whole run:" in text
    assert "every AWS host (*.amazonaws.com, *.amazonaws.com.cn, *.api.aws)" in text
    assert "target.deny_destructive must see every AWS call the app makes" in text
    data = egress_plan_dict(plan)
    assert data["decrypts_every_aws_host"] is True
    assert data["watch_reasons"] == ["target.deny_destructive"]
    quiet = _egress_plan(_scenario(tmp_path))
    assert "decrypted for the whole run" not in egress_plan_text(quiet)
    assert egress_plan_dict(quiet)["decrypts_every_aws_host"] is False
