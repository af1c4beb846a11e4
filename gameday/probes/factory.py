"""One place that turns a probe spec from a scenario into a running probe.

    probes = [build_probe(spec, ctx) for spec in scenario.probes]
    sinks = [p for p in probes if isinstance(p, AlertSink)]   # host these, hand out sink.url
    sampled = [p for p in probes if not isinstance(p, AlertSink)]   # schedule these
    data = [p for p in sampled if isinstance(p, DataProbe)]   # read_back() after the drill

An alert sink needs only the run clock from ``ctx``; it can be built (and started) before the
app exists, with a context whose ``app_url`` is still None.
"""

from __future__ import annotations

from typing import overload

from gameday.probes.alert import AlertSink
from gameday.probes.aws import AwsProbe
from gameday.probes.base import Probe, ProbeContext
from gameday.probes.command import CommandProbe
from gameday.probes.data import DataProbe
from gameday.probes.dns import DnsProbe
from gameday.probes.http import HttpProbe
from gameday.probes.prometheus import PrometheusProbe
from gameday.scenario import probe_models as specs

SampledSpec = (
    specs.HttpProbe | specs.AwsProbe | specs.CommandProbe | specs.PrometheusProbe | specs.DnsProbe
)


@overload
def build_probe(spec: specs.AlertProbe, ctx: ProbeContext) -> AlertSink: ...
@overload
def build_probe(spec: specs.DataProbe, ctx: ProbeContext) -> DataProbe: ...
@overload
def build_probe(spec: SampledSpec, ctx: ProbeContext) -> Probe: ...
def build_probe(spec: specs.ProbeVariant, ctx: ProbeContext) -> Probe | AlertSink:
    """The probe for ``spec``; raises ``ProbeError`` when it cannot work as declared."""
    match spec:
        case specs.HttpProbe():
            return HttpProbe(spec, ctx)
        case specs.AwsProbe():
            return AwsProbe(spec, ctx)
        case specs.CommandProbe():
            return CommandProbe(spec, ctx)
        case specs.PrometheusProbe():
            return PrometheusProbe(spec, ctx)
        case specs.DnsProbe():
            return DnsProbe(spec, ctx)
        case specs.DataProbe():
            return DataProbe(spec, ctx)
        case specs.AlertProbe():
            return AlertSink.from_spec(spec, ctx)
