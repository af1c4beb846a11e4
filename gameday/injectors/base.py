"""The Injector protocol: applying a rule is a context manager, so undo cannot be skipped.

>>> with injector.inject(rule):
...     observe()      # the rule is removed here, after Ctrl-C or a failed probe too
>>> injector.finish()  # once, on every way out: nothing of this run is left in the backend
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from gameday.faults.rules import Rule


class Injector(Protocol):
    """Applies rules to one backend (the gateway, FIS) for one run.

    Both methods raise ``InjectorError`` when the backend's API fails for good (after its
    own bounded retries) and ``NotRemovedError`` when something of the run may still be in
    force; anything else is a bug.
    """

    def inject(self, rule: Rule) -> AbstractContextManager[None]:
        """Apply ``rule`` now and remove it when the context exits, however it exits."""
        ...

    def finish(self) -> None:
        """Called once after the drill, on every way out: take back whatever this run still
        holds in the backend (a removal that failed before, a running FIS experiment)."""
        ...
