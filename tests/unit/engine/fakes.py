"""Recording fakes of gameday's own seams (an environment and its injector) for the engine's
exit paths. The "backend" is a real HTTP app on loopback that answers 500 while a fault is in
force, so probes, guardrails and grading see the faults as they would see real ones."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from gameday.environments.stage import Evidence, Stage, StageRequest
from gameday.errors import InjectorError, NotRemovedError
from gameday.faults.plan import Plan
from gameday.faults.rules import Rule
from gameday.result import GatewayTally


class FaultyApp(ThreadingHTTPServer):
    """``GET /health``: 200, or 500 while ``faulted`` and the app is configured to suffer."""

    def __init__(self) -> None:
        self.faulted = threading.Event()
        self.suffers = False
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: FaultyApp

    def do_GET(self) -> None:
        status = 500 if self.server.suffers and self.server.faulted.is_set() else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@contextmanager
def serving() -> Iterator[FaultyApp]:
    app = FaultyApp()
    thread = threading.Thread(target=app.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield app
    finally:
        app.shutdown()
        app.server_close()
        thread.join(timeout=5)


@dataclass
class RecordingInjector:
    """Applies faults to ``app``; every call is recorded, and each can be made to fail."""

    app: FaultyApp
    fail_inject: bool = False
    removal_failures: int = 0
    """How many removal attempts fail before one succeeds (-1: every one)."""
    on_inject: Callable[[Rule], None] | None = None
    calls: list[tuple[str, str]] = field(default_factory=list)
    held: dict[str, Rule] = field(default_factory=dict)
    finished: int = 0

    @contextmanager
    def inject(self, rule: Rule) -> Iterator[None]:
        self.calls.append(("inject", rule.id))
        if self.fail_inject:
            raise InjectorError(f"PUT /_gameday/faults/{rule.id} failed with 503")
        self.held[rule.id] = rule
        self.app.faulted.set()
        if self.on_inject is not None:
            self.on_inject(rule)
        try:
            yield
        finally:
            self._remove(rule)

    def _remove(self, rule: Rule) -> None:
        self.calls.append(("remove", rule.id))
        if self.removal_failures != 0:
            self.removal_failures -= 1 if self.removal_failures > 0 else 0
            raise InjectorError(f"DELETE /_gameday/faults/{rule.id}: connection refused")
        self.held.pop(rule.id, None)
        if not self.held:
            self.app.faulted.clear()

    def finish(self) -> None:
        self.finished += 1
        self.calls.append(("finish", ""))
        left = []
        for rule in list(self.held.values()):
            try:
                self._remove(rule)
            except InjectorError as error:
                left.append((rule.id, error.message))
        if left:
            raise NotRemovedError(
                "; ".join(f"fault {rid} may still be in force: {why}" for rid, why in left),
                tuple(rid for rid, _ in left),
            )


@dataclass
class FakeEnvironment:
    """Brings up nothing: hands over the app's URL and the recording injector."""

    injector: RecordingInjector
    requests: list[StageRequest] = field(default_factory=list)
    torn_down: list[bool] = field(default_factory=list)

    async def bring_up(self, request: StageRequest, stack: ExitStack) -> Stage:
        self.requests.append(request)
        stack.callback(self.torn_down.append, True)
        return Stage(
            injector=self.injector,
            rules=tuple(request.plan.rules),
            evidence=lambda: Evidence(gateway=GatewayTally(total=len(self.injector.calls))),
            app=None,
            aws_endpoint_url=None,
            emulator_url=None,
            clients=None,
            credentials=None,
            app_url=self.injector.app.url,
        )


def scenario_file(tmp_path: Path, *, guardrails: str = "{}", faults: str | None = None) -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: exits}\n"
        + (f"faults: {faults}\n" if faults else "faults:\n")
        + (
            ""
            if faults
            else "  - {name: sts-down, kind: identity-loss, start_after: 50ms, duration: 150ms}\n"
        )
        + "probes: [{name: api, kind: http, url: '{app}/health', interval: 20ms, timeout: 1s}]\n"
        "objectives:\n"
        "  - {kind: rto, probe: api, target: 2s}\n"
        "  - {kind: steady, probe: api, samples: 2}\n"
        f"guardrails: {guardrails}\n"
        "observe: {max: 3s, recovery_window: 100ms, stable: 2}\n"
    )
    return path


def signal_self(signum: signal.Signals) -> Callable[[Rule], None]:
    """An ``on_inject`` that sends this process ``signum``, as a person's Ctrl-C would."""

    def send(rule: Rule) -> None:
        del rule
        os.kill(os.getpid(), signum)

    return send


def plan_for(path: Path) -> Plan:
    from gameday.engine.plan import make_plan
    from gameday.scenario.loader import load_scenario

    return make_plan(load_scenario(path))
