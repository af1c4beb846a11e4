"""What every environment hands the drill once it is up: a ``Stage``, carrying its injector."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from gameday.environments.app import RunningApp
from gameday.faults.rules import Rule
from gameday.injectors.base import Injector
from gameday.result import CallAudit, DestructiveCall, EgressRecord, GatewayTally

if TYPE_CHECKING:
    from contextlib import ExitStack

    from gameday.environments.setup import ClientFactory
    from gameday.faults.plan import Plan

DUMMY_KEYS = ("testing", "testing")
"""(access key id, secret) of an isolated drill's app: what moto and LocalStack accept."""

PROBE_KEYS = ("gameday-probe", "testing")
"""(access key id, secret) gameday's own probes sign with in an isolated drill, so that the
gateway counts their calls apart from the app's (docs/audit.md). The same account as
``DUMMY_KEYS`` in both emulators: moto files every key it did not issue under its default
account, LocalStack every key that is neither 12 digits nor shaped like an AWS key. Not a
secret (no dummy key is): the app is never given it, and an app written to sign with it
would hide its calls on purpose, which the audit does not guard against."""

Note = Callable[[str, str], None]
"""(event kind, detail): how an environment reports progress while it comes up."""


@dataclass(frozen=True)
class Evidence:
    """What the injector's backend saw during the run, for the result."""

    gateway: GatewayTally = field(default_factory=GatewayTally)
    fis: dict[str, object] | None = None
    """The FIS experiment's record (ids, final state, reason) on a real account."""
    egress: tuple[EgressRecord, ...] = ()
    """Isolated drills: connections past loopback the egress guard refused."""
    matched_calls: Mapping[str, int] | None = None
    """How many calls each rule acted on while in force, by rule id; None when they were not
    counted, and ``matched_calls_unknown`` says why."""
    matched_calls_unknown: str = "this environment does not count them"
    calls: CallAudit = field(default_factory=CallAudit)
    """What the app called, by class, and its destructive calls (a gateway counts them);
    the probes' own calls apart."""


@dataclass(frozen=True)
class StageRequest:
    """What an environment is given to come up for one run."""

    plan: Plan
    run_id: str
    workdir: Path
    seed: int | None
    alert_url: str | None
    """The runner's alert sink, handed to the app (GAMEDAY_ALERT_URL)."""
    now: Callable[[], float]
    """The run clock."""
    note: Note
    fail: Callable[[str], None]
    """The tool failed under the drill (an injector's API): stop and roll back. Any thread."""


class Environment(Protocol):
    """Where faults land: brings itself up and hands the drill a running stage.

    >>> stage = await environment.bring_up(request, stack)   # stack tears every part down
    >>> with stage.injector.inject(stage.rules[0]): ...
    """

    async def bring_up(self, request: StageRequest, stack: ExitStack) -> Stage:
        """Start what the drill needs; ``stack`` stops every part of it, however it ends.
        GameDayError (EnvironmentFailure, or a refusal such as a missing approval) when it
        cannot come up; nothing is injected then."""
        ...


@dataclass(frozen=True)
class Stage:
    """A running environment: where the app is, where its AWS calls go, how to inject."""

    injector: Injector
    rules: tuple[Rule, ...]
    """The rules as this backend applies them (FIS: one per fault, with FIS's windows)."""
    evidence: Callable[[], Evidence]
    """Read once after the rollback (it may block on the backend's API)."""
    app: RunningApp | None
    aws_endpoint_url: str | None
    """The gateway: what the app and the probes call, so faults reach them; None on a real
    account (the SDK's own endpoints, or AWS_ENDPOINT_URL)."""
    emulator_url: str | None
    """The emulator itself: for setup and for reading data back after the drill."""
    clients: ClientFactory | None
    credentials: tuple[str, str] | None = PROBE_KEYS
    """What the runner's own AWS calls (probes) sign with: the probes' dummy keys, whose calls
    the gateway counts apart from the app's; or None on a real account (the SDK's credential
    chain)."""
    app_url: str | None = None
    """The app's base URL when gameday did not start the app (a real account)."""
    probe_env: Mapping[str, str] | None = None
    """The probes' isolated environment (embedded, localstack: ``isolation.py``); None: the
    runner's own (a real account)."""
    watch_calls: Callable[[], list[DestructiveCall]] | None = None
    """The app's destructive calls since the last ask, as they happen (it blocks on the
    backend's API); None where nobody sees the app's calls (a real account)."""

    stop_condition: Callable[[], str | None] | None = None
    """Why the drill must stop now (a stop-condition alarm in ALARM), or None; it blocks on
    the backend's API and paces itself. None where the backend watches them (FIS)."""

    @property
    def base_url(self) -> str | None:
        """What '{app}' means in probe URLs."""
        return self.app.url if self.app else self.app_url
