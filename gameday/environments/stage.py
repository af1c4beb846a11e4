"""What every environment hands the drill once it is up: a ``Stage``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gameday.environments.app import RunningApp
from gameday.environments.setup import ClientFactory
from gameday.gateway.client import GatewayClient

DUMMY_KEYS = ("testing", "testing")
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

Note = Callable[[str, str], None]
"""(event kind, detail): how an environment reports progress while it comes up."""


@dataclass(frozen=True)
class Stage:
    """A running environment: where the app is, where its AWS calls go, how to inject."""

    app: RunningApp | None
    gateway: GatewayClient | None
    """None on a real account, where faults go through FIS."""
    aws_endpoint_url: str | None
    """The gateway: what the app and the probes call, so faults reach them; None on a real
    account (the SDK's own endpoints, or AWS_ENDPOINT_URL)."""
    emulator_url: str | None
    """The emulator itself: for setup and for reading data back after the drill."""
    clients: ClientFactory | None
    credentials: tuple[str, str] | None = DUMMY_KEYS
    """What the runner's own AWS calls (probes) sign with: the emulator's dummy keys, or None
    on a real account (the SDK's credential chain)."""
    app_url: str | None = None
    """The app's base URL when gameday did not start the app (a real account)."""

    @property
    def base_url(self) -> str | None:
        """What '{app}' means in probe URLs."""
        return self.app.url if self.app else self.app_url
