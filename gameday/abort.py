"""``gameday abort``: the kill switch. Clear every fault on every gateway gameday can find.

A running drill writes its gateway's URL into its scratch folder, so ``abort`` finds every
local run's gateway by itself; gateways started apart (``gameday gateway``, compose) are named
with ``--gateway`` or ``GAMEDAY_GATEWAY_URL``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gameday.environments.workdir import GATEWAY_URL_FILE, RUN_PREFIX, alive
from gameday.errors import GameDayError
from gameday.gateway.client import GatewayClient


@dataclass(frozen=True)
class Cleared:
    """What the kill switch did at one gateway."""

    gateway: str
    removed: int | None
    error: str | None = None


def running_gateways(parent: Path | None = None) -> list[str]:
    """The gateway URLs of drills running on this machine now."""
    root = parent or Path(tempfile.gettempdir())
    urls = []
    for marker in sorted(root.glob(f"{RUN_PREFIX}*-*/{GATEWAY_URL_FILE}")):
        pid_text = marker.parent.name.removeprefix(RUN_PREFIX).split("-", 1)[0]
        if pid_text.isdigit() and alive(int(pid_text)):
            urls.append(marker.read_text().strip())
    return urls


def abort(
    gateways: Sequence[str], token: str | None = None, parent: Path | None = None
) -> list[Cleared]:
    """Clear every fault on the named gateways and on every local run's gateway."""
    token = token or os.environ.get("GAMEDAY_GATEWAY_TOKEN")
    targets = list(dict.fromkeys([*gateways, *running_gateways(parent)]))
    cleared = []
    for url in targets:
        try:
            cleared.append(Cleared(url, GatewayClient(url, token, timeout_s=5).clear()))
        except GameDayError as error:
            cleared.append(Cleared(url, None, error.message))
    return cleared
