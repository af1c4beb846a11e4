"""``gameday plan --env aws`` with ``injector: egress``: the checks, the rules the proxy will
hold, and the hosts it will decrypt. Nothing here touches the network.

The rules are the gateway's own (``faults.rules``): a scenario's faults mean the same thing on
the emulator and through the proxy. What differs is where they bite: only calls the app's SDK
sends through the proxy, never what the container runtime does for it (see ``LIMITS``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gameday.checks import Check, CheckOutcome
from gameday.egress.ca import PERMITTED_SUFFIXES
from gameday.egress.hosts import candidate_hosts, covers, scope_of
from gameday.faults.rules import Rule
from gameday.fis.aws_config import AwsEnvironment
from gameday.fis.plan import approval_checks
from gameday.listen import is_loopback
from gameday.scenario.durations import format_duration
from gameday.scenario.fault_models import FaultKind, FisAction
from gameday.scenario.models import DestructiveCallsObjective, Scenario

STOP_CONDITION_POLL_S = 5.0
"""How often the runner reads the stop-condition alarms (DescribeAlarms) while faults are in
force: FIS reacts to an alarm within seconds too, and one call per 5 s costs nothing."""

ALWAYS_LIMITS: tuple[str, ...] = (
    "only calls the app's SDK sends through HTTPS_PROXY are faulted; a client that ignores the "
    "proxy variables (the JavaScript SDK v3 without a proxy agent) is not",
    "a connection the app opened before a fault is closed between two calls, so the next one "
    "is decrypted; the one call sent at that instant meets a closed connection (SDKs retry it)",
)
KIND_LIMITS: Mapping[FaultKind, str] = {
    FaultKind.REGISTRY_LOSS: "registry-loss: image pulls run in the container runtime "
    "(ECS agent, kubelet, containerd), not in the app: the proxy fails the app's own ECR "
    "calls only; losing pulls needs FIS network actions (injector: fis)",
    FaultKind.LOGGING_LOSS: "logging-loss: log drivers (awslogs, FireLens, the CloudWatch "
    "agent) ship logs outside the app: the proxy fails the app's own CloudWatch Logs and "
    "CloudTrail calls only; losing the drivers' path needs FIS network actions",
}


@dataclass(frozen=True)
class EgressPlan:
    """The egress plan of one scenario on one account, with its checks."""

    scenario: Scenario
    environment: AwsEnvironment
    """Merged over the scenario's target.aws."""
    rules: tuple[Rule, ...]
    hosts: tuple[str, ...]
    """What the proxy will decrypt while the faults are in force; every other host is
    tunnelled blind."""
    limits: tuple[str, ...]
    checks: tuple[Check, ...]
    watch_reasons: tuple[str, ...] = ()
    """What in the scenario needs every AWS call seen: then the runner sets a watch and the
    proxy decrypts every AWS host for the whole run, not only ``hosts`` during faults."""

    @property
    def ok(self) -> bool:
        """No check failed."""
        return all(c.outcome is not CheckOutcome.FAIL for c in self.checks)

    @property
    def url(self) -> str | None:
        """The proxy's admin API, or None when the environment names none (or the runner
        starts it)."""
        egress = self.environment.egress
        return egress.url.rstrip("/") if egress is not None and egress.url else None


def watch_reasons(scenario: Scenario) -> tuple[str, ...]:
    """What in ``scenario`` needs every AWS call the app makes seen, counted (and refused,
    for ``target.deny_destructive``): the same three things as ``engine.guard.watches_calls``.
    """
    reasons = []
    if scenario.target.deny_destructive:
        reasons.append("target.deny_destructive")
    if any(isinstance(o, DestructiveCallsObjective) for o in scenario.objectives):
        reasons.append("a destructive_calls objective")
    if scenario.guardrails.destructive_limit is not None:
        reasons.append("a destructive_calls guardrail")
    return tuple(reasons)


