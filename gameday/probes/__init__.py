"""Probes: checks sampled at a fixed rate for the whole drill (DESIGN.md "Probes").

async with open_probe_context(run_id=run_id, origin_s=origin, app_url=app_url) as ctx:
    probe = build_probe(spec, ctx)
    await run_schedule(probe, clock=ctx.clock, origin_s=ctx.origin_s, until=stop,
                       on_sample=samples.append)
"""

from __future__ import annotations

from gameday.probes.alert import ALERT_URL_ENV, AlertSink
from gameday.probes.base import (
    Clock,
    Observation,
    Probe,
    ProbeContext,
    ProbeError,
    RetryPolicy,
    open_probe_context,
)
from gameday.probes.data import DataProbe, ReadBack
from gameday.probes.factory import build_probe
from gameday.probes.schedule import MISSED_DETAIL, run_probes, run_schedule, take_sample

__all__ = [
    "ALERT_URL_ENV",
    "MISSED_DETAIL",
    "AlertSink",
    "Clock",
    "DataProbe",
    "Observation",
    "Probe",
    "ProbeContext",
    "ProbeError",
    "ReadBack",
    "RetryPolicy",
    "build_probe",
    "open_probe_context",
    "run_probes",
    "run_schedule",
    "take_sample",
]
