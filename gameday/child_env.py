"""What of the runner's environment a process that gameday starts (the app under test, a
command probe) may inherit: never gameday's own variables.

``GAMEDAY_*`` variables are gameday's settings and secrets (``GAMEDAY_GATEWAY_TOKEN``,
``GAMEDAY_MARKS_TOKEN``, ``GAMEDAY_METRICS_TOKEN``, the store, the gateway's URL): a token in
the environment of the system under test lets it clear the drill's faults or read its
results. This is the one rule for every environment: an isolated drill's allow-list
(``environments.isolation``) starts from it, and a probe that runs as the runner
(``credentials: runner``, or any probe on ``aws``) gets the runner's environment without them.
Gameday sets the few the app is meant to see (``GAMEDAY_ALERT_URL``, ``GAMEDAY_APP_PORT``)
itself, after this. The standard library only: every layer may use it.

>>> without_gameday_variables({"PATH": "/bin", "GAMEDAY_GATEWAY_TOKEN": "s3cr3t"})
{'PATH': '/bin'}
"""

from __future__ import annotations

from collections.abc import Mapping

_PREFIX = "GAMEDAY_"


def is_gameday_variable(name: str) -> bool:
    """Whether ``name`` is one of gameday's own variables (case aside, as some shells keep)."""
    return name.upper().startswith(_PREFIX)


def without_gameday_variables(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without gameday's own variables: what a child process may inherit."""
    return {name: value for name, value in environ.items() if not is_gameday_variable(name)}
