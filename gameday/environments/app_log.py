"""The app's output kept beside the result (``app.log``): capped and redacted.

The app writes into the run's scratch folder, which is removed when the run ends: the drill
keeps a copy first. A long log is cut in the middle, at line ends: its first ``HEAD_BYTES``
(how the app started) and its last ``TAIL_BYTES`` (what it said last, where an exit's cause
usually is), with a line at the cut saying how much was left out. Credentials are redacted
like every other output (``gameday.redact``), the values of the app's own credential-named
environment variables included.

>>> keep_app_log(workdir / "app.log", report_dir / run_id / "app.log", secrets=app_secrets(app))
True
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from gameday.redact import Redactor, current_redactor, environment_secrets
from gameday.scenario.target import AppSpec, CommandApp

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 1024 * 1024


def app_secrets(app: AppSpec | None) -> frozenset[str]:
    """The values of the app's credential-named variables (``target.app.env``)."""
    if isinstance(app, CommandApp):
        return environment_secrets(app.env)
    return frozenset()


def read_capped(path: Path, head_bytes: int = HEAD_BYTES, tail_bytes: int = TAIL_BYTES) -> str:
    """The text of ``path``, whole when it is at most ``head_bytes + tail_bytes`` long, else
    its first and last whole lines within those sizes and a line saying what was left out."""
    with path.open("rb") as source:
        size = os.fstat(source.fileno()).st_size
        if size <= head_bytes + tail_bytes:
            return source.read(head_bytes + tail_bytes).decode(errors="replace")
        head = source.read(head_bytes)
        source.seek(size - tail_bytes)
        tail = source.read(tail_bytes)
    # Cut at line ends: a half line could hide half a credential from the redactor.
    end = head.rfind(b"\n")
    head = head[: end + 1] if end >= 0 else head
    start = tail.find(b"\n")
    tail = tail[start + 1 :] if start >= 0 else tail
    left_out = size - len(head) - len(tail)
    marker = (
        f"[gameday: {left_out} bytes of the app's output left out here; it wrote {size} "
        f"bytes, of which the first {len(head)} and the last {len(tail)} are kept]\n"
    )
    if head and not head.endswith(b"\n"):
        marker = "\n" + marker
    return head.decode(errors="replace") + marker + tail.decode(errors="replace")


def keep_app_log(source: Path, destination: Path, *, secrets: Iterable[str] = ()) -> bool:
    """Copy the app's log from ``source`` to ``destination``, capped and redacted; False
    when there is none (no app was started). OSError when it cannot be read or written."""
    try:
        text = read_capped(source)
    except FileNotFoundError:
        return False
    redactor = Redactor(current_redactor().secrets | frozenset(secrets))
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(redactor.text(text), encoding="utf-8")
    return True
