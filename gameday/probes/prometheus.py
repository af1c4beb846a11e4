"""The ``prometheus`` probe: an instant PromQL query over the HTTP API, its value within bounds.

``GET {url}/api/v1/query?query=...``; the first value of an instant vector, or a scalar, must
lie within ``expect.min`` and ``expect.max`` (both inclusive, each optional). An empty result,
a failed query, NaN, or another result type is unhealthy: a metric that vanished during a
fault is a symptom, not a pass.
"""

from __future__ import annotations

import math
import time
from typing import Any

import aiohttp

from gameday.probes.base import Observation, ProbeContext, RetryPolicy, expand_url, short
from gameday.scenario.probe_models import PrometheusProbe as PrometheusProbeSpec


class PrometheusProbe:
    """``query`` against the Prometheus HTTP API at ``url``.

    >>> await PrometheusProbe(spec, ctx).sample()  # Observation(ok=True, ..., detail="value 1")
    """

    def __init__(self, spec: PrometheusProbeSpec, ctx: ProbeContext) -> None:
        self.name = spec.name
        self.interval_s = spec.interval
        self.timeout_s = spec.timeout
        self.retries = RetryPolicy(spec.retries.attempts, spec.retries.backoff)
        self.url = expand_url(spec.url, ctx, spec.name, "url").rstrip("/") + "/api/v1/query"
        self._params = {"query": spec.query}
        self._session = ctx.session
        self._min = spec.expect.min
        self._max = spec.expect.max

    async def sample(self) -> Observation:
        start = time.perf_counter()
        try:
            async with self._session.get(self.url, params=self._params) as response:
                status = response.status
                payload: Any = await response.json(content_type=None)
        except (aiohttp.ClientError, OSError, ValueError) as error:
            latency_s = time.perf_counter() - start
            return Observation(False, latency_s, short(f"{type(error).__name__}: {error}"))
        latency_s = time.perf_counter() - start
        value, problem = _first_value(status, payload)
        if value is None:
            return Observation(False, latency_s, problem)
        return Observation(self._within(value), latency_s, self._describe(value))

    def _within(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return (self._min is None or value >= self._min) and (
            self._max is None or value <= self._max
        )

    def _describe(self, value: float) -> str:
        text = f"value {value:g}"
        if self._within(value):
            return text
        bounds = f"[{'-inf' if self._min is None else f'{self._min:g}'}, "
        bounds += f"{'+inf' if self._max is None else f'{self._max:g}'}]"
        return f"{text}, outside {bounds}"


def _first_value(status: int, payload: Any) -> tuple[float | None, str]:
    """The first sample value of an instant query's answer, or None and why not."""
    if not isinstance(payload, dict) or payload.get("status") != "success":
        error = payload.get("error", "") if isinstance(payload, dict) else ""
        return None, short(f"query failed (HTTP {status}): {error}".rstrip(": "))
    data = payload.get("data")
    if not isinstance(data, dict):
        return None, "query answer has no data"
    kind, result = data.get("resultType"), data.get("result")
    point: Any
    if kind == "vector" and isinstance(result, list):
        if not result:
            return None, "empty result"
        point = result[0].get("value") if isinstance(result[0], dict) else None
    elif kind == "scalar":
        point = result
    else:
        return None, f"unsupported result type {kind!r}: want an instant vector or a scalar"
    # The API encodes a point as [unix_time, "value"], the value a string ("NaN", "+Inf" too).
    if not isinstance(point, list) or len(point) != 2:
        return None, short(f"malformed point {point!r}")
    try:
        return float(point[1]), ""
    except (TypeError, ValueError):
        return None, short(f"not a number: {point[1]!r}")
