"""The ``command`` probe: run a program; healthy when it exits with ``expect.exit_code``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

from gameday.child_env import without_gameday_variables
from gameday.probes.base import Observation, ProbeContext, RetryPolicy, short
from gameday.scenario.probe_models import CommandProbe as CommandProbeSpec
from gameday.scenario.probe_models import ProbeCredentials

# Keep only the end of stderr for the detail: a chatty command must not grow memory.
_STDERR_TAIL_BYTES = 1024


class CommandProbe:
    """Runs ``command`` (no shell) in its own process group, stdout discarded, in the drill's
    isolated environment (``ctx.environ``) unless the spec says ``credentials: runner`` or
    there is none (``aws``): then in the runner's, without gameday's own variables (its tokens).

    On timeout or cancellation the whole process group is killed and reaped, so a command
    that forks (a shell script, ``curl`` under ``timeout``) leaves nothing behind.

    >>> await CommandProbe(spec, ctx).sample()  # Observation(ok=False, ..., detail="exit 1, ...")
    """

    def __init__(self, spec: CommandProbeSpec, ctx: ProbeContext) -> None:
        # The isolated environment (no runner credentials, the gateway, egress refused),
        # unless the scenario says this probe runs as the runner; gameday's tokens never.
        runner = spec.credentials is ProbeCredentials.RUNNER
        inherited = os.environ if runner or ctx.environ is None else ctx.environ
        self._env = without_gameday_variables(inherited)
        self.name = spec.name
        self.interval_s = spec.interval
        self.timeout_s = spec.timeout
        self.retries = RetryPolicy(spec.retries.attempts, spec.retries.backoff)
        self.command = spec.command
        self._expected = spec.expect.exit_code

    async def sample(self) -> Observation:
        start = time.perf_counter()
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                env=self._env,
            )
        except OSError as error:
            latency_s = time.perf_counter() - start
            return Observation(False, latency_s, short(f"cannot run {self.command[0]}: {error}"))
        try:
            tail = await _stderr_tail(process)
            code = await process.wait()
        except BaseException:
            # Timeout and stop both arrive as cancellation: end the group, reap it, go on.
            _kill_group(process)
            await asyncio.shield(process.wait())
            raise
        latency_s = time.perf_counter() - start
        if code == self._expected:
            return Observation(True, latency_s, f"exit {code}")
        detail = f"exit {code}, expected {self._expected}"
        stderr = tail.decode("utf-8", errors="replace").strip()
        return Observation(False, latency_s, short(f"{detail}: {stderr}" if stderr else detail))


async def _stderr_tail(process: asyncio.subprocess.Process) -> bytes:
    assert process.stderr is not None  # stderr=PIPE above
    tail = b""
    while chunk := await process.stderr.read(4096):
        tail = (tail + chunk)[-_STDERR_TAIL_BYTES:]
    return tail


def _kill_group(process: asyncio.subprocess.Process) -> None:
    # start_new_session made the child a group leader: its pid is the group id.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
