"""The command probe with real processes."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from gameday.probes import build_probe, run_schedule, take_sample
from tests.integration.probes._support import context, spec


def test_exit_codes_are_compared_with_the_expected_one() -> None:
    async def main() -> None:
        async with context() as ctx:
            ok = await build_probe(spec("command", command=["true"]), ctx).sample()
            assert (ok.ok, ok.detail) == (True, "exit 0")
            failed = await build_probe(spec("command", command=["false"]), ctx).sample()
            assert (failed.ok, failed.detail) == (False, "exit 1, expected 0")
            expected = spec("command", command=["false"], expect={"exit_code": 1})
            assert (await build_probe(expected, ctx).sample()).ok
            loud = spec("command", command=["sh", "-c", "echo broken >&2; exit 3"])
            observation = await build_probe(loud, ctx).sample()
            assert observation.detail == "exit 3, expected 0: broken"

    asyncio.run(main())


def test_a_missing_program_is_unhealthy() -> None:
    async def main() -> None:
        async with context() as ctx:
            probe = build_probe(spec("command", command=["/nonexistent/gameday-probe"]), ctx)
            observation = await probe.sample()
            assert not observation.ok
            assert observation.detail.startswith("cannot run /nonexistent/gameday-probe: ")

    asyncio.run(main())


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    # The shell forks a sleeper and waits: killing only the shell would leave the sleeper.
    script = f"sleep 5 & echo $! > {pid_file}; wait"

    async def main() -> None:
        async with context() as ctx:
            probe = build_probe(spec("command", command=["sh", "-c", script], timeout="200ms"), ctx)
            start = time.monotonic()
            sample = await take_sample(probe, time.monotonic, 0.0, asyncio.sleep)
            assert time.monotonic() - start < 1.0
            assert (sample.ok, sample.detail) == (False, "timeout after 0.2s")
            sleeper = int(pid_file.read_text())
            for _ in range(100):
                if not _alive(sleeper):
                    break
                await asyncio.sleep(0.01)
            assert not _alive(sleeper)

    asyncio.run(main())


def test_a_plain_sleep_times_out() -> None:
    async def main() -> None:
        async with context() as ctx:
            probe = build_probe(spec("command", command=["sleep", "5"], timeout="200ms"), ctx)
            sample = await take_sample(probe, time.monotonic, 0.0, asyncio.sleep)
            assert (sample.ok, sample.detail) == (False, "timeout after 0.2s")

    asyncio.run(main())


def _alive(pid: int) -> bool:
    # A killed child whose parent is gone may linger as a zombie until init reaps it.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z" and _exists(pid)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stopping_the_schedule_mid_command_kills_and_reaps_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = f"sleep 5 & echo $! > {pid_file}; wait"

    async def main() -> None:
        async with context() as ctx:
            probe = build_probe(spec("command", command=["sh", "-c", script], timeout="10s"), ctx)
            stop = asyncio.Event()
            samples: list[object] = []
            running = asyncio.create_task(
                run_schedule(
                    probe,
                    clock=time.monotonic,
                    origin_s=time.monotonic(),
                    until=stop,
                    on_sample=samples.append,
                )
            )
            for _ in range(200):
                if pid_file.exists() and pid_file.read_text().strip():
                    break
                await asyncio.sleep(0.01)
            start = time.monotonic()
            stop.set()
            await asyncio.wait_for(running, 2)
            assert time.monotonic() - start < 1.0
            assert samples == []
            sleeper = int(pid_file.read_text())
            for _ in range(100):
                if not _alive(sleeper):
                    break
                await asyncio.sleep(0.01)
            assert not _alive(sleeper)

    asyncio.run(main())


_GAMEDAY_TOKENS = {
    "GAMEDAY_GATEWAY_TOKEN": "canary-gateway-token",
    "GAMEDAY_MARKS_TOKEN": "canary-marks-token",
    "GAMEDAY_METRICS_TOKEN": "canary-metrics-token",
    "gameday_lower_token": "canary-lower",
}
# Healthy only when no gameday variable reached the command; it names any that did.
_NO_GAMEDAY = (
    "import os, sys\n"
    "seen = sorted(k for k in os.environ if k.upper().startswith('GAMEDAY_'))\n"
    "print(' '.join(seen), file=sys.stderr)\n"
    "sys.exit(1 if seen else int(os.environ.get('AWS_ACCESS_KEY_ID') != sys.argv[1]))\n"
)


@pytest.mark.parametrize("credentials", ["isolated", "runner"])
def test_gameday_tokens_never_reach_a_command_that_runs_as_the_runner(
    monkeypatch: pytest.MonkeyPatch, credentials: str
) -> None:
    # Issue 14: on aws (no isolated environment) and with `credentials: runner`, a command
    # probe inherited gameday's own tokens along with the runner's identity.
    for name, value in {**_GAMEDAY_TOKENS, "AWS_ACCESS_KEY_ID": "AKIARUNNER0000000001"}.items():
        monkeypatch.setenv(name, value)
    command = [sys.executable, "-c", _NO_GAMEDAY, "AKIARUNNER0000000001"]

    async def main() -> None:
        async with context() as ctx:  # environ=None: the aws environment
            probe = spec("command", command=command, credentials=credentials)
            observation = await build_probe(probe, ctx).sample()
            assert (observation.ok, observation.detail) == (True, "exit 0")

    asyncio.run(main())


def test_an_isolated_environment_never_carries_gameday_tokens_either() -> None:
    isolated = {"PATH": os.environ["PATH"], **_GAMEDAY_TOKENS, "AWS_ACCESS_KEY_ID": "testing"}
    command = [sys.executable, "-c", _NO_GAMEDAY, "testing"]

    async def main() -> None:
        async with context(environ=isolated) as ctx:
            observation = await build_probe(spec("command", command=command), ctx).sample()
            assert (observation.ok, observation.detail) == (True, "exit 0")

    asyncio.run(main())
