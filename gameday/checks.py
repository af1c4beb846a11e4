"""One safety check and its outcome: what `gameday plan` shows before anything is done
(DESIGN.md "Safety"), for every environment (the real-account checks of ``gameday.fis``
included)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CheckOutcome(StrEnum):
    """A check passes, fails, applies only at run time, or does not apply here."""

    PASS = "pass"
    FAIL = "fail"
    AT_RUN = "at-run"
    NOT_APPLICABLE = "n/a"


@dataclass(frozen=True, slots=True)
class Check:
    """One safety check and its outcome, with the detail a reviewer needs."""

    name: str
    outcome: CheckOutcome
    detail: str
