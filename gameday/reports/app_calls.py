"""What the app did, in the words every format says it in (docs/audit.md).

From the result's ``calls``: how many calls of each class the app made through the gateway,
every destructive one (when, what, on which resource, what became of it), and which were
refused by ``deny_destructive``; apart, how many calls gameday's own probes made there (they
are not the app's). A result where nobody counted (a real account, an older result) adds
nothing to a report.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric

from gameday.kinds import CallClass
from gameday.result import DestructiveCall, RunResult

APP_CALLS_HEADING = "What the app did"
DESTRUCTIVE_HEAD = ["at", "call", "resource", "outcome"]


def counted(result: RunResult) -> bool:
    """Whether the result has the app's calls to show."""
    return result.calls.counted


def summary_line(result: RunResult) -> str:
    """'12 calls: 9 read, 2 write, 1 destructive (1 refused by deny_destructive)'."""
    calls = result.calls
    if not calls.counted:
        return calls.read_error or "the app's calls were not counted"
    by_class = calls.by_class()
    total = sum(by_class.values())
    text = f"{total} call(s): " + ", ".join(f"{by_class[c]} {c.value}" for c in CallClass)
    refused = len(calls.refused)
    if refused:
        text += f" ({refused} refused by deny_destructive)"
    elif calls.deny_destructive:
        text += " (deny_destructive on: none to refuse)"
    if calls.destructive_dropped:
        text += f"; {calls.destructive_dropped} destructive call(s) too old to list"
    return text


def probe_line(result: RunResult) -> str | None:
    """ "gameday's own probes made 24 call(s): 24 read, 0 write, 0 destructive, not counted
    above"; None when they made none through the gateway (or an older result)."""
    by_class = result.calls.probe_by_class()
    total = sum(by_class.values())
    if not total:
        return None
    text = f"gameday's own probes made {total} call(s): " + ", ".join(
        f"{by_class[c]} {c.value}" for c in CallClass
    )
    denied = sum(c.count for c in result.calls.probe_counts if c.outcome == "denied")
    if denied:
        text += f" ({denied} refused by deny_destructive)"
    return text + ", not counted as the app's"


def destructive_cells(call: DestructiveCall) -> list[str]:
    """One destructive call as the cells of ``DESTRUCTIVE_HEAD``."""
    at = f"{call.at:.2f}s" if call.at is not None else "-"
    return [at, f"{call.service} {call.operation}", call.resource or "-", call.outcome]


def destructive_lines(result: RunResult) -> list[str]:
    """'t=3.20s dynamodb DeleteTable orders (denied)', one per destructive call."""
    return [
        f"{at} {what}" + (f" {resource}" if resource != "-" else "") + f" ({outcome})"
        for at, what, resource, outcome in map(destructive_cells, result.calls.destructive)
    ]


def calls_families(latest: Sequence[RunResult]) -> Iterator[Metric]:
    """``gameday_app_calls{scenario, class}`` and ``gameday_app_destructive_calls{scenario,
    outcome}`` of each scenario's last run (where the gateway counted them)."""
    by_class = GaugeMetricFamily(
        "gameday_app_calls",
        "Calls the app made through the gateway in the last run, by class.",
        labels=["scenario", "class"],
    )
    destructive = GaugeMetricFamily(
        "gameday_app_destructive_calls",
        "Destructive calls the app made in the last run, by what became of them.",
        labels=["scenario", "outcome"],
    )
    for result in latest:
        if not result.calls.counted:
            continue
        name = result.scenario.name
        for call_class, count in result.calls.by_class().items():
            by_class.add_metric([name, call_class.value], float(count))
        outcomes: dict[str, int] = {}
        for call in result.calls.destructive:
            outcomes[call.outcome] = outcomes.get(call.outcome, 0) + 1
        for outcome, count in sorted(outcomes.items()):
            destructive.add_metric([name, outcome], float(count))
    yield from (by_class, destructive)
