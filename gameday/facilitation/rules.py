"""The rules of a facilitated run, in one place: which options need ``--facilitate``, that it
needs a terminal, one scenario at a time, and what ``--hold`` needs (exit 2, before anything
starts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from gameday.errors import InvalidInputError
from gameday.facilitation.hold import hold_deadline
from gameday.facilitation.marks_api import check_loopback
from gameday.facilitation.session import FacilitationOptions, default_author
from gameday.faults.plan import Plan
from gameday.listen import parse_listen
from gameday.redact import remember_secret
from gameday.scenario.models import Environment


def facilitation_options(
    facilitate: bool,
    hold: bool,
    author: str | None,
    marks_listen: str,
    marks_token: str | None,
    *,
    terminal: tuple[TextIO, TextIO],
) -> FacilitationOptions | None:
    """The facilitation ``gameday run``'s options ask for, or None; InvalidInputError
    (exit 2) for options that need --facilitate without it, and for --facilitate without a
    terminal (``terminal``: the stdin keys are read from, the stderr the view is drawn on)."""
    if not facilitate:
        given = [name for name, on in (("--hold", hold), ("--as", author is not None)) if on]
        if given:
            raise InvalidInputError(
                f"{', '.join(given)}: for a facilitated run only", hint="add --facilitate"
            )
        return None
    stdin, stderr = terminal
    missing = [name for name, f in (("stdin", stdin), ("stderr", stderr)) if not f.isatty()]
    if missing:
        raise InvalidInputError(
            "--facilitate needs a terminal: it reads keys from stdin and draws the live view "
            f"on stderr, and {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
            "not a terminal here",
            hint="run it in a terminal (or tmux); for CI and schedules run without "
            "--facilitate (human_ttd/human_ttm are then left ungraded)",
        )
    host, port = parse_listen(marks_listen, "--marks-listen", "127.0.0.1:8765")
    check_loopback(host)
    remember_secret(marks_token)  # redacted from the result and logs wherever it appears
    return FacilitationOptions(
        author=(author or "").strip() or default_author(),
        hold=hold,
        marks_host=host,
        marks_port=port,
        marks_token=marks_token or None,
    )


def check_facilitation(plans: Sequence[Plan], options: FacilitationOptions) -> None:
    """A facilitated run is one scenario, with people at one terminal; ``--hold`` needs a
    gateway to hold faults on, and room under ``guardrails.max_duration`` (exit 2 before
    anything starts)."""
    if len(plans) != 1:
        names = ", ".join(p.loaded.scenario.metadata.name for p in plans)
        raise InvalidInputError(
            f"--facilitate runs one scenario at a time; {len(plans)} were given ({names})",
            hint="name one scenario file: gameday run scenarios/identity-loss.yaml --facilitate",
        )
    plan = plans[0]
    if options.hold and plan.environment is Environment.AWS:
        raise InvalidInputError(
            "--hold cannot hold faults on a real account: FIS actions run for the durations "
            "in their template",
            hint="run --hold on embedded or localstack, or drop --hold",
        )
    if options.hold:
        hold_deadline(plan.loaded.scenario, plan.rules)
