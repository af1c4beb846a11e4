"""The gateway injector: rules become faults on the gameday gateway's admin API; and the
run's watch, which makes the gateway (or the egress proxy) see every call and refuse
destructive ones for the run.

Every fault carries a TTL (its window plus a margin), so the gateway drops it by itself even
when the runner dies or its admin API stops answering; a removal that failed says so. So does
the watch (the whole run plus a margin).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager

from gameday import __version__
from gameday.errors import EnvironmentFailure, GameDayError, NotRemovedError
from gameday.faults.rules import Rule
from gameday.gateway.client import GatewayClient, GatewayError
from gameday.gateway.metrics import calls_by_fault
from gameday.gateway.models import (
    Caller,
    CallsPage,
    FaultEffect,
    FaultMatch,
    FaultSpec,
    Latency,
    WatchSpec,
)
from gameday.scenario.models import Scenario
from gameday.scenario.probe_models import SteadyObjective
from gameday.scenario.target import CommandApp

WATCH_MARGIN_S = 120.0
"""Added to the longest a run can take, for the watch's TTL."""
DEMO_READY_S = 20.0
"""The demo app's ready timeout (``environments.app``), below this layer."""
WATCH_SETTLE_S = 10.0
"""How long the runner waits for the proxy to close the blind tunnels to AWS hosts the app
opened before the watch (it closes each between two calls, within about a second)."""


def fault_spec(rule: Rule, run_id: str) -> FaultSpec:
    """The gateway fault for ``rule``; its id carries the run so ``abort`` can find it."""
    latency = Latency(min_s=rule.latency_s[0], max_s=rule.latency_s[1]) if rule.latency_s else None
    status, code = rule.error if rule.error else (None, None)
    return FaultSpec(
        id=f"{run_id}.{rule.id}".replace("#", "-"),
        match=FaultMatch(
            services=rule.services,
            exclude_services=rule.exclude_services,
            regions=rule.regions,
            operations=rule.operations,
            probability=rule.probability,
        ),
        effect=FaultEffect(mode=rule.mode, latency=latency, status=status, code=code),
        ttl_seconds=rule.ttl_s,
    )


