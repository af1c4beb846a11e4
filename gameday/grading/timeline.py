"""What the engine hands to grading: probe samples, fault windows, data markers, alerts.

Every time is an offset in seconds from the start of the run, read from the monotonic clock
(DESIGN.md "Probes": "A sample is (offset from run start on the monotonic clock, ok, latency,
detail)").

Missed ticks. Probes tick at a fixed rate, and "a tick missed because the previous sample ran
over is recorded as missed, never dropped silently". Grading treats a missed tick as *no
observation*: it is neither healthy nor unhealthy.

- It never starts impact: impact is "the first unhealthy sample", and a missed tick saw nothing.
  The sample that ran over is itself recorded with its own outcome (a hung request ends as an
  unhealthy sample at its timeout), so a blackhole still shows as impact.
- It breaks a run of consecutive healthy samples. "Consecutive" means consecutive ticks of the
  schedule: a missed tick is a moment nobody looked, usually because the previous sample hung,
  which is a symptom of the fault itself. Bridging it would let a probe that keeps hanging and
  then succeeding look stable.
- It is left out of availability's numerator *and* denominator: availability is the share of
  observations that were healthy, and a missed tick is not an observation. The count of missed
  ticks is reported next to the ratio so that a probe that mostly hung is visible.
- It has no latency, so it is left out of the latency percentiles.

A missed tick is therefore recorded as ``Sample(offset_s, ok=False, latency_s=None,
missed=True)``; a missed tick with ``ok=True`` or a latency is rejected as an engine bug.

Invalid values (NaN, negative latency, a fault removed before it was injected, duplicate marker
numbers) raise ``ValueError``: they are bugs in the caller, not a user's mistake, so they are not
``GameDayError``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


def _require_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")


TIMEOUT_PREFIX = "timeout after "
"""How a sample's detail begins when the probe's timeout ended it (``timeout_detail``)."""


def timeout_detail(timeout_s: float) -> str:
    """The detail of a sample that its probe's timeout ended: ``timeout after 2s``."""
    return f"{TIMEOUT_PREFIX}{timeout_s:g}s"


@dataclass(frozen=True, slots=True)
class Sample:
    """One tick of a probe.

    ``ok`` is the probe's verdict, ``latency_s`` how long the check took (None when the probe
    measured none), ``missed`` True for a tick skipped because the previous sample ran over.
    """

    offset_s: float
    ok: bool
    latency_s: float | None
    missed: bool = False
    detail: str = ""

    def __post_init__(self) -> None:
        _require_finite("offset_s", self.offset_s)
        if self.latency_s is not None:
            _require_finite("latency_s", self.latency_s)
            if self.latency_s < 0:
                raise ValueError(f"latency_s must be >= 0, got {self.latency_s!r}")
        if self.missed and (self.ok or self.latency_s is not None):
            raise ValueError(
                f"a missed tick has no outcome: record it with ok=False and latency_s=None "
                f"(offset {self.offset_s!r})"
            )

    @property
    def healthy(self) -> bool:
        """True for an observed, passing sample."""
        return self.ok and not self.missed

    @property
    def unhealthy(self) -> bool:
        """True for an observed, failing sample (a missed tick is neither)."""
        return not self.ok and not self.missed


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """When one fault was in place: injected at ``injected_at_s``, removed at ``removed_at_s``."""

    injected_at_s: float
    removed_at_s: float

    def __post_init__(self) -> None:
        _require_finite("injected_at_s", self.injected_at_s)
        _require_finite("removed_at_s", self.removed_at_s)
        if self.removed_at_s < self.injected_at_s:
            raise ValueError(
                f"a fault cannot be removed ({self.removed_at_s!r}) before it was injected "
                f"({self.injected_at_s!r})"
            )


def fault_span(windows: Iterable[FaultWindow]) -> tuple[float, float]:
    """Return (T0, Tend) of a drill's faults.

    DESIGN.md: "Let T0 be the moment the first fault is injected and Tend the moment the last
    is removed." Raises ``ValueError`` for no windows: a drill without a fault has no T0.
    """
    listed = list(windows)
    if not listed:
        raise ValueError("no fault windows: T0 and Tend are undefined without a fault")
    return (
        min(w.injected_at_s for w in listed),
        max(w.removed_at_s for w in listed),
    )


@dataclass(frozen=True, slots=True)
class Marker:
    """One write of the data probe, and what read-back found.

    ``acknowledged`` is True when the write succeeded; False when it was refused with an error.
    ``found`` is the read-back result for that marker: None when it was not read back (the
    write was refused, or read-back could not check it). ``found`` of a refused write is
    ignored: a refused write is unavailability, never loss.
    """

    seq: int
    written_at_s: float
    acknowledged: bool
    found: bool | None

    def __post_init__(self) -> None:
        _require_finite("written_at_s", self.written_at_s)

    @property
    def lost(self) -> bool:
        """DESIGN.md: "lost when its write was acknowledged and it is missing on read-back"."""
        return self.acknowledged and self.found is False

    @property
    def durable(self) -> bool:
        """Acknowledged and found on read-back."""
        return self.acknowledged and self.found is True

    @property
    def unverified(self) -> bool:
        """Acknowledged but not read back: neither proven lost nor proven durable."""
        return self.acknowledged and self.found is None


@dataclass(frozen=True, slots=True)
class Alert:
    """One request at the runner's alert sink; ``matched`` when it passed the filter."""

    received_at_s: float
    matched: bool

    def __post_init__(self) -> None:
        _require_finite("received_at_s", self.received_at_s)
