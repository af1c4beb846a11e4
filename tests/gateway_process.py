"""A real gateway process for tests: ``gameday gateway`` (or ``python -m MODULE``) on a free
loopback port in front of an upstream, stopped with SIGTERM when the block ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY = "gameday gateway listening on http://127.0.0.1:"


@dataclass(frozen=True)
class GatewayProcess:
    url: str
    ready_line: str
    process: subprocess.Popen[str]


@contextmanager
def gateway_process(
    upstream: str, *options: str, command: Sequence[str] = ("-m", "gameday", "gateway")
) -> Iterator[GatewayProcess]:
    """The gateway with ``options`` after ``--upstream`` and ``--listen 127.0.0.1:0``."""
    argv = [sys.executable, *command, "--upstream", upstream, "--listen", "127.0.0.1:0"]
    process = subprocess.Popen(
        [*argv, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        line = process.stdout.readline()
        assert line.startswith(READY), line
        yield GatewayProcess(line.split()[4].rstrip(","), line.strip(), process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        finally:
            process.kill()
            process.stdout.close()
            process.stderr.close()
