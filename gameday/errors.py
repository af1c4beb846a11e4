"""The error family the CLI catches, and the exit codes of DESIGN.md.

Expected failures raise a ``GameDayError`` subclass; the CLI prints ``error: MESSAGE`` and
``hint: HINT`` and exits with the subclass's code. Anything else is a bug and shows as one.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes of DESIGN.md "CLI": other tools rely on them."""

    OK = 0
    OBJECTIVE_MISSED = 1
    INVALID_INPUT = 2
    COULD_NOT_RUN = 3
    ABORTED = 4
    ROLLBACK_FAILED = 5


class GameDayError(Exception):
    """An expected failure a person can act on."""

    exit_code: ExitCode = ExitCode.INVALID_INPUT

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InvalidInputError(GameDayError):
    """Bad input or usage: a scenario, an argument, a file (exit 2)."""

    exit_code = ExitCode.INVALID_INPUT


class ScenarioError(InvalidInputError):
    """One or more problems in a scenario file, each located at file:line:col."""

    def __init__(self, problems: list[str], hint: str | None = None) -> None:
        super().__init__("\n".join(problems), hint)
        self.problems = problems


class EnvironmentFailure(GameDayError):
    """The drill could not run: the environment did not come up, or was refused (exit 3)."""

    exit_code = ExitCode.COULD_NOT_RUN


class InjectorError(EnvironmentFailure):
    """An injector's own API failed for good (after its retries): FIS, the gateway admin API
    (exit 3 when every fault was still removed; the rollback's own failures make it 5)."""


class NotRemovedError(InjectorError):
    """Something a run injected may still be in force: its removal failed for good.

    ``rule_ids`` names the rules concerned; the message says how the fault ends anyway (its
    TTL) and how to remove it now. Makes ``rollback.complete`` false and the exit code 5.
    """

    exit_code = ExitCode.ROLLBACK_FAILED

    def __init__(self, message: str, rule_ids: tuple[str, ...] = (), hint: str | None = None):
        super().__init__(message, hint)
        self.rule_ids = rule_ids


class AbortedError(GameDayError):
    """The drill was aborted by a guardrail or a signal (exit 4)."""

    exit_code = ExitCode.ABORTED
