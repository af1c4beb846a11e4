"""What the app did through the gateway: every call counted by service, operation, outcome and
class, and each destructive call kept with its time and resource (docs/audit.md); and the
watches that make the gateway refuse destructive calls for a while (and the egress proxy see
every AWS call). The calls of gameday's own probes, told apart by the access key id they sign
with, are counted apart and are not the app's.

Exact, unlike the ring of recent requests (``store.RequestLog``), which drops the oldest: the
counts are one dict entry per kind of call, and destructive calls are rare.

>>> ledger = CallLedger(probe_keys=frozenset({"gameday-probe"}))
>>> ledger.watches.put(WatchSpec(id="run-1", ttl_seconds=600, deny_destructive=True))
>>> ledger.record(info, CallClass.DESTRUCTIVE, Outcome.DENIED, "orders")
>>> ledger.page(since=0)  # counts, the destructive calls after seq 0, the watches in force
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from itertools import dropwhile

from gameday.gateway.classify import RequestInfo
from gameday.gateway.models import (
    CallCountRecord,
    Caller,
    CallsPage,
    DestructiveCallRecord,
    Outcome,
    WatchSpec,
    WatchStatus,
)
from gameday.kinds import CallClass

MAX_DESTRUCTIVE = 10_000
"""Destructive calls kept; an app that makes more has the oldest dropped (and counted)."""

MAX_WATCHES = 64
"""Watches held at once: one per drill running through the gateway, so a handful at most."""

_CountKey = tuple[str | None, str | None, Outcome, CallClass]


class Watches:
    """The watches in force, each until its TTL on ``clock`` (gone for the very next call
    once past it, as faults are)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._held: dict[str, tuple[WatchSpec, float]] = {}
        """By id: the watch and when it expires."""

    def __len__(self) -> int:
        return len(self._live())

    def put(self, spec: WatchSpec) -> tuple[WatchStatus, bool]:
        """Hold ``spec`` from now for its TTL (replacing the watch of the same id); returns
        it as held and whether it is new. Room is the caller's to check (``MAX_WATCHES``)."""
        created = spec.id not in self._live()
        self._held[spec.id] = (spec, self._clock() + spec.ttl_seconds)
        return self._status(spec.id), created

    def remove(self, watch_id: str) -> bool:
        """End one watch now; False when none by that id is in force."""
        return self._live().pop(watch_id, None) is not None

    def get(self, watch_id: str) -> WatchStatus | None:
        return self._status(watch_id) if watch_id in self._live() else None

    def statuses(self) -> tuple[WatchStatus, ...]:
        """Every watch in force, soonest to end first."""
        live = self._live()
        return tuple(self._status(i) for i in sorted(live, key=lambda i: live[i][1]))

    @property
    def active(self) -> bool:
        """A watch is in force."""
        return bool(self._held) and bool(self._live())

    @property
    def denying(self) -> bool:
        """A watch in force refuses destructive calls."""
        return bool(self._held) and any(spec.deny_destructive for spec, _ in self._live().values())

    def _live(self) -> dict[str, tuple[WatchSpec, float]]:
        now = self._clock()
        for watch_id in [i for i, (_, ends) in self._held.items() if ends <= now]:
            del self._held[watch_id]
        return self._held

    def _status(self, watch_id: str) -> WatchStatus:
        spec, ends = self._held[watch_id]
        left = round(max(0.0, ends - self._clock()), 3)
        return WatchStatus(**spec.model_dump(), expires_in_s=left)


class CallLedger:
    """Counts and destructive calls since the gateway started, and the watches in force.

    ``deny_destructive``: refuse destructive calls for the gateway's whole life (``gameday
    gateway --deny-destructive``). ``sees_all_calls``: whether every call is seen now (the
    egress proxy's are not, outside a watch: it tunnels hosts blind); default always.
    ``probe_keys``: the access key ids gameday's probes sign with; their calls are counted
    in ``probe_counts`` only, never as the app's (denied all the same: ``deny_destructive``
    is for whoever calls). Every other call, unsigned ones included, is the app's.
    """

    def __init__(
        self,
        *,
        deny_destructive: bool = False,
        sees_all_calls: Callable[[], bool] | None = None,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
        size: int = MAX_DESTRUCTIVE,
        probe_keys: frozenset[str] = frozenset(),
    ) -> None:
        self.always_deny = deny_destructive
        self.probe_keys = probe_keys
        self._sees_all_calls = sees_all_calls
        self.watches = Watches(clock)
        self._wall_clock = wall_clock
        self._counts: Counter[_CountKey] = Counter()
        self._probe_counts: Counter[_CountKey] = Counter()
        self._destructive: deque[DestructiveCallRecord] = deque(maxlen=size)
        self.last_seq = 0

    @property
    def deny_destructive(self) -> bool:
        """Destructive calls are refused now: always, or while a watch that denies holds."""
        return self.always_deny or self.watches.denying

    @property
    def watching(self) -> bool:
        """Every call must be seen now: destructive calls are always refused, or a watch
        holds (the egress proxy then decrypts every AWS host)."""
        return self.always_deny or self.watches.active

    def caller_of(self, info: RequestInfo) -> Caller:
        """Whose call this is: the probes' when signed with one of ``probe_keys``; else the
        app's, unsigned calls included."""
        key = info.access_key_id
        return Caller.PROBE if key is not None and key in self.probe_keys else Caller.APP

    def record(
        self,
        info: RequestInfo,
        call_class: CallClass,
        outcome: Outcome,
        resource: str | None,
        caller: Caller | None = None,
    ) -> None:
        """Count one call as it ended, as the app's or the probes' (``caller``, when the
        caller already knows: ``caller_of``); keep the app's too when it is destructive."""
        key = (info.service, info.operation, outcome, call_class)
        if (caller or self.caller_of(info)) is Caller.PROBE:
            self._probe_counts[key] += 1
            return
        self._counts[key] += 1
        if call_class is not CallClass.DESTRUCTIVE:
            return
        self.last_seq += 1
        self._destructive.append(
            DestructiveCallRecord(
                seq=self.last_seq,
                time=self._wall_clock(),
                service=info.service,
                region=info.region,
                operation=info.operation,
                resource=resource,
                outcome=outcome,
            )
        )

    def page(self, since: int = 0) -> CallsPage:
        """Every count, and the destructive calls with ``seq > since``."""
        kept = self._destructive
        first_seq = kept[0].seq if kept else self.last_seq + 1
        dropped = max(0, first_seq - since - 1) if since < self.last_seq else 0
        return CallsPage(
            counts=_records(self._counts),
            probe_counts=_records(self._probe_counts),
            destructive=tuple(dropwhile(lambda r: r.seq <= since, kept)),
            last_seq=self.last_seq,
            dropped=dropped,
            deny_destructive=self.deny_destructive,
            sees_all_calls=self._sees_all_calls() if self._sees_all_calls else True,
            watches=self.watches.statuses(),
        )


def _records(counts: Counter[_CountKey]) -> tuple[CallCountRecord, ...]:
    return tuple(
        CallCountRecord(service=s, operation=o, outcome=out, call_class=c, count=n)
        for (s, o, out, c), n in counts.items()
    )
