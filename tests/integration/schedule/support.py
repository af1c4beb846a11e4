"""Run the scheduler for a test: in this process until enough drills are done, or as a child
process (``python -m tests.integration.schedule.support DIR STORE``) for signal tests."""

from __future__ import annotations

import random
import re
import sys
import threading
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from gameday.history import HistoryRow, HistoryStore, Skip
from gameday.recorder import Listener, Recorder
from gameday.result import RunResult
from gameday.schedule.models import Blackout
from gameday.schedule.scheduler import run_scheduler

ROOT = Path(__file__).resolve().parents[3]
_SERVING = re.compile(r"serving /metrics and /healthz on (http://\S+)")


@dataclass
class Outcome:
    """What one scheduler run left: its exit code, log lines and results, as they came."""

    code: int
    lines: list[str] = field(default_factory=list)
    results: list[RunResult] = field(default_factory=list)


def metrics_url(lines: Sequence[str]) -> str:
    """The base URL the scheduler logged for /metrics and /healthz."""
    found = [m.group(1) for line in lines if (m := _SERVING.search(line))]
    assert found, lines
    return found[-1]


def fetch(url: str) -> tuple[int, str]:
    """(status, body) of a GET; an HTTP error status is returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def run_until(
    directory: Path,
    store: Path | str,
    *,
    results: int,
    timeout_s: float,
    rng: random.Random | None = None,
    blackouts: Sequence[Blackout] = (),
    report_dir: Path | None = None,
    listeners: Sequence[Listener] = (),
    on_result: Callable[[Outcome], None] | None = None,
    while_running: Callable[[Outcome, threading.Event], None] | None = None,
) -> Outcome:
    """Run the scheduler in this process until ``results`` drills are done (or ``timeout_s``);
    ``on_result`` sees each result as it comes, ``while_running`` runs in a thread."""
    outcome = Outcome(code=-1)
    stop = threading.Event()

    def finished(result: RunResult) -> None:
        outcome.results.append(result)
        if on_result is not None:
            on_result(outcome)
        if len(outcome.results) >= results:
            stop.set()

    timer = threading.Timer(timeout_s, stop.set)
    timer.start()
    helper = None
    if while_running is not None:
        helper = threading.Thread(target=while_running, args=(outcome, stop), daemon=True)
        helper.start()
    try:
        outcome.code = run_scheduler(
            directory,
            store=store,
            metrics_listen="127.0.0.1:0",
            report_dir=report_dir,
            rng=rng or random.Random(1),
            blackouts=blackouts,
            listeners=listeners,
            log=outcome.lines.append,
            on_result=finished,
            stop=stop,
        )
    finally:
        timer.cancel()
        stop.set()
        if helper is not None:
            helper.join(timeout=10)
    return outcome


def failing_listener(phase: str) -> Listener:
    """A listener with a bug: it raises when the drill enters ``phase``."""

    def listen(recorder: Recorder, kind: str, detail: str) -> None:
        if (kind, detail) == ("phase", phase):
            raise RuntimeError(f"listener bug at {phase}")

    return listen


def history_of(store: Path | str) -> tuple[list[HistoryRow], list[Skip]]:
    """Every run, oldest first, and every skipped fire time in the store."""
    with HistoryStore(store) as history:
        return list(reversed(history.runs())), history.skips()


def epoch(iso: str) -> float:
    """Unix seconds of an ISO time from the store."""
    return datetime.fromisoformat(iso).timestamp()


def _main(argv: Sequence[str]) -> int:
    from gameday.reports.live import plain_listener

    directory, store = Path(argv[0]), Path(argv[1])
    return run_scheduler(
        directory,
        store=store,
        metrics_listen="127.0.0.1:0",
        rng=random.Random(1),
        listeners=[plain_listener()],
    )


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
