"""The scheduler's ``/metrics`` and ``/healthz``, served from a thread beside the loop.

The loop (main thread) publishes an immutable ``Status`` after each change; the server thread
only reads the latest one, so neither waits for the other and SQLite stays in the main thread.
``/metrics`` is ``gameday.reports.prom.results_registry`` (the report metrics of each scheduled
scenario's last run and ``gameday_runs_total`` by outcome) plus the scheduler's own series:

- ``gameday_schedule_next_run_timestamp_seconds{scenario}``: the next fire time (Unix time;
  the drill starts within ``gameday_schedule_jitter_seconds`` after it);
- ``gameday_schedule_skipped_total{scenario, reason}``: fire times that did not run
  (``busy``: another drill was running; ``late``: the scheduler was not looking);
- ``gameday_scheduler_up``, ``gameday_scheduler_last_loop_timestamp_seconds``,
  ``gameday_scheduler_busy`` (1 while a drill runs), ``gameday_scheduler_scheduled_scenarios``,
  ``gameday_scheduler_invalid_files`` (files not scheduled: invalid, or refused).

Loopback by default; beyond it only with a bearer token (``--metrics-token`` /
``$GAMEDAY_METRICS_TOKEN``, then every request needs it) or ``--allow-unauthenticated``.
"""

from __future__ import annotations

import hmac
import json
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from gameday.errors import InvalidInputError
from gameday.history import SkipReason
from gameday.kinds import RunStatus
from gameday.listen import is_loopback
from gameday.listen import parse_listen as parse_address
from gameday.reports.prom import results_registry
from gameday.result import RunResult

STALE_LOOP_S = 30.0
"""``/healthz`` fails when the loop has not turned for this long and no drill is running."""


@dataclass(frozen=True)
class Status:
    """What the scheduler shows: replaced whole, never changed in place."""

    started_at: float
    last_loop: float
    results: tuple[RunResult, ...] = ()
    run_counts: Mapping[tuple[str, RunStatus], int] = field(default_factory=dict)
    skip_counts: Mapping[tuple[str, SkipReason], int] = field(default_factory=dict)
    next_fire: Mapping[str, float | None] = field(default_factory=dict)
    jitter_s: Mapping[str, float] = field(default_factory=dict)
    invalid_files: int = 0
    running: str | None = None
    running_since: float | None = None
    running_limit_s: float | None = None
    problem: str | None = None
    """Why the scheduler cannot start drills now (its store lock is unconfirmed): ``/healthz``
    fails at once while it is set, however recently the loop turned."""


class Board:
    """Where the loop publishes its ``Status`` for the server thread to read."""

    def __init__(self, status: Status) -> None:
        self._status = status
        self._lock = threading.Lock()

    @property
    def status(self) -> Status:
        """The latest status."""
        with self._lock:
            return self._status

    def publish(self, status: Status) -> None:
        """Replace the status."""
        with self._lock:
            self._status = status


class _SchedulerCollector:
    def __init__(self, status: Status) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        status = self._status
        scenario = ["scenario"]
        upcoming = GaugeMetricFamily(
            "gameday_schedule_next_run_timestamp_seconds",
            "Next fire time of the scenario (Unix time); the drill starts within its jitter.",
            labels=scenario,
        )
        jitter = GaugeMetricFamily(
            "gameday_schedule_jitter_seconds",
            "Largest random delay after a fire time.",
            labels=scenario,
        )
        for name, moment in sorted(status.next_fire.items()):
            if moment is not None:
                upcoming.add_metric([name], moment)
            jitter.add_metric([name], status.jitter_s.get(name, 0.0))
        skipped = CounterMetricFamily(
            "gameday_schedule_skipped",
            "Fire times that did not run, by reason (busy: another drill ran; late).",
            labels=["scenario", "reason"],
        )
        for (name, reason), count in sorted(status.skip_counts.items()):
            skipped.add_metric([name, reason.value], float(count))
        yield from (upcoming, jitter, skipped)
        yield from _health_families(status)


def _health_families(status: Status) -> Iterator[Metric]:
    def gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, text, value=value)

    yield gauge("gameday_scheduler_up", "1 while the scheduler runs.", 1.0)
    yield gauge(
        "gameday_scheduler_last_loop_timestamp_seconds",
        "When the scheduler's loop last turned (Unix time; it waits while a drill runs).",
        status.last_loop,
    )
    yield gauge(
        "gameday_scheduler_busy", "1 while a drill runs.", 0.0 if status.running is None else 1.0
    )
    yield gauge(
        "gameday_scheduler_scheduled_scenarios",
        "Scenarios the scheduler runs.",
        float(len(status.next_fire)),
    )
    yield gauge(
        "gameday_scheduler_invalid_files",
        "Scenario files not scheduled: invalid, or refused by a safety check.",
        float(status.invalid_files),
    )


