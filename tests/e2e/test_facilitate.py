"""`gameday run --facilitate` driven for real: in a tmux terminal, keys sent, the screen read,
marks posted over HTTP, and the result checked against the test's own clock."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.terminal import Terminal

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "tests" / "fixtures" / "apps" / "truth_app.py"
INTERVAL_S = 0.1
TOKEN = "s3cret-marks"
RUNBOOK = """# Runbook: test

## Detect

- the api probe fails

## Mitigate

1. Page the owner of the app.
2. Switch the app to its fallback
   credentials (a second line).
3. Confirm the api answers.
"""


def _script() -> str:
    found = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert found
    return found


def _scenario(tmp_path: Path, *, max_duration: str = "60s") -> Path:
    (tmp_path / "runbook.md").write_text(RUNBOOK)
    path = tmp_path / "drill.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: facilitated, runbook: runbook.md, runbook_steps: Mitigate}\n"
        "target:\n"
        f"  app: {{command: ['{sys.executable}', '{APP}'], "
        f"env: {{MODE: recover-after, TRUTH_FILE: '{tmp_path / 'truth.json'}'}}, "
        "health_url: 'http://127.0.0.1:{port}/health', ready_timeout: 15s}\n"
        "faults: [{kind: identity-loss, start_after: 300ms, duration: 1s}]\n"
        "probes: [{name: api, kind: http, url: '{app}/health', "
        f"interval: {int(INTERVAL_S * 1000)}ms, timeout: 1s}}]\n"
        "objectives:\n"
        "  - {kind: rto, probe: api, target: 30s}\n"
        "  - {kind: human_ttd, target: 60s}\n"
        "  - {kind: human_ttm, target: 60s}\n"
        "observe: {max: 5s, recovery_window: 500ms}\n"
        f"guardrails: {{max_duration: {max_duration}}}\n"
    )
    return path


@pytest.fixture
def terminal_for(tmp_path: Path) -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def _open(opened: list[Terminal], tmp_path: Path, *args: str) -> Terminal:
    command = [_script(), "run", str(tmp_path / "drill.yaml"), "--report-dir", "out", *args]
    terminal = Terminal(command, tmp_path)
    opened.append(terminal)
    return terminal


def _post(url: str, body: object, token: str | None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _result(tmp_path: Path) -> dict[str, Any]:
    (path,) = (tmp_path / "out").glob("*/result.json")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _mark_by_keys(terminal: Terminal) -> float:
    """d, step 2, a note; returns when d was sent."""
    sent_d = terminal.send("d")
    terminal.wait_for("detected by alice")
    time.sleep(0.5)
    terminal.send("2")
    terminal.wait_for("2 [x] 2. Switch the app")
    terminal.send("n")
    terminal.wait_for("note> ")
    terminal.send("db <failover> | ok", literal=True)
    terminal.send("Enter")
    terminal.wait_for("note by alice: db <failover> | ok")
    return sent_d


def _mark_over_http(terminal: Terminal, url: str) -> None:
    """Bob marks mitigation over HTTP, after a missing and a wrong token and bad bodies."""
    assert _post(url, {"kind": "mitigation", "author": "bob"}, None)[0] == 401
    assert _post(url, {"kind": "mitigation", "author": "bob"}, "wrong")[0] == 401
    status, answer = _post(url, {"kind": "detect", "author": "bob"}, TOKEN)
    assert status == 400
    assert answer["field"] == "kind"
    assert str(answer["error"]).startswith("kind: Input should be 'detected', 'mitigation'")
    status, answer = _post(url, {"kind": "step", "step": 9, "author": "bob"}, TOKEN)
    assert (status, answer) == (
        400,
        {"error": "step 9: the checklist has steps 1 to 3", "field": "step"},
    )
    status, answer = _post(
        url, {"kind": "mitigation", "author": "bob", "note": "rolled creds"}, TOKEN
    )
    assert status == 201 and answer["source"] == "http"
    terminal.wait_for("mitigation by bob via http: rolled creds")


def test_a_facilitated_hold_takes_keys_and_http_marks_and_ends_faults_at_e(
    tmp_path: Path, terminal_for: list[Terminal]
) -> None:
    _scenario(tmp_path)
    os.environ["GAMEDAY_MARKS_TOKEN"] = TOKEN
    try:
        terminal = _open(terminal_for, tmp_path, "--facilitate", "--hold", "--as", "alice")
    finally:
        del os.environ["GAMEDAY_MARKS_TOKEN"]
    screen = terminal.wait_for("held (ends itself in")
    assert "HOLD: faults stay until you press e" in screen
    assert "1 [ ] 1. Page the owner of the app." in screen
    assert "2 [ ] 2. Switch the app to its fallback credentials (a second line)." in screen
    url = re.search(r"marks API: POST (http://127\.0\.0\.1:\d+/marks)", screen)
    assert url, screen

    sent_d = _mark_by_keys(terminal)
    _mark_over_http(terminal, url[1])
    time.sleep(max(0.5, 2.5 - (time.monotonic() - sent_d)))  # past the planned 1 s window
    sent_e = terminal.send("e")
    terminal.wait_for("ending the held faults (alice)")
    assert terminal.exit_code() == 0, terminal.screen()
    _check_hold_result(_result(tmp_path), sent_d, sent_e, tmp_path / "truth.json")


def _check_hold_result(
    result: dict[str, Any], sent_d: float, sent_e: float, truth_file: Path
) -> None:
    marks = {m["kind"]: m for m in result["marks"]}
    assert [m["kind"] for m in result["marks"]] == [
        "detected",
        "step",
        "note",
        "mitigation",
        "end",
    ]
    assert marks["detected"]["author"] == "alice" and marks["detected"]["source"] == "keys"
    assert marks["note"]["note"] == "db <failover> | ok"
    assert marks["mitigation"]["author"] == "bob" and marks["mitigation"]["source"] == "http"
    # The marks sit where the keys were pressed, on the test's own clock, within a probe
    # interval (plus the time tmux takes to deliver a key).
    assert (
        abs((marks["end"]["at"] - marks["detected"]["at"]) - (sent_e - sent_d)) < INTERVAL_S + 0.15
    )
    # CLOCK_MONOTONIC is shared by every process: the app wrote when STS came back (at its
    # first successful call after the fault), which is when key e removed the fault. That
    # reading itself lags the removal by up to one probe interval, hence two intervals here.
    truth = json.loads(truth_file.read_text())
    (fault,) = result["faults"]
    origin = truth["back_at"] - fault["removed_at"]
    assert abs(origin + marks["detected"]["at"] - sent_d) < 2 * INTERVAL_S + 0.15
    assert abs(origin + marks["end"]["at"] - sent_e) < 2 * INTERVAL_S + 0.15
    # Held: the fault stayed past its planned second and went at e, not at its deadline.
    assert fault["removed_at"] - fault["injected_at"] > 2.0
    assert 0 <= fault["removed_at"] - marks["end"]["at"] < 0.5
    facilitation = result["facilitation"]
    assert facilitation["hold"] is True and facilitation["hold_ended_by"] == "alice"
    assert facilitation["hold_deadline"] > fault["removed_at"] + 40
    steps = facilitation["steps"]
    assert [s["ticked_by"] for s in steps] == [None, "alice", None]
    assert steps[1]["ticked_at"] == marks["step"]["at"]
    objectives = {o["kind"]: o for o in result["objectives"]}
    assert objectives["human_ttd"]["measured"] == pytest.approx(
        marks["detected"]["at"] - result["t0"]
    )
    assert objectives["human_ttm"]["measured"] == pytest.approx(
        marks["mitigation"]["at"] - result["t0"]
    )
    # People did the recovery: the app healed when e lifted the fault, and RTO spans the hold.
    rto = objectives["rto"]
    assert rto["met"] is True
    assert rto["impact_start"] - result["t0"] < INTERVAL_S + 0.1
    assert 0 <= rto["recovered_at"] - marks["end"]["at"] < 3 * INTERVAL_S + 0.3
    assert result["status"] == "passed"


def test_nobody_marks_detection_and_the_hold_ends_at_its_deadline(
    tmp_path: Path, terminal_for: list[Terminal]
) -> None:
    # max_duration 9s, observed 3.7s after the faults, 1s margin: held until 4.3s.
    _scenario(tmp_path, max_duration="9s")
    terminal = _open(terminal_for, tmp_path, "--facilitate", "--hold")
    terminal.wait_for("held (ends itself in")
    assert terminal.exit_code() == 1, terminal.screen()
    result = _result(tmp_path)
    (fault,) = result["faults"]
    assert fault["planned_end"] == pytest.approx(4.3)
    assert result["facilitation"]["hold_ended_by"] == "max_duration"
    objectives = {o["kind"]: o for o in result["objectives"]}
    assert objectives["human_ttd"]["met"] is False
    assert objectives["human_ttd"]["measured"] is None
    assert objectives["human_ttd"]["detail"].startswith("not detected")
    assert result["status"] == "failed"


def test_ctrl_c_in_the_facilitated_view_rolls_back_and_restores_the_terminal(
    tmp_path: Path, terminal_for: list[Terminal]
) -> None:
    _scenario(tmp_path)
    command = [
        _script(), "run", str(tmp_path / "drill.yaml"), "--report-dir", "out",
        "--facilitate", "--hold",
    ]  # fmt: skip
    terminal = Terminal(command, tmp_path, after="stty -a")
    terminal_for.append(terminal)
    terminal.wait_for("held (ends itself in")
    terminal.send("C-c")
    assert terminal.exit_code() == 4, terminal.screen()
    screen = terminal.screen()
    assert "Traceback" not in screen
    assert re.search(r"(?<!-)icanon", screen) and re.search(r"(?<!-)echo\b", screen), screen
    result = _result(tmp_path)
    assert result["status"] == "aborted"
    assert result["reason"] == "signal SIGINT"
    (fault,) = result["faults"]
    assert fault["removed_at"] is not None


def test_without_a_terminal_facilitate_is_refused() -> None:
    done = subprocess.run(
        [_script(), "run", str(REPO / "scenarios" / "identity-loss.yaml"), "--facilitate"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(
        "error: --facilitate needs a terminal: it reads keys from stdin and draws the live "
        "view on stderr, and stdin and stderr are not a terminal here\n"
    )
    assert "Traceback" not in done.stderr


def test_hold_without_facilitate_is_refused() -> None:
    done = subprocess.run(
        [_script(), "run", str(REPO / "scenarios" / "identity-loss.yaml"), "--hold", "--as", "bob"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "error: --hold, --as: for a facilitated run only\nhint: add --facilitate\n"
    )