def describe_watch(reasons: Sequence[str]) -> str:
    """What the watch does for the run, and why, for the plan and the run's events."""
    suffixes = ", ".join(f"*.{suffix}" for suffix in PERMITTED_SUFFIXES)
    return (
        f"every AWS host ({suffixes}) is decrypted for the whole run, not only during "
        f"faults: {' and '.join(reasons)} must see every AWS call the app makes, on any "
        "service (a blind tunnel would hide it); each call pays the decrypted cost "
        "(docs/egress.md)"
    )


def decrypted_hosts(rules: Sequence[Rule]) -> tuple[str, ...]:
    """The host names (``*`` for any label) the proxy decrypts for ``rules``, in order."""
    hosts: dict[str, None] = {}
    for rule in rules:
        regions = rule.regions or ("*",)
        if not rule.services:
            for region in regions:
                hosts[f"*.{region}.amazonaws.com (every service)"] = None
            continue
        for service in rule.services:
            for region in regions:
                for host in candidate_hosts(service, region):
                    scope = scope_of(host.replace("*", "x"))
                    if scope is not None and covers(scope, rule.services, rule.regions):
                        hosts[host] = None
    return tuple(hosts)


def egress_checks(
    scenario: Scenario, env: AwsEnvironment, rules: Sequence[Rule], environ: Mapping[str, str]
) -> list[Check]:
    """Approval, allow-list, stop conditions, the proxy's address and token, the faults."""
    return [
        *approval_checks(env),
        Check(
            "stop conditions",
            _outcome(bool(env.stop_conditions)),
            f"{len(env.stop_conditions)} CloudWatch alarm(s), read every "
            f"{STOP_CONDITION_POLL_S:g}s while faults are in force: one in ALARM removes them all"
            if env.stop_conditions
            else "none: list at least one CloudWatch alarm under 'stop_conditions'",
        ),
        _proxy_check(scenario, env, environ),
        _faults_check(scenario, rules),
    ]


def _outcome(ok: bool) -> CheckOutcome:
    return CheckOutcome.PASS if ok else CheckOutcome.FAIL


def _proxy_check(scenario: Scenario, env: AwsEnvironment, environ: Mapping[str, str]) -> Check:
    if env.egress is None:
        return Check(
            "egress proxy",
            CheckOutcome.FAIL,
            "none: set egress.url in the environment file (the admin API of `gameday egress` "
            "beside the app, e.g. through a port forward)",
        )
    if env.egress.start:
        if scenario.target.app is None:
            return Check(
                "egress proxy",
                CheckOutcome.FAIL,
                "start: true needs target.app: the runner starts a proxy only for an app it "
                "starts (an app left pointed at a proxy that lives only during drills would "
                "lose AWS between them)",
            )
        return Check(
            "egress proxy",
            CheckOutcome.PASS,
            "started by the runner on 127.0.0.1 with a token of its own, target.app behind it",
        )
    assert env.egress.url is not None  # the model asks for url or start
    url, variable = env.egress.url.rstrip("/"), env.egress.token_env
    host = urlsplit(url).hostname or ""
    token = bool(environ.get(variable))
    if not token and not is_loopback(host):
        return Check(
            "egress proxy",
            CheckOutcome.FAIL,
            f"{url} is not loopback and ${variable} is unset: its admin API needs a token",
        )
    how = f"token from ${variable}" if token else f"no token (${variable} unset; loopback)"
    return Check("egress proxy", CheckOutcome.PASS, f"{url}, {how}; reached at run")


def _faults_check(scenario: Scenario, rules: Sequence[Rule]) -> Check:
    fis_only = [
        name
        for name, fault in zip(scenario.fault_names(), scenario.faults, strict=True)
        if isinstance(fault, FisAction)
    ]
    if fis_only:
        return Check(
            "every fault maps onto the proxy",
            CheckOutcome.FAIL,
            f"fis-action faults need injector: fis: {', '.join(fis_only)}",
        )
    longest = max((rule.end_s for rule in rules), default=0.0)
    return Check(
        "every fault maps onto the proxy",
        CheckOutcome.PASS,
        f"{len(scenario.faults)} fault(s), {len(rules)} rule(s), the last removed at "
        f"{format_duration(longest)}",
    )


