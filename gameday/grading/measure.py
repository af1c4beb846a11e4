"""Timelines -> measurements: RTO, RPO, TTD, availability, latency (DESIGN.md "Measurements").

Pure functions: samples, markers and alerts in, frozen results out. Inputs need not be sorted;
each function orders them itself (samples by offset, markers by sequence number). How a missed
tick counts is set out in ``gameday.grading.timeline``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gameday.grading.timeline import Alert, Marker, Sample

DEFAULT_STABLE = 3
"""DESIGN.md: recovery needs `stable` (default 3) consecutive healthy samples."""

LATENCY_PERCENTILES = (50.0, 95.0, 99.0)
PERCENTILE_METHOD = "nearest-rank"


def format_seconds(value_s: float) -> str:
    """Show seconds to the millisecond with trailing zeros dropped: 12.5 s, 0.25 s, 3 s."""
    text = f"{value_s:.3f}".rstrip("0").rstrip(".")
    return f"{'0' if text == '-0' else text} s"


def _ordered(samples: Iterable[Sample]) -> list[Sample]:
    # A stable sort keeps the engine's order for samples that share an offset.
    return sorted(samples, key=lambda s: s.offset_s)


def _check_span(t0_s: float, end_s: float, end_name: str) -> None:
    if not (math.isfinite(t0_s) and math.isfinite(end_s)):
        raise ValueError(f"t0_s and {end_name} must be finite, got {t0_s!r} and {end_s!r}")
    if end_s < t0_s:
        raise ValueError(f"{end_name} ({end_s!r}) is before T0 ({t0_s!r})")


@dataclass(frozen=True, slots=True)
class Recovery:
    """How a probe went through the drill.

    ``rto_s`` is 0.0 with no impact and None when the probe did not recover before observation
    ended, or observed nothing to measure (``observed`` 0). ``recovered_during_fault`` is None
    with no impact or nothing observed (nothing to recover from), False when not recovered,
    else ``recovered_at_s < Tend``. ``observed`` counts the samples read (missed ticks excluded).
    """

    impact_start_s: float | None
    recovered_at_s: float | None
    rto_s: float | None
    time_to_impact_s: float | None
    recovered_during_fault: bool | None
    detail: str
    observed: int

    @property
    def impacted(self) -> bool:
        """True when an unhealthy sample was seen at or after T0."""
        return self.impact_start_s is not None

    @property
    def recovered(self) -> bool:
        """True when ``rto_s`` is set: recovered before observation ended, or never impacted."""
        return self.rto_s is not None


def _first_stable_run(samples: Sequence[Sample], stable: int) -> float | None:
    """Offset of the first sample of the first run of ``stable`` consecutive healthy samples."""
    run_start: float | None = None
    run_length = 0
    for sample in samples:
        if not sample.healthy:
            # An unhealthy sample or a missed tick ends the run (see timeline's docstring).
            run_start, run_length = None, 0
            continue
        if run_start is None:
            run_start = sample.offset_s
        run_length += 1
        if run_length >= stable:
            return run_start
    return None


def measure_recovery(
    samples: Iterable[Sample],
    t0_s: float,
    tend_s: float,
    *,
    observe_end_s: float,
    stable: int = DEFAULT_STABLE,
) -> Recovery:
    """Measure impact, recovery and RTO of one probe, exactly as DESIGN.md defines them.

    - "impact_start: the first unhealthy sample of the objective's probe at or after T0. None:
      no impact."
    - "recovered_at: the start of the first run of `stable` (default 3) consecutive healthy
      samples after impact_start."
    - "RTO = recovered_at - impact_start; 0 with no impact; *not recovered* (the objective
      fails) when no recovery is seen before observation ends."
    - "time_to_impact = impact_start - T0 and recovered_during_fault = recovered_at < Tend".

    Only samples with ``t0_s <= offset_s <= observe_end_s`` are read: a run whose last sample
    lands exactly at ``observe_end_s`` counts; one cut off by it does not. An unhealthy sample
    after recovery does not change the RTO (availability counts it). With no sample observed
    in that span there is no evidence either way: RTO is None (not 0), so a probe that never
    ran cannot meet its objective.
    """
    _check_span(t0_s, tend_s, "tend_s")
    _check_span(t0_s, observe_end_s, "observe_end_s")
    if stable < 1:
        raise ValueError(f"stable must be at least 1 sample, got {stable!r}")
    observed = [s for s in _ordered(samples) if t0_s <= s.offset_s <= observe_end_s]
    count = sum(1 for s in observed if not s.missed)
    impact_index = next((i for i, s in enumerate(observed) if s.unhealthy), None)
    if impact_index is None:
        return _without_impact(count)
    impact_s = observed[impact_index].offset_s
    to_impact = f"impact {format_seconds(impact_s - t0_s)} after T0"
    recovered_s = _first_stable_run(observed[impact_index + 1 :], stable)
    if recovered_s is None:
        detail = (
            f"{to_impact}; not recovered: no run of {stable} healthy samples before "
            f"observation ended at {format_seconds(observe_end_s)}"
        )
        return Recovery(impact_s, None, None, impact_s - t0_s, False, detail, count)
    rto_s = recovered_s - impact_s
    during = recovered_s < tend_s
    detail = f"{to_impact}; recovered {_when(recovered_s, tend_s)}; RTO {format_seconds(rto_s)}"
    return Recovery(impact_s, recovered_s, rto_s, impact_s - t0_s, during, detail, count)


def _without_impact(observed: int) -> Recovery:
    if observed == 0:
        detail = "no sample observed between T0 and the end of observation: nothing measured"
        return Recovery(None, None, None, None, None, detail, observed)
    return Recovery(
        None, None, 0.0, None, None, "no impact: no unhealthy sample after T0", observed
    )


def _when(recovered_s: float, tend_s: float) -> str:
    if recovered_s < tend_s:
        return "during the fault"
    # DESIGN.md: "an RTO that only ends when the fault is lifted shows no resilience, and the
    # report says so".
    lag = format_seconds(recovered_s - tend_s)
    return f"only after the fault was lifted ({lag} after Tend): no resilience shown"


@dataclass(frozen=True, slots=True)
class LostRun:
    """A maximal run of consecutive lost markers ``first_seq..last_seq`` and its window."""

    first_seq: int
    last_seq: int
    window_s: float


@dataclass(frozen=True, slots=True)
class DataLoss:
    """What the data probe's read-back found.

    Of the acknowledged writes, ``read`` were found, ``lost`` were missing and ``unverified``
    could not be read back; ``refused`` counts writes refused with an error (unavailability,
    not loss). ``least_s`` is the RPO if every unverified write was kept, ``most_s`` if every
    one was lost; ``rpo_s`` is the RPO when they agree (always, with nothing unverified) and
    None when the unverified writes decide it. ``runs`` are the runs of writes proven lost.
    """

    rpo_s: float | None
    lost: int
    refused: int
    unverified: int
    read: int
    least_s: float
    most_s: float
    runs: tuple[LostRun, ...]
    detail: str


def _ordered_markers(markers: Iterable[Marker]) -> list[Marker]:
    ordered = sorted(markers, key=lambda m: m.seq)
    for before, after in itertools.pairwise(ordered):
        if after.seq == before.seq:
            raise ValueError(f"marker {after.seq} appears twice")
        if after.written_at_s <= before.written_at_s:
            raise ValueError(
                f"marker {after.seq} is written at {after.written_at_s!r}, not after marker "
                f"{before.seq} at {before.written_at_s!r}: markers are written one at a time"
            )
    return ordered


def _lost_runs(ordered: Sequence[Marker], *, worst: bool = False) -> list[LostRun]:
    """The runs of lost markers and their windows, each unverified marker taken the way that
    makes windows shortest (``worst`` False: the runs of markers proven lost) or longest.

    Without unverified markers both are DESIGN.md's runs. With them, no way they went gives a
    window beyond the ``worst`` ones, nor an RPO below the largest of the others (see
    ``measure_rpo``).
    """

    def in_run(marker: Marker) -> bool:
        return marker.lost or (worst and marker.unverified)

    runs: list[LostRun] = []
    last_durable_s: float | None = None  # of a marker proven durable
    last_kept_s: float | None = None  # of a durable or unverified marker
    first_unverified_s: float | None = None
    base_s = 0.0
    first: Marker | None = None
    for index, marker in enumerate(ordered):
        if in_run(marker):
            if first is None:
                first = marker
                base_s = _run_base(
                    ordered, index, last_durable_s, last_kept_s, first_unverified_s, worst
                )
            if index + 1 == len(ordered) or not in_run(ordered[index + 1]):
                runs.append(LostRun(first.seq, marker.seq, marker.written_at_s - base_s))
                first = None
        if marker.durable:
            last_durable_s = last_kept_s = marker.written_at_s
        elif marker.unverified:
            last_kept_s = marker.written_at_s
            if first_unverified_s is None:
                first_unverified_s = marker.written_at_s
    return runs


def _run_base(
    ordered: Sequence[Marker],
    start: int,
    last_durable_s: float | None,
    last_kept_s: float | None,
    first_unverified_s: float | None,
    worst: bool,
) -> float:
    """t_(a-1) of the run starting at ``start``: the last durable write before it, t_a when
    there is none (DESIGN.md), with unverified writes before it kept or lost as ``worst`` says.
    """
    own_s = ordered[start].written_at_s
    if worst:
        # Earliest: unverified writes after the last durable one lost; with no durable write,
        # the first unverified one kept and the rest lost.
        if last_durable_s is not None:
            return last_durable_s
        return own_s if first_unverified_s is None else first_unverified_s
    # Latest: the last unverified write after a durable one kept. With no durable write,
    # keeping the one just before the run is the latest base, and losing them all lets the
    # run measure from its own start.
    if last_durable_s is not None and last_kept_s is not None:
        return last_kept_s
    if start > 0 and ordered[start - 1].unverified:
        return ordered[start - 1].written_at_s
    return own_s


def measure_rpo(markers: Iterable[Marker]) -> DataLoss:
    """Measure data loss from the data probe's markers, as DESIGN.md defines RPO.

    "A marker is *lost* when its write was acknowledged and it is missing on read-back after the
    drill. For each maximal run of consecutive lost markers a..b, window = t_b - t_(a-1), where
    t_(a-1) is the last durable write before the run. RPO = the largest window; 0 when none is
    lost. Writes refused with an error are unavailability, not loss, and are counted apart."

    A durable write is acknowledged and found. "Consecutive" is in sequence order: a refused
    marker between two lost ones splits them into two runs, but the second run's window still
    reaches back to the last *durable* write, so the RPO is the same either way. Where no
    durable write precedes the run, t_(a-1) is t_a, exactly as DESIGN.md says, so a run of lost
    markers at the very start measures only its own span (0 s for one marker); ``lost`` and
    ``detail`` always show the loss.

    An unverified write (acknowledged, not read back) was either kept or lost. Over every way
    they went, the RPO is at most ``most_s`` (each run of lost and unverified writes measured
    from the earliest base any of them allows; reached by one of the ways) and at least
    ``least_s`` (each run of writes proven lost measured from the latest base any of them
    allows). When the two agree the unverified writes cannot change the RPO and it is measured;
    otherwise ``rpo_s`` is None (*not measured*). Taking them all kept is not a lower bound:
    with no durable write before a loss, an unverified write kept becomes the run's t_(a-1),
    and lost it would leave t_a.
    """
    ordered = _ordered_markers(markers)
    runs = _lost_runs(ordered)
    least_s = max((run.window_s for run in runs), default=0.0)
    most_s = max((run.window_s for run in _lost_runs(ordered, worst=True)), default=0.0)
    lost = sum(1 for m in ordered if m.lost)
    refused = sum(1 for m in ordered if not m.acknowledged)
    unverified = sum(1 for m in ordered if m.unverified)
    read = sum(1 for m in ordered if m.durable)
    rpo_s = least_s if most_s == least_s else None
    detail = _describe_loss(ordered, runs, least_s, read, lost, unverified)
    if refused:
        detail += f"; {refused} write(s) refused (unavailability, not loss)"
    if unverified:
        detail += (
            "; the unverified writes cannot change the RPO"
            if rpo_s is not None
            else f"; RPO between {format_seconds(least_s)} and {format_seconds(most_s)} "
            "depending on the unverified writes"
        )
    return DataLoss(rpo_s, lost, refused, unverified, read, least_s, most_s, tuple(runs), detail)


def _describe_loss(
    ordered: Sequence[Marker],
    runs: Sequence[LostRun],
    largest_s: float,
    read: int,
    lost: int,
    unverified: int,
) -> str:
    if not ordered:
        # Still 0 as DESIGN.md says ("0 when none is lost"), but the report must show why.
        return "no marker written: nothing to lose"
    counts = f"{read} read back, {lost} lost, {unverified} unverified"
    if not runs:
        return f"no acknowledged write lost ({counts})"
    worst = max(runs, key=lambda run: run.window_s)
    return (
        f"{lost} acknowledged write(s) lost in {len(runs)} run(s); largest window "
        f"{format_seconds(largest_s)} (markers {worst.first_seq}..{worst.last_seq}); {counts}"
    )


def measure_ttd(alerts: Iterable[Alert], t0_s: float) -> float | None:
    """DESIGN.md TTD: "from T0 to the first alert at the runner's alert sink that matches the
    filter". Alerts before T0 and unmatched alerts are ignored; None when no alert came."""
    times = [a.received_at_s for a in alerts if a.matched and a.received_at_s >= t0_s]
    return min(times) - t0_s if times else None


