"""What a run records as it goes: events, samples per probe, fault windows.

Everything lands here first, so that a run that dies still has what it had; the result is
assembled from it at the end, whatever the end was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from gameday.faults.rules import Rule
from gameday.grading.timeline import Sample
from gameday.redact import redact

Listener = Callable[["Recorder", str, str], None]
"""(recorder, event kind, detail): for the live view."""


@dataclass
class FaultWindowRecord:
    """When one rule was really in force, on the run clock."""

    rule: Rule
    injected_at: float | None = None
    removed_at: float | None = None
    """Set only once the removal succeeded (DESIGN.md "One run")."""
    removal_tried_at: float | None = None
    """When the drill last tried to remove it: the end of the window as graded when the
    removal failed (the fault may have lasted longer; the rollback says so)."""
    not_removed: str | None = None
    """Why the fault may still be in force: its removal failed after bounded retries."""


@dataclass
class Recorder:
    """The run's timeline, on the run clock (seconds since the run started)."""

    clock: Callable[[], float]
    origin: float
    events: list[tuple[float, str, str]] = field(default_factory=list)
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    faults: dict[str, FaultWindowRecord] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)
    phase: str = "starting"
    failure: str | None = None
    """Set by ``fail``: the tool itself failed (an injector's API, the environment) and the
    drill must stop, roll back, and end as an error naming it."""

    def now(self) -> float:
        """Seconds since the run started."""
        return self.clock() - self.origin

    def event(self, kind: str, detail: str) -> None:
        """Record a timeline event and tell the listeners, credentials redacted (a probe URL
        or a command's output in an error must not reach the live view or the result)."""
        detail = redact(detail)
        self.events.append((round(self.now(), 6), kind, detail))
        for listener in self.listeners:
            listener(self, kind, detail)

    def enter(self, phase: str) -> None:
        """A new phase of the run (DESIGN.md "One run, start to end")."""
        self.phase = phase
        self.event("phase", phase)

    def fail(self, reason: str) -> None:
        """The tool failed under the drill; the first reason is the one the run ends with.
        Safe from any thread: the drill reads ``failure`` on its next observation tick."""
        if self.failure is None:
            self.failure = reason
        self.event("error", reason)

    def sample(self, probe: str, sample: Sample) -> None:
        """Keep one probe sample; an unhealthy one's detail (a command's stderr, an error
        naming a URL) with credentials redacted, as the live view shows it."""
        if not sample.ok and sample.detail:
            sample = replace(sample, detail=redact(sample.detail))
        self.samples.setdefault(probe, []).append(sample)

    @property
    def t0(self) -> float | None:
        """When the first fault was injected."""
        times = [f.injected_at for f in self.faults.values() if f.injected_at is not None]
        return min(times) if times else None

    @property
    def tend(self) -> float | None:
        """When the last fault was removed; None while any is still in force. A fault whose
        removal failed counts from the last try, so the drill can still be graded; its
        rollback problem is shown at the top of every report."""
        ends = [
            f.removed_at if f.removed_at is not None else f.removal_tried_at
            for f in self.faults.values()
            if f.injected_at is not None
        ]
        if not ends or any(end is None for end in ends):
            return None
        return max(end for end in ends if end is not None)
