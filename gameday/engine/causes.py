"""Whose failure it was: the tool's (the emulator or upstream, the gateway), or the app's own
exit (DESIGN.md "One run": a drill must test the app, not the tool).

The rules, as docs/measurements.md states them:

- any call the gateway could not forward to its upstream (outcome ``upstream-error``) makes
  the run an ``error``: faults never produce that outcome (an injected error, reset or
  blackhole is answered by the gateway itself; a latency fault forwards after its delay, and
  an upstream that fails then fails on its own), so each one is the tool failing under the
  app. A gateway whose record cannot be read after the drill is an ``error`` too;
- an app that exits before any fault makes the run an ``error``; one that exits during a
  fault or after is a finding: the run is graded, and its reason says so.
"""

from __future__ import annotations

import signal

from gameday.result import AppExit, GatewayTally

_SEE_LOG = " (see app.log)"


def tool_failure(gateway: GatewayTally) -> str | None:
    """Why the tool failed under the drill, naming the cause and the count; None if it held."""
    if gateway.read_error is not None:
        return f"the gateway stopped answering: {gateway.read_error}"
    failed = gateway.upstream_errors
    if not failed:
        return None
    first = gateway.first_upstream_error_at
    when = f" (first at t={first:.1f} s)" if first is not None else ""
    return (
        f"the emulator stopped answering: {failed} call(s) through the gateway failed "
        f"upstream{when}"
    )


def _how(code: int) -> str:
    if code >= 0:
        return f"exited with code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return f"was killed by {name} (code {code})"


def describe_app_exit(app_exit: AppExit) -> str:
    """``the app exited with code 7 before any fault``, ``... at t=3.2 s during fault X``."""
    how = f"the app {_how(app_exit.code)}"
    if app_exit.before_faults:
        return f"{how} before any fault"
    when = f"during fault {app_exit.fault}" if app_exit.fault else "after the faults"
    return f"{how} at t={app_exit.at:.1f} s {when}"


def exit_before_faults(app_exit: AppExit | None, app_log: str | None) -> str | None:
    """The reason of a run whose app exited before any fault (an error), else None."""
    if app_exit is None or not app_exit.before_faults:
        return None
    return describe_app_exit(app_exit) + (_SEE_LOG if app_log else "")


def with_app_exit(reason: str | None, app_exit: AppExit | None, app_log: str | None) -> str | None:
    """``reason`` with the app's exit during or after the faults said, a finding."""
    if app_exit is None or app_exit.before_faults:
        return reason
    said = describe_app_exit(app_exit) + (_SEE_LOG if app_log else "")
    return f"{reason}; {said}" if reason else said
