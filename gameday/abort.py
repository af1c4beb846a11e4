"""``gameday abort``: the kill switch. Clear every fault on every gateway gameday can find.

A running drill writes its gateway's URL into its scratch folder, so ``abort`` finds every
local run's gateway by itself (only in folders of this user's with mode 0700: it sends its
token there); gateways started apart (``gameday gateway``, compose) are named
with ``--gateway`` or ``GAMEDAY_GATEWAY_URL``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gameday.environments.workdir import GATEWAY_URL_FILE, alive, run_folders, untrusted
from gameday.errors import GameDayError
from gameday.gateway.client import GatewayClient


@dataclass(frozen=True)
class Cleared:
    """What the kill switch did at one gateway."""

    gateway: str
    removed: int | None
    error: str | None = None


@dataclass(frozen=True)
class Found:
    """The gateways of drills running here, and run folders not trusted (``untrusted``)."""

    urls: list[str]
    ignored: list[str]
    """``<path>: <why>``: never read, never sent the token."""


def running_gateways(parent: Path | None = None) -> Found:
    """The gateway URLs of this user's drills running on this machine now.

    Only a run folder owned by this user with mode 0700, and a ``gateway.url`` in it owned
    by this user that others cannot write, is read: anyone can create a folder of that name
    in a shared temp folder, and ``abort`` sends its token to what it finds.
    """
    urls, ignored = [], []
    for folder, pid in run_folders(parent):
        marker = folder / GATEWAY_URL_FILE
        if not alive(pid) or not os.path.lexists(marker):
            continue
        why = untrusted(folder, folder=True)
        shown = folder
        if why is None:
            why, shown = untrusted(marker, folder=False), marker
        if why is not None:
            ignored.append(f"{shown}: {why}")
            continue
        urls.append(marker.read_text().strip())
    return Found(urls, ignored)


@dataclass(frozen=True)
class Aborted:
    """What ``abort`` did: each gateway cleared, and each run folder it would not trust."""

    cleared: list[Cleared]
    ignored: list[str]


def abort(gateways: Sequence[str], token: str | None = None, parent: Path | None = None) -> Aborted:
    """Clear every fault on the named gateways and on every local run's gateway (run folders
    that fail ``untrusted`` are listed in ``ignored``, never contacted)."""
    token = token or os.environ.get("GAMEDAY_GATEWAY_TOKEN")
    found = running_gateways(parent)
    targets = list(dict.fromkeys([*gateways, *found.urls]))
    cleared = []
    for url in targets:
        try:
            cleared.append(Cleared(url, GatewayClient(url, token, timeout_s=5).clear()))
        except GameDayError as error:
            cleared.append(Cleared(url, None, error.message))
    return Aborted(cleared, found.ignored)
