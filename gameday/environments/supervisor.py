"""The app's supervisor: the app's whole process tree dies with the runner, however it ends.

The runner starts it in place of the app (``command_line``), as a script run with ``-I -S``:
it imports the standard library only, so it adds tens of milliseconds, not the runner's
start-up. Then it

1. makes itself a child subreaper, so every orphaned descendant (the app's children after a
   shell exits, a daemon that double-forked into its own session) is reparented to it rather
   than to PID 1, and can still be found and stopped;
2. starts the app in a new session (a Ctrl-C on the runner's terminal does not reach it) and
   writes ``pid N``, or ``error MESSAGE`` if it could not, to STATUS_FD;
3. waits. When CONTROL_FD reaches end of file (the runner closed its end to stop the app, or
   the runner died: the kernel closes it however the runner ends, SIGKILL included) or on
   SIGTERM, SIGINT or SIGHUP (PR_SET_PDEATHSIG sends SIGTERM when the runner's thread that
   started it ends: a second trigger, should a forked copy of the runner hold the pipe), it sends
   every descendant SIGTERM, waits up to GRACE_S seconds, then SIGKILLs and reaps until no
   child is left;
4. exits when its last descendant is gone, as the app's own process did: with its exit code,
   or killed by the same signal. A launcher that exits while its daemon serves is not the end
   of the app; the daemon's end is.

Linux only for the subreaper and /proc; elsewhere it stops the app's process group.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

GRACE_S = 3.0
"""How long descendants have between SIGTERM and SIGKILL."""
KILL_S = 3.0
"""How long SIGKILL is repeated before the supervisor gives up on a process (one stuck in the
kernel, state D, cannot die until its system call returns)."""
USAGE = "usage: supervisor.py CONTROL_FD STATUS_FD GRACE_S -- COMMAND [ARG...]"

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# Python ignores these at start-up; the app must get them with their default action, as
# subprocess.Popen(restore_signals=True) would give it.
_RESTORED_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
_TICK_S = 0.05


def command_line(
    command: list[str], *, control_fd: int, status_fd: int, grace_s: float = GRACE_S
) -> list[str]:
    """The argv that runs the supervisor over ``command`` with the current interpreter.

    ``-I`` keeps the app's PYTHONPATH and working directory out of the supervisor's imports;
    ``-S`` skips site-packages, which it does not need, and their start-up cost."""
    script = os.path.realpath(__file__)
    fds = [str(control_fd), str(status_fd)]
    return [sys.executable, "-I", "-S", script, *fds, repr(float(grace_s)), "--", *command]


def descendants(root: int) -> list[int]:
    """Every process below ``root``, by following the parent ids in /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read()
        except OSError:
            continue  # it exited between the listing and the read
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after
        # the last ")" (proc(5)).
        ppid = int(fields.rpartition(b")")[2].split()[1])
        children.setdefault(ppid, []).append(int(name))
    found: list[int] = []
    pending = [root]
    while pending:
        below = children.get(pending.pop(), [])
        found.extend(below)
        pending.extend(below)
    return found