def render_metrics(status: Status) -> bytes:
    """The Prometheus text of ``status``."""
    registry = results_registry(status.results, status.run_counts)
    registry.register(_SchedulerCollector(status))
    return generate_latest(registry)


def health(status: Status, now: float) -> tuple[bool, dict[str, object]]:
    """(healthy, details): the loop turned recently, or a drill runs within its bound; and
    nothing keeps the scheduler from starting drills (``Status.problem``)."""
    loop_age = now - status.last_loop
    healthy = loop_age <= STALE_LOOP_S
    if status.running is not None and status.running_since is not None:
        limit = status.running_limit_s or 0.0
        healthy = healthy or now - status.running_since <= limit
    word = "ok" if healthy else "stale"
    if status.problem is not None:
        healthy, word = False, "blocked"
    details: dict[str, object] = {
        "status": word,
        "uptime_s": round(now - status.started_at, 3),
        "last_loop_age_s": round(loop_age, 3),
        "running": status.running,
        "scheduled": sorted(status.next_fire),
        "invalid_files": status.invalid_files,
        "problem": status.problem,
    }
    return healthy, details


TOKEN_ENV = "GAMEDAY_METRICS_TOKEN"
"""The bearer token ``/metrics`` and ``/healthz`` require, when ``--metrics-token`` is not given."""


def check_exposure(
    listen: str, host: str, token: str | None, *, allow_unauthenticated: bool
) -> str | None:
    """None on loopback; a warning to log beyond it. InvalidInputError beyond loopback
    without a token, unless ``allow_unauthenticated``: every drill's results (scenario
    names, probe names, outcomes) would be open to anyone who reaches the port."""
    if is_loopback(host):
        return None
    if not token and not allow_unauthenticated:
        raise InvalidInputError(
            f"--metrics-listen {listen}: /metrics would listen beyond this machine ({host}) "
            "without a token, and anyone who reaches it could read every drill's results",
            hint=f"set {TOKEN_ENV} (or --metrics-token), listen on 127.0.0.1, or add "
            "--allow-unauthenticated if that is really meant",
        )
    if token:
        return f"warning: /metrics listens on {host}, beyond this machine (bearer token required)"
    return (
        f"warning: /metrics listens on {host}, beyond this machine: anyone who reaches it can "
        "read every drill's results (--allow-unauthenticated)"
    )


def parse_listen(text: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) to (host, port); ``off`` or empty: None."""
    value = text.strip()
    if value in ("", "off"):
        return None
    return parse_address(value, "--metrics-listen", "127.0.0.1:9464 (or off)")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per scrape would drown the scheduler's own log

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        expected = self.server.expected_authorization
        if expected is None:
            return True
        given = self.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        # compare_digest: the time taken must not reveal how much of the token matched.
        return hmac.compare_digest(given, expected)

    def do_GET(self) -> None:
        if not self._authorized():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Bearer realm="gameday-scheduler"')
            body = b"missing or wrong bearer token (--metrics-token)\n"
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        path = self.path.split("?", 1)[0]
        status = self.server.board.status
        if path == "/metrics":
            self._send(200, render_metrics(status), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            healthy, details = health(status, self.server.clock())
            body = json.dumps(details).encode("utf-8") + b"\n"
            self._send(200 if healthy else 503, body, "application/json")
        else:
            self._send(404, b"not found: try /metrics or /healthz\n", "text/plain")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        board: Board,
        clock: Callable[[], float],
        token: str | None,
    ):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.board = board
        self.clock = clock
        self.expected_authorization = f"Bearer {token}".encode() if token else None


class MetricsServer:
    """``/metrics`` and ``/healthz`` on ``address`` in a thread, for a ``with`` block; with a
    ``token``, every request must carry ``Authorization: Bearer <token>`` (401 otherwise)."""

    def __init__(
        self,
        address: tuple[str, int],
        board: Board,
        clock: Callable[[], float],
        token: str | None = None,
    ) -> None:
        try:
            self._server = _Server(address, board, clock, token)
        except OSError as error:
            raise InvalidInputError(
                f"--metrics-listen: cannot listen on {address[0]}:{address[1]}: "
                f"{error.strerror or error}",
                hint="give another HOST:PORT, or off",
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="gameday-metrics", daemon=True
        )

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` as bound (the real port when 0 was asked)."""
        address = self._server.server_address
        host = address[0].decode() if isinstance(address[0], bytes) else str(address[0])
        port = address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def __enter__(self) -> MetricsServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