def measure_human(marks_at: Iterable[float], t0_s: float, observe_end_s: float) -> float | None:
    """Human TTD/TTM: from T0 to the first mark of its kind (``detected``, ``mitigation``)
    made within the observation window [T0, observe end]. A mark before T0 (nothing had failed
    yet) or after the window does not count; None when nobody marked in it."""
    times = [at for at in marks_at if t0_s <= at <= observe_end_s]
    return min(times) - t0_s if times else None


def count_destructive(calls_at: Iterable[float | None], t0_s: float, observe_end_s: float) -> int:
    """DESIGN.md destructive_calls: "the number of destructive calls the app made from T0 to
    the end of observation". Refused calls count (the app tried); a call whose time could not
    be placed (None) counts too: it cannot be shown to be outside the window."""
    return sum(1 for at in calls_at if at is None or t0_s <= at <= observe_end_s)


def describe_human(mark: str, measured_s: float | None) -> str:
    """The detail of a human objective measured to ``mark`` (``detected``, ``mitigation``)."""
    if measured_s is not None:
        return f"first '{mark}' mark"
    missed = "not detected" if mark == "detected" else f"no {mark}"
    return f"{missed}: nobody marked '{mark}' within the observation window"


@dataclass(frozen=True, slots=True)
class Availability:
    """Healthy samples over observed samples; ``ratio`` None when nothing was observed."""

    ratio: float | None
    healthy: int
    total: int
    missed: int


