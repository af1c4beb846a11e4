"""The ``data`` probe: numbered markers written through the app, read back after the drill (RPO).

Every sample writes one marker, ``<probe>-<run id>-<seq>``: a POST to ``write_url`` with
'{marker}' substituted and ``{"marker": "<id>"}`` as the JSON body. A 2xx answer acknowledges
the write; anything else (an error status, no answer, the sample's timeout) refuses it, which
DESIGN.md counts as unavailability, never loss. With declared retries each attempt is a write
of its own marker, so every write the app saw is accounted for.

After the drill ``read_back()`` first lets the app ship what it acknowledged but still holds
(a POST to ``read.flush_url``, then ``read.settle``), then checks every acknowledged marker,
either through the app (GET ``read.url``: 200 found, 404 missing) or in the store itself
(CloudWatch Logs ``FilterLogEvents`` on ``read.log_group``), so that a lost order and a lost
audit line both count as data loss. A read that tells neither (an error status, no answer, a
failed call) is retried with backoff until ``read.deadline``; a marker still unread then
keeps ``found=None`` (unverified, never lost) and the reason is in ``ReadBack.problems``.
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
from gameday.retrying import Backoff, retry_async, retry_call
from gameday.scenario.durations import format_duration
from gameday.scenario.probe_models import DataProbe as DataProbeSpec

# Read-back through the app in parallel, but gently: the app has just been through a drill.
_READ_CONCURRENCY = 8
# Short first waits: on a loaded machine a read fails for a moment, not for seconds.
_FIRST_RETRY_S = 0.1
_LONGEST_RETRY_S = 2.0


@dataclass(frozen=True, slots=True)
class ReadBack:
    """Every marker written, with ``found`` set, and why some could not be checked.

    ``notes`` say how read-back went when that is worth knowing (the flush, reads that needed
    a retry); ``flushed`` is None without a ``read.flush_url``, else whether the flush was
    answered with a 2xx."""

    markers: tuple[Marker, ...]
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()
    flushed: bool | None = None


class _Unreadable(Exception):
    """A read (or the flush) that told nothing: retried until the read-back deadline."""


def _unreadable(error: BaseException) -> bool:
    return isinstance(error, _Unreadable)


def _aws_failure(error: BaseException) -> bool:
    return isinstance(error, ClientError | BotoCoreError)


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
        self.flush_url = (
            expand_url(spec.read.flush_url, ctx, spec.name, "read.flush_url")
            if spec.read.flush_url
            else None
        )
        self.settle_s = spec.read.settle
        self.read_deadline_s = spec.read.deadline
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
        """Flush, settle, then check every acknowledged marker; all markers with ``found`` set."""
        notes: list[str] = []
        problems: list[str] = []
        flushed: bool | None = None
        if self.flush_url is not None:
            flushed, said = await self._flush(self.flush_url)
            (notes if flushed else problems).append(said)
        # The app is still running: what it acknowledged but batches (a log shipper's send
        # interval) reaches the store only later, and is not lost for that.
        await asyncio.sleep(self.settle_s)
        wanted = [m.seq for m in self._markers if m.acknowledged]
        retried: set[int] = set()
        if self.read_url is not None:
            found, failures = await self._read_via_app(self.read_url, wanted, retried)
        else:
            found, failures = await self._read_via_logs(wanted, retried)
        after_retry = len(retried & found.keys())
        if after_retry:
            # Worth knowing: without the retry these reads would have left the RPO unmeasured.
            what = f"{after_retry} marker(s)" if self.read_url else "the log group was"
            notes.append(f"probe {self.name!r}: {what} read only after a retry")
        problems += failures
        self._markers = [
            dataclasses.replace(m, found=found.get(m.seq)) if m.acknowledged else m
            for m in self._markers
        ]
        return ReadBack(tuple(self._markers), tuple(problems), tuple(notes), flushed)

    def _backoff(self, deadline_at: float) -> Backoff:
        """Retries until ``deadline_at`` on the run clock; at least one attempt even when late."""
        return Backoff(
            deadline_s=max(0.0, deadline_at - self._ctx.clock()),
            first_delay_s=_FIRST_RETRY_S,
            max_delay_s=_LONGEST_RETRY_S,
        )

    async def _flush(self, url: str) -> tuple[bool, str]:
        async def post() -> int:
            try:
                async with asyncio.timeout(self.timeout_s), self._ctx.session.post(url) as r:
                    await r.read()
                    status = r.status
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                raise _Unreadable(f"POST {url}: {self._describe(error)}") from error
            if not 200 <= status < 300:
                raise _Unreadable(f"POST {url}: status {status}, expected 2xx")
            return status

        deadline_at = self._ctx.clock() + self.read_deadline_s
        try:
            status = await retry_async(
                post,
                transient=_unreadable,
                backoff=self._backoff(deadline_at),
                clock=self._ctx.clock,
            )
        except _Unreadable as error:
            problem = f"probe {self.name!r}: flush failed, read back without it: {error}"
            return False, short(problem, 400)
        return True, f"probe {self.name!r}: flushed: POST {url} answered {status}"

    def _describe(self, error: BaseException) -> str:
        if isinstance(error, TimeoutError):
            return f"no answer within {format_duration(self.timeout_s)}"
        return f"{type(error).__name__}: {error}"

    async def _read_via_app(
        self, read_url: str, wanted: list[int], retried: set[int]
    ) -> tuple[dict[int, bool], list[str]]:
        gate = asyncio.Semaphore(_READ_CONCURRENCY)
        found: dict[int, bool] = {}
        failures: list[str] = []
        deadline_at = self._ctx.clock() + self.read_deadline_s

        async def get(url: str) -> bool:
            # The gate is held for one attempt, not across the backoff's sleeps, so a marker
            # that keeps failing never holds up the others.
            async with gate:
                try:
                    async with asyncio.timeout(self.timeout_s), self._ctx.session.get(url) as r:
                        await r.read()
                        status = r.status
                except (aiohttp.ClientError, OSError, TimeoutError) as error:
                    raise _Unreadable(f"GET {url}: {self._describe(error)}") from error
            if status not in (200, 404):
                raise _Unreadable(f"GET {url}: status {status}, expected 200 or 404")
            return status == 200

        async def check(seq: int) -> None:
            url = read_url.replace("{marker}", self.marker_id(seq))
            try:
                found[seq] = await retry_async(
                    lambda: get(url),
                    transient=_unreadable,
                    backoff=self._backoff(deadline_at),
                    clock=self._ctx.clock,
                    on_retry=lambda *_: retried.add(seq),
                )
            except _Unreadable as error:
                failures.append(str(error))

        await asyncio.gather(*(check(seq) for seq in wanted))
        return found, self._summarise(failures)

    async def _read_via_logs(
        self, wanted: list[int], retried: set[int]
    ) -> tuple[dict[int, bool], list[str]]:
        assert self.log_group is not None  # DataRead holds exactly one of url and log_group
        if not wanted:
            return {}, []
        scan = _log_scanner(self._ctx, self.log_group, self.prefix)
        backoff = self._backoff(self._ctx.clock() + self.read_deadline_s)

        def scan_until_deadline() -> set[int]:
            return retry_call(
                scan,
                transient=_aws_failure,
                backoff=backoff,
                clock=self._ctx.clock,
                on_retry=lambda *_: retried.update(wanted),
            )

        loop = asyncio.get_running_loop()
        try:
            seen = await loop.run_in_executor(self._ctx.executor, scan_until_deadline)
        except (ClientError, BotoCoreError) as error:
            problem = (
                f"probe {self.name!r}: cannot read log group {self.log_group!r} "
                f"(retried for {format_duration(self.read_deadline_s)}): {error}; "
                f"{len(wanted)} marker(s) unverified"
            )
            return {}, [short(problem, 400)]
        return {seq: seq in seen for seq in wanted}, []

    def _summarise(self, failures: list[str]) -> list[str]:
        if not failures:
            return []
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        problem = (
            f"probe {self.name!r}: {len(failures)} marker(s) unverified, still unread after "
            f"retrying for {format_duration(self.read_deadline_s)}: {failures[0]}{more}"
        )
        return [short(problem, 400)]


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
