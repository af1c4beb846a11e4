"""The ``http`` probe: one request; healthy when the status, body and latency are as expected."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

import aiohttp
from yarl import URL

from gameday.probes.base import (
    Observation,
    ProbeContext,
    ProbeError,
    RetryPolicy,
    expand_url,
    short,
)
from gameday.redact import REFERENCE, remember_secret, resolve_references, unset_references
from gameday.scenario.models import Scenario
from gameday.scenario.probe_models import HttpProbe as HttpProbeSpec


def unset_header_variables(scenario: Scenario, environ: Mapping[str, str]) -> list[str]:
    """One line per ``${NAME}`` an http probe's headers reference that ``environ`` does not
    set (or sets empty): checked before a drill starts, so it never runs half-configured."""
    return [
        f"probe {probe.name!r}: headers.{header} references ${{{name}}}, which is not set"
        for probe in scenario.probes
        if isinstance(probe, HttpProbeSpec)
        for header, value in probe.headers.items()
        for name in unset_references([value], environ)
    ]


def resolve_headers(spec: HttpProbeSpec, environ: Mapping[str, str]) -> dict[str, str]:
    """The probe's headers with each ``${NAME}`` replaced by its value from ``environ``;
    every value read is remembered as a secret (``gameday.redact``). ProbeError when one is
    unset."""
    headers = {}
    for header, value in spec.headers.items():
        for match in REFERENCE.finditer(value):
            remember_secret(environ.get(match.group(1)))
        try:
            headers[header] = resolve_references(value, environ)
        except KeyError as error:
            raise ProbeError(
                f"probe {spec.name!r}: headers.{header} references ${{{error.args[0]}}}, "
                "which is not set",
                hint=f"export {error.args[0]} before gameday starts; the value is sent, "
                "never stored",
            ) from None
    return headers


class HttpProbe:
    """``method url``; unhealthy on a status outside ``expect.status``, a body without
    ``expect.body_contains``, a response slower than ``expect.max_latency``, or no response.
    Redirects are not followed: a 3xx is judged as the status it is.

    >>> probe = HttpProbe(spec, ctx)
    >>> await probe.sample()  # Observation(ok=True, latency_s=0.003, detail="200")
    """

    def __init__(self, spec: HttpProbeSpec, ctx: ProbeContext) -> None:
        self.name = spec.name
        self.interval_s = spec.interval
        self.timeout_s = spec.timeout
        self.retries = RetryPolicy(spec.retries.attempts, spec.retries.backoff)
        self.url = expand_url(spec.url, ctx, spec.name, "url")
        # Parsed once: aiohttp would parse a string URL again on every request.
        self._url = URL(self.url)
        self._method = spec.method
        self._headers = resolve_headers(spec, os.environ)
        self._session = ctx.session
        self._statuses = frozenset(spec.expect.status)
        self._body_contains = spec.expect.body_contains
        self._max_latency_s = spec.expect.max_latency

    async def sample(self) -> Observation:
        start = time.perf_counter()
        try:
            async with self._session.request(
                self._method, self._url, headers=self._headers, allow_redirects=False
            ) as response:
                # Read the whole body even when it is not checked: a drained response lets
                # the connection go back to the pool instead of being closed.
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, OSError) as error:
            latency_s = time.perf_counter() - start
            return Observation(False, latency_s, short(f"{type(error).__name__}: {error}"))
        latency_s = time.perf_counter() - start
        return Observation(*self._judge(status, body, latency_s))

    def _judge(self, status: int, body: bytes, latency_s: float) -> tuple[bool, float, str]:
        if status not in self._statuses:
            expected = ", ".join(str(s) for s in sorted(self._statuses))
            return False, latency_s, f"status {status}, expected {expected}"
        if self._body_contains is not None:
            text = body.decode("utf-8", errors="replace")
            if self._body_contains not in text:
                return False, latency_s, f"status {status}, body lacks {self._body_contains!r}"
        if self._max_latency_s is not None and latency_s > self._max_latency_s:
            return (
                False,
                latency_s,
                f"status {status} in {latency_s * 1000:.0f}ms, "
                f"over {self._max_latency_s * 1000:.0f}ms",
            )
        return True, latency_s, str(status)