def measure_availability(samples: Iterable[Sample], t0_s: float, until_s: float) -> Availability:
    """DESIGN.md: "healthy samples / all samples in [T0, Tend + recovery window]".

    The caller passes ``until_s`` = Tend + recovery window; both ends are included. Missed ticks
    are in neither count (see timeline's docstring) and are counted in ``missed``.
    """
    _check_span(t0_s, until_s, "until_s")
    inside = [s for s in samples if t0_s <= s.offset_s <= until_s]
    missed = sum(1 for s in inside if s.missed)
    healthy = sum(1 for s in inside if s.healthy)
    total = len(inside) - missed
    return Availability(healthy / total if total else None, healthy, total, missed)


def nearest_rank(values: Sequence[float], percentile: float) -> float:
    """The nearest-rank percentile: the value at rank ceil(p/100 x n) of the sorted values.

    It is always a value that was observed (no interpolation), and p100 is the maximum. Raises
    ``ValueError`` for no values or a percentile outside (0, 100].
    """
    if not values:
        raise ValueError("no values: a percentile of nothing is undefined")
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
    rank = max(1, math.ceil(percentile * len(values) / 100))
    return sorted(values)[rank - 1]


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """p50/p95/p99 latency in seconds (nearest-rank); None when no sample had a latency."""

    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    count: int


def measure_latency(samples: Iterable[Sample], t0_s: float, tend_s: float) -> LatencyStats:
    """DESIGN.md: "p50/p95/p99 of the probe's latency inside the fault window".

    Inside the fault window is ``T0 <= offset_s < Tend``: a sample taken as the fault is removed
    is not inside it. Every sample with a latency counts, failed ones too: a fast error and a
    request that hung until the probe's timeout are both what a caller waited. A timed-out
    sample carries its timeout, so a percentile over timeouts is a lower bound.
    """
    _check_span(t0_s, tend_s, "tend_s")
    values = [
        s.latency_s
        for s in samples
        if s.latency_s is not None and not s.missed and t0_s <= s.offset_s < tend_s
    ]
    if not values:
        return LatencyStats(None, None, None, 0)
    p50, p95, p99 = (nearest_rank(values, p) for p in LATENCY_PERCENTILES)
    return LatencyStats(p50, p95, p99, len(values))
