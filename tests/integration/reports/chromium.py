"""Headless Chromium driven over the DevTools protocol, for the HTML report tests.

Debian's ``chromium`` package, started with a throwaway profile and ``--remote-debugging-port=0``;
the port it chose is read back from ``DevToolsActivePort`` in the profile (no port is guessed).
One browser visits every page: for each, a new tab, the page loaded from a ``file://`` URL, the
console watched (``Runtime`` and ``Log`` events: exceptions, ``console.error``, CSP violations,
failed loads), a script evaluated against the DOM, and optionally a PNG screenshot of the whole
page. The protocol is spoken over aiohttp's websocket client; nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)
TIMEOUT_S = 20.0


@dataclass
class Visit:
    """What one page did in the browser."""

    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    dom: Any = None
    png: bytes | None = None


class _Session:
    """Requests and events of one DevTools websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            else:
                self.events.append(data)
                self.arrived.set()

    async def send(self, method: str, params: dict[str, Any] | None = None,
                   session: str | None = None) -> dict[str, Any]:  # fmt: skip
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        await self.ws.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, TIMEOUT_S)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply["result"]
        return result

    async def wait_for(self, method: str, session: str) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while not any(e.get("method") == method and e.get("sessionId") == session
                      for e in self.events):  # fmt: skip
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), deadline - time.monotonic())


def _errors(events: list[dict[str, Any]], session: str) -> tuple[list[str], list[str]]:
    errors, dialogs = [], []
    for event in (e for e in events if e.get("sessionId") == session):
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(json.dumps(params["exceptionDetails"])[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            errors.append(json.dumps(params.get("args"))[:500])
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(params["entry"].get("text", ""))
        elif method == "Page.javascriptDialogOpening":
            dialogs.append(params.get("message", ""))
    return errors, dialogs


async def _visit(cdp: _Session, page: Path, script: str, shot_height: float | None) -> Visit:
    target = (await cdp.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
    attached = await cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})
    session = attached["sessionId"]
    for domain in ("Runtime", "Log", "Page"):
        await cdp.send(f"{domain}.enable", session=session)
    size = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    await cdp.send("Emulation.setDeviceMetricsOverride", size, session=session)
    await cdp.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
    await cdp.wait_for("Page.loadEventFired", session)
    evaluated = await cdp.send(
        "Runtime.evaluate", {"expression": script, "returnByValue": True}, session=session
    )
    visit = Visit(dom=evaluated["result"].get("value"))
    if shot_height is not None:
        metrics = await cdp.send("Page.getLayoutMetrics", session=session)
        content = metrics["cssContentSize"]
        height = min(content["height"], shot_height)
        clip = {"x": 0, "y": 0, "width": content["width"], "height": height}
        shot = await cdp.send(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": {**clip, "scale": 1}},
            session=session,
        )
        visit.png = base64.b64decode(shot["data"])
    visit.console_errors, visit.dialogs = _errors(cdp.events, session)
    await cdp.send("Target.closeTarget", {"targetId": target})
    return visit


def _devtools_url(profile: Path, browser: subprocess.Popen[bytes]) -> str:
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + TIMEOUT_S
    while not active.is_file() or len(active.read_text().splitlines()) < 2:
        if browser.poll() is not None:
            raise RuntimeError(f"chromium exited with {browser.returncode} before listening")
        if time.monotonic() > deadline:
            raise TimeoutError("chromium did not write DevToolsActivePort")
        time.sleep(0.05)
    port, path = active.read_text().splitlines()[:2]
    return f"ws://127.0.0.1:{port}{path}"


async def _visit_all(url: str, pages: dict[Path, float | None], script: str) -> dict[Path, Visit]:
    async with aiohttp.ClientSession() as http, http.ws_connect(url, max_msg_size=0) as ws:
        cdp = _Session(ws)
        visits = {page: await _visit(cdp, page, script, shot) for page, shot in pages.items()}
        with contextlib.suppress(RuntimeError, asyncio.TimeoutError):
            await cdp.send("Browser.close")
        cdp.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await cdp.reader
        return visits


def visit_pages(pages: dict[Path, float | None], script: str) -> dict[Path, Visit]:
    """Open each page in one headless Chromium; what each did. A page's value is the height
    of its screenshot from the top (``math.inf``: the whole page), None for no screenshot."""
    with tempfile.TemporaryDirectory(prefix="gameday-chromium-") as profile:
        # Its own process group: Chromium's helpers (zygote, renderers, crashpad) outlive the
        # browser process for a moment and keep writing to the profile, which must be gone
        # before the folder is removed.
        browser = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            url = _devtools_url(Path(profile), browser)
            return asyncio.run(_visit_all(url, pages, script))
        finally:
            _stop_group(browser)


def _stop_group(browser: subprocess.Popen[bytes]) -> None:
    """Stop the browser and every process of its group, SIGKILL after a bounded wait."""
    group = browser.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    try:
        browser.wait(timeout=10)
    except subprocess.TimeoutExpired:
        browser.kill()
        browser.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    time.sleep(0.1)
