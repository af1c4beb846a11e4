"""The demo service's configuration, read from the environment the drill engine sets.

>>> config = DemoConfig.from_env({"GAMEDAY_DEMO_REGIONS": "us-east-1,us-west-2",
...                                "GAMEDAY_DEMO_FAILOVER_REGION": "us-west-2"})
>>> config.home_region, config.failover_region
('us-east-1', 'us-west-2')
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from gameday.errors import InvalidInputError

DEFAULT_ROLE_ARN = "arn:aws:iam::123456789012:role/demo-app"

# A loose shape check only: botocore validates the region for real when a client is made, and
# this service must also run against emulators that know regions botocore does not.
_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+-\d+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")


_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class DemoConfigError(InvalidInputError):
    """An environment variable of the demo service has a value it cannot use."""


class SelfHeal(StrEnum):
    """What the demo's automation does when its DynamoDB calls keep failing."""

    OFF = "off"
    """Nothing: the orders path fails and its alert is all that happens."""
    NAIVE = "naive"
    """Deletes and recreates its table, as automation that "fixes" an outage by rebuilding."""
    RESILIENT = "resilient"
    """Checks the table with reads, backs off between checks, and pages a person."""


@dataclass(frozen=True)
class DemoConfig:
    """Everything the demo service reads from its environment; defaults match DESIGN.md."""

    regions: tuple[str, ...] = ("us-east-1",)
    cache_credentials: bool = True
    log_spool: bool = True
    image_cache: bool = True
    failover_region: str | None = None
    role_arn: str = DEFAULT_ROLE_ARN
    table: str = "orders"
    log_group: str = "/gameday/demo/audit"
    repository: str = "demo/app"
    image_tag: str = "v1"
    refresh_s: float = 2.0
    ship_s: float = 0.5
    sdk_timeout_s: float = 1.0
    alert_url: str | None = None
    self_heal: SelfHeal = SelfHeal.OFF
    alert_topic: str | None = None
    """An SNS topic in the home region: the primary alert path when set (the webhook at
    ``alert_url`` is subscribed to it, standing in for the paging service)."""
    alert_fallback: bool = True
    """With ``alert_topic``: post to ``alert_url`` directly when publishing fails."""

    @property
    def account(self) -> str:
        """The account of the role the service assumes, where its resources live."""
        return self.role_arn.split(":")[4]

    @property
    def alert_topic_arn(self) -> str | None:
        if self.alert_topic is None:
            return None
        return f"arn:aws:sns:{self.home_region}:{self.account}:{self.alert_topic}"

    @property
    def home_region(self) -> str:
        """The first region: where the service lives and writes unless it fails over."""
        return self.regions[0]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DemoConfig:
        """Read ``GAMEDAY_DEMO_*`` and ``GAMEDAY_ALERT_URL``; unset or empty means the default."""
        env = _Env(environ)
        regions = env.regions("GAMEDAY_DEMO_REGIONS", cls.regions)
        failover = env.text("GAMEDAY_DEMO_FAILOVER_REGION", "") or None
        if failover is not None:
            _check_region("GAMEDAY_DEMO_FAILOVER_REGION", failover)
            if failover == regions[0]:
                raise DemoConfigError(
                    f"GAMEDAY_DEMO_FAILOVER_REGION={failover!r} is the home region",
                    hint="the failover region must differ from the first of GAMEDAY_DEMO_REGIONS",
                )
        role_arn = env.text("GAMEDAY_DEMO_ROLE_ARN", cls.role_arn)
        if not _ROLE_ARN.match(role_arn):
            raise DemoConfigError(
                f"GAMEDAY_DEMO_ROLE_ARN={role_arn!r} is not an IAM role ARN",
                hint="e.g. arn:aws:iam::123456789012:role/demo-app",
            )
        alert_topic = env.text("GAMEDAY_DEMO_ALERT_TOPIC", "") or None
        if alert_topic is not None and not _TOPIC_NAME.match(alert_topic):
            raise DemoConfigError(
                f"GAMEDAY_DEMO_ALERT_TOPIC={alert_topic!r} is not an SNS topic name",
                hint="1-256 letters, digits, '-' or '_', e.g. demo-pager",
            )
        return cls(
            regions=regions,
            cache_credentials=env.flag("GAMEDAY_DEMO_CACHE_CREDENTIALS", cls.cache_credentials),
            log_spool=env.flag("GAMEDAY_DEMO_LOG_SPOOL", cls.log_spool),
            image_cache=env.flag("GAMEDAY_DEMO_IMAGE_CACHE", cls.image_cache),
            failover_region=failover,
            role_arn=role_arn,
            table=env.text("GAMEDAY_DEMO_TABLE", cls.table),
            log_group=env.text("GAMEDAY_DEMO_LOG_GROUP", cls.log_group),
            repository=env.text("GAMEDAY_DEMO_REPOSITORY", cls.repository),
            image_tag=env.text("GAMEDAY_DEMO_IMAGE_TAG", cls.image_tag),
            refresh_s=env.seconds("GAMEDAY_DEMO_REFRESH_S", cls.refresh_s),
            ship_s=env.seconds("GAMEDAY_DEMO_SHIP_S", cls.ship_s),
            sdk_timeout_s=env.seconds("GAMEDAY_DEMO_SDK_TIMEOUT_S", cls.sdk_timeout_s),
            alert_url=env.text("GAMEDAY_ALERT_URL", "") or None,
            self_heal=env.choice("GAMEDAY_DEMO_SELF_HEAL", SelfHeal, cls.self_heal),
            alert_topic=alert_topic,
            alert_fallback=env.flag("GAMEDAY_DEMO_ALERT_FALLBACK", cls.alert_fallback),
        )


def _check_region(name: str, region: str) -> None:
    if not _REGION.match(region):
        raise DemoConfigError(
            f"{name}: {region!r} is not a region name", hint="e.g. us-east-1 or eu-west-2"
        )


class _Env:
    """Typed reads of environment variables, each error naming the variable and its value."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, default: str) -> str:
        return self._environ.get(name, "").strip() or default

    def flag(self, name: str, default: bool) -> bool:
        value = self._environ.get(name, "").strip()
        if not value:
            return default
        if value in ("1", "0"):
            return value == "1"
        raise DemoConfigError(f"{name}={value!r} is not a switch", hint="use 1 (on) or 0 (off)")

    def choice(self, name: str, kind: type[SelfHeal], default: SelfHeal) -> SelfHeal:
        value = self._environ.get(name, "").strip()
        if not value:
            return default
        try:
            return kind(value)
        except ValueError:
            choices = ", ".join(member.value for member in kind)
            raise DemoConfigError(f"{name}={value!r} is not one of {choices}") from None

    def seconds(self, name: str, default: float) -> float:
        value = self._environ.get(name, "").strip()
        if not value:
            return default
        try:
            seconds = float(value)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds <= 0:
            raise DemoConfigError(
                f"{name}={value!r} is not a positive number of seconds", hint="e.g. 0.5"
            )
        return seconds

    def regions(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._environ.get(name, "").strip()
        if not value:
            return default
        regions = tuple(part.strip() for part in value.split(","))
        for region in regions:
            _check_region(name, region)
        if len(set(regions)) != len(regions):
            raise DemoConfigError(f"{name}={value!r} lists a region twice")
        return regions
