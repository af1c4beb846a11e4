"""The scheduler's network defaults and its lock (issue 14, finding 9): /metrics on loopback
unless a token (or --allow-unauthenticated) is given, the token required when set, and one
lock per real store however it is named."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from gameday.errors import InvalidInputError
from gameday.schedule.lock import SchedulerLockedError, scheduler_lock
from gameday.schedule.scheduler import run_scheduler
from tests.integration.schedule.support import fetch, metrics_url

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "metrics-token-0123456789"


def _serve(
    tmp_path: Path, check: Callable[[list[str]], None], **options: object
) -> tuple[int, list[str]]:
    """Run a scheduler over an empty folder in this (the main) thread; ``check`` runs in a
    thread once it serves, then the scheduler is stopped."""
    folder = tmp_path / "scenarios"
    folder.mkdir(exist_ok=True)
    lines: list[str] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def helper() -> None:
        try:
            for _ in range(200):
                if any("serving /metrics" in line for line in lines):
                    break
                stop.wait(0.05)
            check(lines)
        except BaseException as error:
            failures.append(error)
        finally:
            stop.set()

    thread = threading.Thread(target=helper, daemon=True)
    thread.start()
    code = run_scheduler(
        folder, store=tmp_path / "history.db", log=lines.append, stop=stop, **options
    )
    thread.join(timeout=10)
    if failures:
        raise failures[0]
    return code, lines


def _get(url: str, token: str | None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def test_with_a_token_every_request_must_carry_it(tmp_path: Path) -> None:
    def check(lines: list[str]) -> None:
        base = metrics_url(lines)
        for path in ("/metrics", "/healthz"):
            assert _get(base + path, None) == (
                401,
                "missing or wrong bearer token (--metrics-token)\n",
            )
            assert _get(base + path, "wrong")[0] == 401
        status, body = _get(base + "/metrics", TOKEN)
        assert status == 200
        assert "gameday_scheduler_up 1.0" in body
        assert _get(base + "/healthz", TOKEN)[0] == 200

    code, lines = _serve(tmp_path, check, metrics_listen="127.0.0.1:0", metrics_token=TOKEN)

    assert code == 0
    assert not any(TOKEN in line for line in lines)


def test_the_token_is_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAMEDAY_METRICS_TOKEN", TOKEN)

    def check(lines: list[str]) -> None:
        base = metrics_url(lines)
        assert fetch(base + "/metrics")[0] == 401
        assert _get(base + "/metrics", TOKEN)[0] == 200

    assert _serve(tmp_path, check, metrics_listen="127.0.0.1:0")[0] == 0


def test_without_a_token_loopback_answers_anyone(tmp_path: Path) -> None:
    def check(lines: list[str]) -> None:
        assert fetch(metrics_url(lines) + "/metrics")[0] == 200

    code, lines = _serve(tmp_path, check, metrics_listen="127.0.0.1:0")

    assert code == 0
    assert not any("warning" in line for line in lines)


def test_beyond_loopback_without_a_token_is_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GAMEDAY_METRICS_TOKEN", raising=False)
    (tmp_path / "scenarios").mkdir()

    with pytest.raises(InvalidInputError) as caught:
        run_scheduler(
            tmp_path / "scenarios", store=tmp_path / "history.db", metrics_listen="0.0.0.0:0"
        )

    assert caught.value.message == (
        "--metrics-listen 0.0.0.0:0: /metrics would listen beyond this machine (0.0.0.0) "
        "without a token, and anyone who reaches it could read every drill's results"
    )
    assert caught.value.hint == (
        "set GAMEDAY_METRICS_TOKEN (or --metrics-token), listen on 127.0.0.1, or add "
        "--allow-unauthenticated if that is really meant"
    )
    assert not (tmp_path / "history.db").exists()


def test_the_cli_refuses_it_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "GAMEDAY_METRICS_TOKEN"}

    process = subprocess.run(
        [sys.executable, "-m", "gameday.cli", "schedule", "run", str(tmp_path / "scenarios"),
         "--store", str(tmp_path / "history.db"), "--metrics-listen", "[::]:0"],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )  # fmt: skip

    assert (process.returncode, process.stdout) == (2, "")
    assert process.stderr.startswith(
        "error: --metrics-listen [::]:0: /metrics would listen beyond this machine (::) "
    )


def test_beyond_loopback_with_a_token_or_when_allowed_it_serves_and_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GAMEDAY_METRICS_TOKEN", raising=False)

    def check(lines: list[str]) -> None:
        port = metrics_url(lines).rsplit(":", 1)[1]
        assert _get(f"http://127.0.0.1:{port}/metrics", None)[0] == 200

    code, lines = _serve(tmp_path, check, metrics_listen="0.0.0.0:0", allow_unauthenticated=True)
    assert code == 0
    assert (
        "warning: /metrics listens on 0.0.0.0, beyond this machine: anyone who reaches it "
        "can read every drill's results (--allow-unauthenticated)"
    ) in lines

    def check_token(lines: list[str]) -> None:
        port = metrics_url(lines).rsplit(":", 1)[1]
        assert _get(f"http://127.0.0.1:{port}/metrics", None)[0] == 401

    code, lines = _serve(tmp_path, check_token, metrics_listen="0.0.0.0:0", metrics_token=TOKEN)
    assert code == 0
    assert (
        "warning: /metrics listens on 0.0.0.0, beyond this machine (bearer token required)"
    ) in lines


def test_no_alias_of_a_store_can_run_a_second_scheduler(tmp_path: Path) -> None:
    # Issue 14 finding 9: the lock was keyed on the path, so an alias ran a second scheduler.
    real = tmp_path / "data" / "history.db"
    linked_file = tmp_path / "alias.db"
    linked_folder = tmp_path / "aliasdir"
    hard_link = tmp_path / "elsewhere" / "hard.db"
    hard_link.parent.mkdir()

    with scheduler_lock(real) as held:  # creates the store: a lock needs a file
        assert held == real and real.is_file()
        linked_file.symlink_to(real)
        linked_folder.symlink_to(real.parent)
        os.link(real, hard_link)
        for alias in (linked_file, linked_folder / "history.db", hard_link):
            with pytest.raises(SchedulerLockedError) as caught, scheduler_lock(alias):
                pass
            shown = alias.resolve()
            assert caught.value.message == (
                f"another scheduler is running on this store: {shown} is locked by pid "
                f"{os.getpid()}"
            )
    with scheduler_lock(hard_link):  # released with the first
        pass


def test_a_second_scheduler_process_on_a_hard_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    real, hard_link = tmp_path / "history.db", tmp_path / "hard.db"
    with scheduler_lock(real):
        os.link(real, hard_link)
        process = subprocess.run(
            [sys.executable, "-m", "gameday.cli", "schedule", "run", str(tmp_path / "scenarios"),
             "--store", str(hard_link), "--metrics-listen", "off"],
            check=False, capture_output=True, text=True, cwd=ROOT, timeout=60,
        )  # fmt: skip
    assert (process.returncode, process.stdout) == (2, "")
    assert process.stderr.startswith(
        f"error: another scheduler is running on this store: {hard_link.resolve()} is locked "
        f"by pid {os.getpid()}\n"
    )


def test_a_scenario_whose_header_variable_is_unset_is_not_scheduled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gameday.schedule.catalog import read_catalog
    from tests.unit.schedule.scenarios import write_scenario

    monkeypatch.delenv("PAGER_TOKEN", raising=False)
    path = write_scenario(tmp_path, "paged")
    path.write_text(
        path.read_text().replace(
            "url: '{app}/health',", "url: '{app}/health', headers: {X-Pager: '${PAGER_TOKEN}'},"
        )
    )

    assert read_catalog(tmp_path).refused == {
        path: f"{path}: not scheduled: probe 'api': headers.X-Pager references ${{PAGER_TOKEN}}, "
        "which is not set in the scheduler's environment"
    }
    monkeypatch.setenv("PAGER_TOKEN", "pager-0123456789")
    assert [s.name for s in read_catalog(tmp_path).scheduled] == ["paged"]