def plan_egress(
    scenario: Scenario,
    env: AwsEnvironment,
    rules: Sequence[Rule],
    environ: Mapping[str, str] | None = None,
) -> EgressPlan:
    """Plan ``scenario``'s ``rules`` on the account ``env`` (merged) describes."""
    kinds = {rule.kind for rule in rules}
    limits = (*(KIND_LIMITS[k] for k in KIND_LIMITS if k in kinds), *ALWAYS_LIMITS)
    checks = egress_checks(scenario, env, rules, os.environ if environ is None else environ)
    hosts = decrypted_hosts(rules)
    return EgressPlan(
        scenario, env, tuple(rules), hosts, limits, tuple(checks), watch_reasons(scenario)
    )


def egress_plan_dict(plan: EgressPlan) -> dict[str, Any]:
    """The plan as JSON-ready data (``gameday plan --env aws --format json``)."""
    return {
        "scenario": plan.scenario.metadata.name,
        "environment": "aws",
        "injector": "egress",
        "proxy": plan.url,
        "ok": plan.ok,
        "checks": [
            {"name": c.name, "outcome": c.outcome.value, "detail": c.detail} for c in plan.checks
        ],
        "rules": [
            {
                "id": rule.id,
                "mode": rule.mode.value,
                "services": list(rule.services),
                "regions": list(rule.regions),
                "operations": list(rule.operations),
                "start_s": rule.start_s,
                "end_s": rule.end_s,
            }
            for rule in plan.rules
        ],
        "decrypted_hosts": list(plan.hosts),
        "decrypts_every_aws_host": bool(plan.watch_reasons),
        "watch_reasons": list(plan.watch_reasons),
        "limits": list(plan.limits),
    }


def _where(plan: EgressPlan) -> str:
    egress = plan.environment.egress
    return "the runner starts" if egress is not None and egress.start else "(none set)"


def egress_plan_text(plan: EgressPlan) -> str:
    """The plan for people: checks, rules, decrypted hosts, limits."""
    lines = [
        f"scenario {plan.scenario.metadata.name} on aws through the egress proxy "
        + (f"at {plan.url}" if plan.url else _where(plan)),
        "checks:",
        *(f"  {c.outcome.value:<7} {c.name}: {c.detail}" for c in plan.checks),
        "rules (from the start of the drill):",
    ]
    for rule in plan.rules:
        services = ", ".join(rule.services) or "every service"
        operations = f" ({', '.join(rule.operations)})" if rule.operations else ""
        lines.append(
            f"  {rule.id}: {rule.mode.value} on {services}{operations} in "
            f"{', '.join(rule.regions) or 'every region'}, "
            f"{format_duration(rule.start_s)}..{format_duration(rule.end_s)}"
        )
    if plan.watch_reasons:
        lines += [
            "decrypted for the whole run:",
            f"  {describe_watch(plan.watch_reasons)}",
            "the faults' hosts:",
        ]
    else:
        lines.append("decrypted while a fault is in force (every other host is tunnelled blind):")
    lines += [
        *(f"  {host}" for host in plan.hosts),
        "limits:",
        *(f"  - {limit}" for limit in plan.limits),
    ]
    return "\n".join(lines) + "\n"


def egress_summary(plan: EgressPlan) -> str:
    """What a person approves for one drill through the proxy: its rules, their services and
    the last removal (asked before any drill starts, and again as the drill starts)."""
    services = sorted({s for rule in plan.rules for s in rule.services}) or ["every service"]
    last = max((rule.end_s for rule in plan.rules), default=0.0)
    return (
        f"run {plan.scenario.metadata.name} through the egress proxy at {plan.url} "
        f"({len(plan.rules)} rule(s) on {', '.join(services)}, the last removed at "
        f"{format_duration(last)})"
    )
