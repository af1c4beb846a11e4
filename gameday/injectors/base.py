"""The Injector protocol: applying a rule is a context manager, so undo cannot be skipped.

>>> with injector.inject(rule):
...     observe()      # the rule is removed here, after Ctrl-C or a failed probe too
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from gameday.faults.rules import Rule


class Injector(Protocol):
    """Applies one rule for the life of a context; the rule also expires by its TTL."""

    def inject(self, rule: Rule) -> AbstractContextManager[None]:
        """Apply ``rule`` now and remove it when the context exits, however it exits."""
        ...

    def clear(self) -> int:
        """The kill switch: remove every fault this injector's backend holds."""
        ...
