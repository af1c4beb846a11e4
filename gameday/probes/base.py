"""What every probe shares: the ``Probe`` protocol, its ``Observation``, and the ``ProbeContext``.

A probe checks one thing once per call of ``sample()``; the scheduler in
``gameday.probes.schedule`` calls it at a fixed rate, enforces its timeout, retries it, and
turns each outcome into a ``gameday.grading.timeline.Sample``::

    probe = build_probe(spec, ctx)
    observation = await probe.sample()  # Observation(ok=True, latency_s=0.004, detail="200")
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import aiohttp
import boto3
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config

from gameday.errors import InvalidInputError

if TYPE_CHECKING:
    import boto3.session

Clock = Callable[[], float]
"""Monotonic seconds; ``time.monotonic`` in a run, a fake in tests where time is the subject."""


class ProbeError(InvalidInputError):
    """A probe that cannot be built as declared (exit 2): a missing '{app}', an unknown call."""


@dataclass(frozen=True, slots=True)
class Observation:
    """The outcome of one check: healthy or not, how long it took, and why, in a few words."""

    ok: bool
    latency_s: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often one sample tries before it is recorded as unhealthy (``attempts`` >= 1)."""

    attempts: int = 1
    backoff_s: float = 0.0


class Probe(Protocol):
    """A check sampled at a fixed rate for the whole drill.

    ``sample()`` checks once and returns an unhealthy ``Observation`` for every failure it
    expects (no answer, a wrong answer); anything it raises is a bug and stops the run. It
    need not enforce ``timeout_s`` or ``retries``: the scheduler does, by cancelling it, so it
    must clean up when cancelled (close what it opened, kill what it started).

    >>> observation = await probe.sample()
    >>> observation.ok, observation.latency_s
    """

    @property
    def name(self) -> str: ...

    @property
    def interval_s(self) -> float: ...

    @property
    def timeout_s(self) -> float: ...

    @property
    def retries(self) -> RetryPolicy: ...

    async def sample(self) -> Observation: ...