class _Tree:
    """The supervised processes: reaps them and remembers how the app's own process ended."""

    def __init__(self, app_pid: int, wakeup_fd: int) -> None:
        self.app_pid = app_pid
        self.app_status: int | None = None
        self._wakeup_fd = wakeup_fd

    def reap(self) -> bool:
        """Reap every child that has exited; True once no child is left."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return True
            if pid == 0:
                return False
            if pid == self.app_pid:
                self.app_status = status

    def signals(self, timeout_s: float | None) -> bytes:
        """The signals received (SIGCHLD among them) within ``timeout_s``, or none."""
        readable, _, _ = select.select([self._wakeup_fd], [], [], timeout_s)
        try:
            return os.read(self._wakeup_fd, 512) if readable else b""
        except BlockingIOError:
            return b""

    def send(self, signum: int, skip: set[int]) -> set[int]:
        """Send ``signum`` to every descendant not in ``skip``; returns those it reached."""
        if not os.path.isdir("/proc/self"):
            _kill(-self.app_pid, signum)  # no /proc: the app's process group, as before
            return set()
        return {p for p in descendants(os.getpid()) if p not in skip and _kill(p, signum)}

    def stop(self, grace_s: float) -> None:
        """SIGTERM every descendant (again for any that appears), then SIGKILL after
        ``grace_s``, until none is left or KILL_S more seconds have passed."""
        termed: set[int] = set()
        deadline = time.monotonic() + grace_s
        while not self.reap() and time.monotonic() < deadline:
            for pid in self.send(signal.SIGTERM, termed):
                # A stopped process keeps SIGTERM pending until it runs again; systemd sends
                # SIGCONT right after SIGTERM for the same reason (systemd.kill(5)).
                _kill(pid, signal.SIGCONT)
                termed.add(pid)
            self.signals(min(_TICK_S, max(0.0, deadline - time.monotonic())))
        deadline = time.monotonic() + KILL_S
        while not self.reap():
            if time.monotonic() >= deadline:
                left = " ".join(map(str, descendants(os.getpid())))
                _say(f"processes still alive after SIGKILL, left behind: {left}")
                return
            self.send(signal.SIGKILL, set())
            self.signals(_TICK_S)


def _kill(pid: int, signum: int) -> bool:
    """``os.kill``; False when the process is already gone (a negative pid is a group)."""
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _write(fd: int, message: str) -> bool:
    """Whether ``message`` was written. The reader may be gone (the runner died, or gave up
    waiting): the supervisor must go on to stop the app then, not die of a BrokenPipeError."""
    try:
        os.write(fd, message.encode())
    except OSError:
        return False
    return True


def _say(message: str) -> None:
    # Into the app's log, which is the supervisor's standard error too.
    _write(2, f"gameday supervisor: {message}\n")


def _prctl(option: int, value: int) -> None:
    if sys.platform != "linux":
        return
    # Lazy: runs as `python -I -S`, where start-up counts; ctypes is for Linux's prctl only.
    import ctypes  # noqa: PLC0415

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        _say(f"prctl({option}, {value}) failed: {os.strerror(ctypes.get_errno())}")


def _parse(args: list[str]) -> tuple[int, int, float, list[str]]:
    if len(args) < 5 or args[3] != "--":
        raise SystemExit(USAGE)
    try:
        return int(args[0]), int(args[1]), float(args[2]), args[4:]
    except ValueError:
        raise SystemExit(USAGE) from None


def _exit_as(status: int | None) -> int:
    """The supervisor's exit code for the app's wait status; a signal is re-raised on itself,
    so the runner sees the same negative return code it would have seen from the app."""
    if status is None:
        return 1
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        return code
    # Lazy: only when the app died of a signal; the supervisor keeps its start-up minimal.
    import resource  # noqa: PLC0415

    # A SIGSEGV or SIGABRT re-raised here must not leave a core of the supervisor.
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    if -code not in (signal.SIGKILL, signal.SIGSTOP):  # their action cannot be changed
        signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
    return 128 - code  # only if the signal did not end the process, as a shell reports it


def supervise(control_fd: int, status_fd: int, grace_s: float, command: list[str]) -> int:
    """Start ``command``, report its pid on ``status_fd``, and stop its whole tree when
    ``control_fd`` reaches end of file or a stop signal comes; the exit code to exit with."""
    # The app must hold neither end of the runner's pipes: were it to inherit the status
    # pipe, say, the runner could wait on it forever.
    for fd in (control_fd, status_fd):
        os.set_inheritable(fd, False)
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    wakeup_r, wakeup_w = os.pipe()
    os.set_blocking(wakeup_r, False)
    os.set_blocking(wakeup_w, False)
    signal.set_wakeup_fd(wakeup_w)
    for signum in (signal.SIGCHLD, *_STOP_SIGNALS):
        # A Python-level handler only so the signal is written to the wakeup pipe; exec
        # resets it to the default action in the app.
        signal.signal(signum, lambda signum, frame: None)
    try:
        app_pid = os.posix_spawnp(
            command[0], command, os.environ, setsid=True, setsigdef=_RESTORED_SIGNALS
        )
    except OSError as error:
        _write(status_fd, f"error {error}\n")
        return 127
    _write(status_fd, f"pid {app_pid}\n")
    os.close(status_fd)
    tree = _Tree(app_pid, wakeup_r)
    while not tree.reap():
        readable, _, _ = select.select([control_fd, wakeup_r], [], [])
        if wakeup_r in readable and any(s in _STOP_SIGNALS for s in tree.signals(0)):
            break
        if control_fd in readable and not os.read(control_fd, 512):
            break
    tree.stop(grace_s)
    return _exit_as(tree.app_status)


def main() -> None:
    """``python -I -S supervisor.py CONTROL_FD STATUS_FD GRACE_S -- COMMAND...``"""
    sys.exit(supervise(*_parse(sys.argv[1:])))


if __name__ == "__main__":
    main()
