"""Which calls a fault waits for, and how many it matched, in words: what ``plan`` promises,
what an inconclusive run's reason names, and what every report shows per fault.

One wording for all of them, so the plan's promise and the verdict's reason read alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from gameday.result import FaultRecord

INCONCLUSIVE_RULE = "a fault that matches none makes the run inconclusive"

NOT_EXPECTED = (
    "expect_calls: false (the drill shows the app does not depend on it; matching nothing is fine)"
)


class Scoped(Protocol):
    """What a fault acts on: a rule as planned, or a fault as recorded. Empty means "any"."""

    @property
    def services(self) -> tuple[str, ...]: ...

    @property
    def exclude_services(self) -> tuple[str, ...]: ...

    @property
    def operations(self) -> tuple[str, ...]: ...

    @property
    def regions(self) -> tuple[str, ...]: ...


def _calls(scope: Scoped) -> str:
    services = ", ".join(scope.services) or "any service"
    if scope.exclude_services:
        services += f" except {', '.join(scope.exclude_services)}"
    operations = " or ".join(scope.operations) if scope.operations else "(any operation)"
    regions = f"in {', '.join(scope.regions)}" if scope.regions else "in any region"
    return f"{services} {operations} {regions}"


def expected_calls(scopes: Iterable[Scoped]) -> str:
    """'sts (any operation) in us-east-1': the calls a fault's rules wait for, each target
    once (a ramp's steps share theirs), alternatives joined by '; or to'."""
    phrases = list(dict.fromkeys(_calls(scope) for scope in scopes))
    return "; or to ".join(phrases) if phrases else "no call through the gateway"


def expectation(scopes: Iterable[Scoped], expect_calls: bool) -> str:
    """The plan's line for one fault: what it waits for and what matching nothing means."""
    if not expect_calls:
        return NOT_EXPECTED
    return f"expects calls to {expected_calls(scopes)} while in force; {INCONCLUSIVE_RULE}"


def by_fault(faults: Sequence[FaultRecord]) -> dict[str, list[FaultRecord]]:
    """The recorded rules grouped by the scenario fault they came from, in order."""
    grouped: dict[str, list[FaultRecord]] = {}
    for record in faults:
        grouped.setdefault(record.fault, []).append(record)
    return grouped


def matched_cell(record: FaultRecord) -> str:
    """One rule's matched calls as a table cell: '12', '0 (not expected)', 'not counted'."""
    if record.injected_at is None:
        return "-"
    if record.matched_calls is None:
        return "not counted"
    if record.matched_calls == 0 and not record.expect_calls:
        return "0 (not expected)"
    return str(record.matched_calls)


def matched_lines(faults: Sequence[FaultRecord]) -> list[str]:
    """One line per fault for a summary: 'identity-loss-0: 12 call(s) matched while in force
    (sts: ...)', or why nobody counted them."""
    lines = []
    for name, records in by_fault(faults).items():
        injected = [r for r in records if r.injected_at is not None]
        if not injected:
            lines.append(f"{name}: never injected")
            continue
        unknown = next((r for r in injected if r.matched_calls is None), None)
        if unknown is not None:
            # No reason either: a result from before gameday counted them; nothing to say.
            if unknown.matched_calls_unknown:
                why = unknown.matched_calls_unknown
                lines.append(f"{name}: matched calls not counted ({why})")
            continue
        total = sum(r.matched_calls or 0 for r in injected)
        text = f"{name}: {total} call(s) matched while in force"
        if len(injected) > 1:
            text += " (" + ", ".join(f"{r.id} {r.matched_calls}" for r in injected) + ")"
        if total == 0:
            text += (
                ", none expected (expect_calls: false)"
                if not records[0].expect_calls
                else f"; it waited for calls to {expected_calls(injected)}"
            )
        lines.append(text)
    return lines
