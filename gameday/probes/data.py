"""The ``data`` probe: numbered markers written through the app, read back after the drill (RPO).

Every sample writes one marker, ``<probe>-<run id>-<seq>``: a POST to ``write_url`` with
'{marker}' substituted and ``{"marker": "<id>"}`` as the JSON body. A 2xx answer acknowledges
the write; anything else (an error status, no answer, the sample's timeout) refuses it, which
DESIGN.md counts as unavailability, never loss. With declared retries each attempt is a write
of its own marker, so every write the app saw is accounted for.

After the drill ``read_back()`` checks every acknowledged marker, either through the app (GET
``read.url``: 200 found, 404 missing) or in the store itself (CloudWatch Logs
``FilterLogEvents`` on ``read.log_group``), so that a lost order and a lost audit line both
count as data loss. A marker that read-back could not check keeps ``found=None`` (unverified)
and the reason is returned in ``ReadBack.problems``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import aiohttp
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from gameday.grading.timeline import Marker
from gameday.probes.base import Observation, ProbeContext, RetryPolicy, expand_url, short
from gameday.scenario.probe_models import DataProbe as DataProbeSpec

# Read-back through the app in parallel, but gently: the app has just been through a drill.
_READ_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class ReadBack:
    """Every marker written, with ``found`` set, and why some could not be checked."""

    markers: tuple[Marker, ...]
    problems: tuple[str, ...]


class DataProbe:
    """Writes a marker per sample; ``read_back()`` after the drill says which ones survived.

    >>> probe = DataProbe(spec, ctx)
    >>> await probe.sample()  # writes orders-<run>-0
    >>> (await probe.read_back()).markers  # (Marker(seq=0, ..., acknowledged=True, found=True),)
    """

    def __init__(self, spec: DataProbeSpec, ctx: ProbeContext) -> None:
        self.name = spec.name
        self.interval_s = spec.interval
        self.timeout_s = spec.timeout
        self.retries = RetryPolicy(spec.retries.attempts, spec.retries.backoff)
        self.write_url = expand_url(spec.write_url, ctx, spec.name, "write_url")
        self.read_url = (
            expand_url(spec.read.url, ctx, spec.name, "read.url") if spec.read.url else None
        )
        self.log_group = spec.read.log_group
        self.prefix = f"{spec.name}-{ctx.run_id}-"
        self._ctx = ctx
        self._markers: list[Marker] = []

    @property
    def markers(self) -> tuple[Marker, ...]:
        """Every write so far, in order; ``found`` is None until ``read_back()``."""
        return tuple(self._markers)

    def marker_id(self, seq: int) -> str:
        """The text of marker ``seq``, as written to the app and searched for on read-back."""
        return f"{self.prefix}{seq}"

    async def sample(self) -> Observation:
        seq = len(self._markers)
        marker = self.marker_id(seq)
        written_at_s = self._ctx.offset()
        acknowledged = False
        start = time.perf_counter()
        try:
            async with self._ctx.session.post(
                self.write_url.replace("{marker}", marker), json={"marker": marker}
            ) as response:
                await response.read()
                status = response.status
            acknowledged = 200 <= status < 300
        except (aiohttp.ClientError, OSError) as error:
            latency_s = time.perf_counter() - start
            detail = f"marker {marker} refused: {type(error).__name__}: {error}"
            return Observation(False, latency_s, short(detail))
        finally:
            # Recorded on every way out, a timeout or a stop included: an unanswered write
            # is a refused one, and the next sample must not reuse its number.
            self._markers.append(Marker(seq, written_at_s, acknowledged, found=None))
        latency_s = time.perf_counter() - start
        verdict = "acknowledged" if acknowledged else "refused"
        return Observation(acknowledged, latency_s, f"marker {marker} {verdict} ({status})")

    async def read_back(self) -> ReadBack:
        """Check every acknowledged marker; return all markers with ``found`` set."""
        wanted = [m.seq for m in self._markers if m.acknowledged]
        if self.read_url is not None:
            found, problems = await self._read_via_app(self.read_url, wanted)
        else:
            found, problems = await self._read_via_logs(wanted)
        self._markers = [
            dataclasses.replace(m, found=found.get(m.seq)) if m.acknowledged else m
            for m in self._markers
        ]
        return ReadBack(tuple(self._markers), tuple(problems))

    async def _read_via_app(
        self, read_url: str, wanted: list[int]
    ) -> tuple[dict[int, bool], list[str]]:
        gate = asyncio.Semaphore(_READ_CONCURRENCY)
        found: dict[int, bool] = {}
        failures: list[str] = []

        async def check(seq: int) -> None:
            url = read_url.replace("{marker}", self.marker_id(seq))
            async with gate:
                try:
                    async with asyncio.timeout(self.timeout_s), self._ctx.session.get(url) as r:
                        await r.read()
                        status = r.status
                except (aiohttp.ClientError, OSError, TimeoutError) as error:
                    failures.append(f"GET {url}: {type(error).__name__}: {error}")
                    return
            if status in (200, 404):
                found[seq] = status == 200
            else:
                failures.append(f"GET {url}: status {status}, expected 200 or 404")

        await asyncio.gather(*(check(seq) for seq in wanted))
        return found, _summarise(failures, self.name)

    async def _read_via_logs(self, wanted: list[int]) -> tuple[dict[int, bool], list[str]]:
        assert self.log_group is not None  # DataRead holds exactly one of url and log_group
        scan = _log_scanner(self._ctx, self.log_group, self.prefix)
        loop = asyncio.get_running_loop()
        try:
            seen = await loop.run_in_executor(self._ctx.executor, scan)
        except (ClientError, BotoCoreError) as error:
            problem = f"probe {self.name!r}: cannot read log group {self.log_group!r}: {error}"
            return {}, [short(problem, 400)]
        return {seq: seq in seen for seq in wanted}, []


def _log_scanner(ctx: ProbeContext, log_group: str, prefix: str) -> Callable[[], set[int]]:
    """A blocking function: the sequence numbers of this probe's markers in ``log_group``."""
    # The marker's number must end where the digits end: "-1" must not match inside "-12".
    pattern = re.compile(rf"(?<![\w.-]){re.escape(prefix)}(\d+)(?!\d)")

    def scan() -> set[int]:
        client: BaseClient = ctx.aws_client("logs", region=ctx.region)
        try:
            # A quoted term matches the exact text, hyphens included, so the service sends
            # only this run's marker lines instead of the whole audit log.
            pages = client.get_paginator("filter_log_events").paginate(
                logGroupName=log_group, filterPattern=f'"{prefix}"'
            )
            return {int(n) for page in pages for n in _numbers(page.get("events", ()), pattern)}
        finally:
            client.close()

    return scan


def _numbers(events: Iterable[dict[str, object]], pattern: re.Pattern[str]) -> Iterable[str]:
    for event in events:
        yield from pattern.findall(str(event.get("message", "")))


def _summarise(failures: list[str], probe: str) -> list[str]:
    if not failures:
        return []
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    return [short(f"probe {probe!r}: {len(failures)} markers unverified: {failures[0]}{more}", 400)]