class GatewayInjector:
    """Injects one run's rules into one gateway (the client retries transient failures)."""

    def __init__(self, client: GatewayClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self._held: dict[str, tuple[Rule, FaultSpec]] = {}
        """Faults added and not yet known to be gone, by rule id."""

    @contextmanager
    def inject(self, rule: Rule) -> Iterator[None]:
        """Add the fault now; remove it on exit (its TTL removes it if we never get there)."""
        spec = fault_spec(rule, self.run_id)
        # Held before the PUT: a PUT that timed out may still have landed, and ``finish``
        # takes back whatever is held.
        self._held[rule.id] = (rule, spec)
        self.client.add(spec)
        try:
            yield
        finally:
            self._remove(rule, spec)

    def _remove(self, rule: Rule, spec: FaultSpec) -> None:
        try:
            self.client.remove(spec.id)  # a 404 is fine: it expired, or the PUT never landed
        except GameDayError as error:
            raise NotRemovedError(
                _not_removed(rule, spec, error.message, self.client.url), (rule.id,)
            ) from None
        self._held.pop(rule.id, None)

    def matched_calls(self, rules: Iterable[Rule]) -> dict[str, int]:
        """How many of the app's calls each rule acted on while in force, by rule id, from the
        gateway's counters (they outlive a fault's removal). The calls of gameday's own probes
        are not the app's: a fault that met only a probe tested nothing (DESIGN.md "One
        run"). GameDayError when the counters cannot be read."""
        counts = calls_by_fault(self.client.metrics(), Caller.APP)
        return {rule.id: counts.get(fault_spec(rule, self.run_id).id, 0) for rule in rules}

    def finish(self) -> None:
        """Remove every fault of this run still held; NotRemovedError names those left."""
        problems: list[str] = []
        ids: list[str] = []
        for rule, spec in list(self._held.values()):
            try:
                self._remove(rule, spec)
            except NotRemovedError as error:
                problems.append(error.message)
                ids.append(rule.id)
        if problems:
            raise NotRemovedError("; ".join(problems), tuple(ids))


def _not_removed(rule: Rule, spec: FaultSpec, why: str, url: str) -> str:
    return (
        f"fault {spec.id} ({rule.mode.value} on {', '.join(rule.services) or 'every service'}) "
        f"may still be in force: {why}; the gateway drops it by itself at the end of its TTL "
        f"({spec.ttl_seconds:g} s after it was added); to remove it now: "
        f"gameday abort --gateway {url}"
    )


def watch_ttl_s(scenario: Scenario) -> float:
    """The TTL of a run's watch: longer than any run of ``scenario`` can last once the watch
    is set (the app's ready timeout, steady state before and after, the drill, which the
    ``max_duration`` guardrail stops, and the read-back), plus ``WATCH_MARGIN_S``.

    It errs long on purpose: a watch that outlives a runner killed with SIGKILL costs some
    minutes of decryption and refused deletions; one that ended mid-run would let a
    destructive call through.
    """
    app = scenario.target.app
    ready_s = app.ready_timeout if isinstance(app, CommandApp) else DEMO_READY_S
    probes = {probe.name: probe for probe in scenario.probes}

    def sample_s(name: str) -> float:
        probe = probes.get(name)
        if probe is None:
            return 0.0
        return probe.interval + probe.retries.attempts * (probe.timeout + probe.retries.backoff)

    steady_s = sum(
        o.samples * sample_s(o.probe) for o in scenario.objectives if isinstance(o, SteadyObjective)
    )
    longest = ready_s + 2 * steady_s + scenario.guardrails.max_duration + scenario.read_back_s()
    return round(longest + WATCH_MARGIN_S, 3)


def hold_watch(
    client: GatewayClient,
    watch_id: str,
    stack: ExitStack,
    *,
    ttl_s: float,
    deny: bool,
    why: str,
    note: Callable[[str, str], None],
    settle_s: float = WATCH_SETTLE_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Set the run's watch on ``client``'s gateway and check, through ``GET /_gameday/calls``,
    that it sees every call now (and refuses destructive ones when ``deny``); ``stack`` ends
    it. ``why``: what in the scenario needs it, for the refusal. EnvironmentFailure when the
    gateway does not support watches (older than them) or does not report this one."""
    # Registered before the PUT: a PUT that timed out may still have landed.
    stack.callback(_end_watch, client, watch_id, note)
    try:
        client.add_watch(WatchSpec(id=watch_id, ttl_seconds=ttl_s, deny_destructive=deny))
    except GatewayError as error:
        if error.status in (404, 405):
            what = f"PUT /_gameday/watches/ answered {error.status}"
            raise _older(client.url, what, why) from None
        raise
    page = client.calls(since=0)
    deadline = clock() + settle_s
    while True:
        problem = _watch_problem(page, watch_id, deny, settle_s)
        if problem is None:
            break
        if page.watches is None:
            raise _older(client.url, "GET /_gameday/calls reports no watches", why)
        if page.sees_all_calls is not False or clock() >= deadline:
            raise EnvironmentFailure(
                f"the gateway at {client.url} accepted watch {watch_id} but {problem}, and "
                f"this drill must see every call the app makes ({why})",
                hint="check that nothing else ends watches there (DELETE /_gameday/watches/"
                "ID), then run again",
            )
        sleep(0.1)
        page = client.calls(since=page.last_seq)
    denying = "; destructive calls are refused" if deny else ""
    note("environment", f"watching every call at {client.url} (TTL {ttl_s:g} s){denying}")


def _watch_problem(page: CallsPage, watch_id: str, deny: bool, settle_s: float) -> str | None:
    if page.watches is None or all(w.id != watch_id for w in page.watches):
        return "does not report it"
    if deny and not page.deny_destructive:
        return "does not refuse destructive calls"
    if not page.sees_all_calls:
        return f"still holds tunnels to AWS hosts open blind after {settle_s:g} s"
    return None


def _older(url: str, what: str, why: str) -> EnvironmentFailure:
    return EnvironmentFailure(
        f"the gateway or egress proxy at {url} does not support watches ({what}): this drill "
        f"must see every call the app makes ({why}), and without a watch the proxy tunnels "
        "most AWS hosts blind",
        hint=f"upgrade gameday where it runs (the sidecar image, or the package its systemd "
        f"unit runs) to {__version__} or later; no fault was injected",
    )


def _end_watch(client: GatewayClient, watch_id: str, note: Callable[[str, str], None]) -> None:
    """End the run's watch; one that cannot be ended is said, and ends at its TTL."""
    try:
        client.remove_watch(watch_id)
    except GameDayError as error:
        note(
            "note",
            f"could not end watch {watch_id} at {client.url}: {error.message}; it ends by "
            "itself at its TTL",
        )