@dataclass(frozen=True, slots=True)
class ProbeContext:
    """What probes are built with: where the app and the AWS endpoint are, and shared resources.

    ``origin_s`` is the run start on ``clock``: probes that record times themselves (the data
    probe's markers, the alert sink's alerts) record ``clock() - origin_s``, the same offsets the
    scheduler gives samples. ``executor`` runs blocking calls (boto3, dnspython); None uses the
    loop's default executor. ``dns_server`` (host, port) is where CNAME lookups go; None uses the
    system's resolver configuration.
    """

    session: aiohttp.ClientSession
    run_id: str
    origin_s: float
    clock: Clock = time.monotonic
    app_url: str | None = None
    aws_endpoint_url: str | None = None
    region: str = "us-east-1"
    executor: Executor | None = None
    dns_server: tuple[str, int] | None = None
    credentials: tuple[str, str] | None = None
    """(access key id, secret): the probes' own dummy keys in embedded and localstack (not
    the app's, so the gateway counts their calls apart), so a probe never looks further;
    None in a real account (the SDK's own credential chain)."""
    environ: Mapping[str, str] | None = None
    """The isolated environment of an embedded or localstack drill (no runner credentials,
    the gateway, a proxy that refuses egress): what command probes run with and where
    aws probes read their SDK settings. None: the runner's own (a real account)."""

    def boto3_session(
        self, *, runner: bool = False, profile: str | None = None
    ) -> boto3.session.Session:
        """A boto3 session for one client (boto3's default session is not thread-safe):
        signed with ``credentials`` and blind to the runner's profile, config and
        credentials files; the runner's own chain when ``runner`` or on a real account.
        ``profile``: that profile's keys instead (of the drill's shared files when isolated:
        a setup user's long-term key, which the app may sign with too; else of the
        runner's own)."""
        if runner or self.credentials is None:
            return boto3.session.Session(profile_name=profile)
        # No environment variable names the profile, and instance variables outrank the
        # environment: the runner's AWS_PROFILE, AWS_CONFIG_FILE and
        # AWS_SHARED_CREDENTIALS_FILE are never read.
        core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        environ = self.environ or {}
        if environ.get("AWS_PROFILE"):
            core.set_config_variable("profile", environ["AWS_PROFILE"])
        core.set_config_variable("config_file", environ.get("AWS_CONFIG_FILE", os.devnull))
        core.set_config_variable(
            "credentials_file", environ.get("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        )
        if profile is not None:
            core.set_config_variable("profile", profile)
            return boto3.session.Session(botocore_session=core)
        key, secret = self.credentials
        return boto3.session.Session(
            aws_access_key_id=key, aws_secret_access_key=secret, botocore_session=core
        )

    def aws_client(
        self,
        service: str,
        *,
        region: str,
        config: Config | None = None,
        runner: bool = False,
        profile: str | None = None,
    ) -> BaseClient:
        """A client for a probe's AWS calls: the context's endpoint (the gateway), reached
        directly (it is loopback: no proxy of the runner's in between); with ``runner``, the
        runner's own credentials, endpoints and proxies, as outside gameday; with
        ``profile``, signed with that profile's keys (``boto3_session``)."""
        session = self.boto3_session(runner=runner, profile=profile)
        if not runner and self.credentials is not None:
            config = (config or Config()).merge(Config(proxies={}))
        # The stubs type `client` per literal service name; the service here is a scenario's.
        make_client: Callable[..., BaseClient] = session.client
        endpoint_url = None if runner else self.aws_endpoint_url
        return make_client(service, region_name=region, endpoint_url=endpoint_url, config=config)

    def offset(self) -> float:
        """Seconds since the run start on the run clock."""
        return self.clock() - self.origin_s


@asynccontextmanager
async def open_probe_context(
    *,
    run_id: str,
    origin_s: float,
    clock: Clock = time.monotonic,
    app_url: str | None = None,
    aws_endpoint_url: str | None = None,
    region: str = "us-east-1",
    dns_server: tuple[str, int] | None = None,
    credentials: tuple[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> AsyncIterator[ProbeContext]:
    """A ``ProbeContext`` with one HTTP session and one thread pool, both closed on exit.

    >>> async with open_probe_context(run_id="r1", origin_s=time.monotonic()) as ctx:
    ...     probes = [build_probe(spec, ctx) for spec in scenario.probes]
    """
    # No connection limit: each probe has at most one request in flight, so the number of
    # probes bounds it already, and a pool limit would add queueing time to measured latency.
    connector = aiohttp.TCPConnector(limit=0)
    # Blocking calls get their own pool: a hung boto3 call (a blackholed endpoint) then cannot
    # starve the loop's default executor, which aiohttp's resolver and getaddrinfo use.
    executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="gameday-probe")
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            yield ProbeContext(
                session=session,
                run_id=run_id,
                origin_s=origin_s,
                clock=clock,
                app_url=app_url,
                aws_endpoint_url=aws_endpoint_url,
                region=region,
                executor=executor,
                dns_server=dns_server,
                credentials=credentials,
                environ=environ,
            )
    finally:
        # A call still hanging past its probe's timeout ends by its own socket timeout; the
        # run does not wait for it.
        executor.shutdown(wait=False, cancel_futures=True)


def expand_url(template: str, ctx: ProbeContext, probe_name: str, field: str) -> str:
    """``template`` with '{app}' replaced by the app's base URL (no trailing slash).

    '{marker}' is left in place for the data probe to fill per write.
    """
    if "{app}" not in template:
        return template
    if ctx.app_url is None:
        raise ProbeError(
            f"probe {probe_name!r}: {field} {template!r} uses '{{app}}' but the target has no app",
            hint="give the scenario a target.app, or write the full URL",
        )
    return template.replace("{app}", ctx.app_url.rstrip("/"))


def short(text: str, limit: int = 200) -> str:
    """``text`` on one line, cut to ``limit`` characters, for a sample's detail."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
