"""The localstack environment: the gateway in front of an already running LocalStack, the
scenario's setup resources, and the app under test (DESIGN.md "Environments").

LocalStack is found by the localstack-client conventions: ``LOCALSTACK_HOST`` (default
``localhost:4566``) and ``USE_SSL``. Its state is never reset: setup tolerates what already
exists, so one LocalStack serves run after run.

>>> url = localstack_url()                      # http://localhost:4566
>>> served_services(url)["dynamodb"]            # 'available'
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from contextlib import ExitStack

from localstack_client.config import DEFAULT_EDGE_PORT, parse_localstack_host
from pydantic import BaseModel, ConfigDict, ValidationError

from gameday.demo.config import DEFAULT_ROLE_ARN
from gameday.environments.embedded import (
    PROBE_KEY_IDS,
    deny_destructive,
    gateway_stage,
    isolated,
    start_app,
)
from gameday.environments.localstack_coverage import (
    REFUSAL_HINT,
    ServedServices,
    check_coverage,
    known_free_edition,
    refusal_message,
)
from gameday.environments.setup import ClientFactory, boto3_clients, create_setup
from gameday.environments.stage import Stage, StageRequest
from gameday.errors import EnvironmentFailure
from gameday.gateway.client import GatewayClient
from gameday.scenario.target import DemoAppRef

READY_TIMEOUT_S = 30.0
"""How long a run waits for LocalStack's health: enough for a container just started by
``docker compose up -d``, short enough that a LocalStack that is not there fails fast."""

PLAN_TIMEOUT_S = 1.0
"""``plan`` asks once, briefly, and otherwise judges by the free edition's known services."""

HEALTH_PATH = "/_localstack/health"
_START_HINT = (
    "start LocalStack (`LOCALSTACK_AUTH_TOKEN=... docker compose up -d localstack`, or "
    "`scripts/localstack.sh start` without Docker) or point LOCALSTACK_HOST at it, "
    "e.g. LOCALSTACK_HOST=localhost:4566"
)


class _Health(BaseModel):
    """What /_localstack/health answers; other fields vary by version and are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    services: dict[str, str]
    edition: str | None = None
    version: str | None = None


def localstack_url(environ: Mapping[str, str] | None = None) -> str:
    """LocalStack's URL by the localstack-client conventions: ``LOCALSTACK_HOST`` (host, or
    host:port; default localhost:4566) and ``USE_SSL`` for https.

    ``AWS_ENDPOINT_URL``, which localstack-client's ``get_service_endpoints`` prefers, is
    deliberately not read: it says where the *app* sends its calls (the gateway, in
    compose.yaml), and following it would put the gateway in front of itself.
    """
    env = os.environ if environ is None else environ
    given = env.get("LOCALSTACK_HOST", "").strip() or f"localhost:{DEFAULT_EDGE_PORT}"
    try:
        host, port = parse_localstack_host(given)
    except RuntimeError:
        raise EnvironmentFailure(
            f"LOCALSTACK_HOST={given!r} is not HOST or HOST:PORT", hint="e.g. localhost:4566"
        ) from None
    scheme = "https" if env.get("USE_SSL", "").strip().lower() in ("1", "true") else "http"
    return f"{scheme}://{host}:{port}"


def _read_health(url: str, timeout_s: float) -> _Health:
    target = url.rstrip("/") + HEALTH_PATH
    try:
        with urllib.request.urlopen(target, timeout=timeout_s) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        raise EnvironmentFailure(
            f"LocalStack at {url} answered {target} with HTTP {error.code}", hint=_START_HINT
        ) from None
    except (OSError, urllib.error.URLError) as error:
        reason = getattr(error, "reason", error)
        raise EnvironmentFailure(
            f"LocalStack at {url} is not reachable: {reason}", hint=_START_HINT
        ) from None
    try:
        return _Health.model_validate(json.loads(body))
    except (ValueError, ValidationError):
        raise EnvironmentFailure(
            f"{target} did not answer like LocalStack (no 'services' map)",
            hint="is LOCALSTACK_HOST pointing at LocalStack's edge port (4566)?",
        ) from None


def served_services(url: str, timeout_s: float = 5.0) -> dict[str, str]:
    """Each service LocalStack at ``url`` knows, with its state (``available``, ``running``,
    ``disabled``...) from /_localstack/health; EnvironmentFailure naming the URL otherwise."""
    return dict(_read_health(url, timeout_s).services)


def wait_for_localstack(
    url: str,
    timeout_s: float = READY_TIMEOUT_S,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ServedServices:
    """Poll /_localstack/health until it answers; EnvironmentFailure after ``timeout_s``."""
    deadline = clock() + timeout_s
    while True:
        try:
            # Each ask gets at least a second: a busy machine answers health slowly.
            health = _read_health(url, timeout_s=min(2.0, max(timeout_s, 1.0)))
        except EnvironmentFailure as error:
            if clock() >= deadline:
                raise EnvironmentFailure(
                    f"LocalStack at {url} was not ready within {timeout_s:g} s: {error.message}",
                    hint=error.hint,
                ) from None
            sleep(0.5)
            continue
        return ServedServices(url=url, services=health.services, live=True, version=health.version)


def served_or_known(url: str | None = None, timeout_s: float = PLAN_TIMEOUT_S) -> ServedServices:
    """What LocalStack serves, asked once; the free edition's known services when no LocalStack
    answers (so that ``plan`` works before LocalStack is started)."""
    target = url or localstack_url()
    try:
        health = _read_health(target, timeout_s)
    except EnvironmentFailure:
        return known_free_edition(target)
    return ServedServices(url=target, services=health.services, live=True, version=health.version)


def _demo_role_arn(clients: ClientFactory, region: str) -> str:
    """The demo's role, in the account LocalStack gives the dummy keys.

    LocalStack files the credentials STS issues under the account of the role assumed, and
    keeps resources per account: the demo's default role (account 123456789012, moto's
    default) would write its orders and audit lines where setup and the probes (account
    000000000000, LocalStack's default) never look.
    """
    account = clients("sts", region).get_caller_identity()["Account"]
    role = DEFAULT_ROLE_ARN.rsplit(":role/", 1)[1]
    return f"arn:aws:iam::{account}:role/{role}"


class LocalStackEnvironment:
    """The gateway in front of a LocalStack this run did not start."""

    async def bring_up(self, request: StageRequest, stack: ExitStack) -> Stage:
        """Check LocalStack serves what the drill needs, then start the gateway in front of
        it, create the setup resources and start the app; ``stack`` stops what was started
        (never LocalStack itself, which this run did not start). EnvironmentFailure, before
        anything is started, when LocalStack is not there or lacks a service it needs."""
        # Lazy: the gateway server (aiohttp) takes ~170 ms to import; `gameday plan --env
        # localstack` imports this module (for localstack_url) and starts no gateway.
        from gameday.gateway.thread import Gateway  # noqa: PLC0415

        scenario, note, workdir = request.plan.loaded.scenario, request.note, request.workdir
        alert_url, seed = request.alert_url, request.seed
        url = localstack_url()
        served = await asyncio.to_thread(wait_for_localstack, url)
        note("environment", f"{served.describe()}: {len(served.services)} services")
        coverage = check_coverage(scenario, served)
        if not coverage.ok:
            raise EnvironmentFailure(refusal_message(scenario, coverage, served), hint=REFUSAL_HINT)
        home = scenario.target.home_region
        gateway = await asyncio.to_thread(
            stack.enter_context,
            Gateway(url, seed=seed, probe_keys=PROBE_KEY_IDS, default_region=home),
        )
        client = GatewayClient(gateway.url)
        await asyncio.to_thread(client.wait_ready, 5.0)
        await deny_destructive(request, client, stack)
        note("environment", f"gateway at {gateway.url}")
        clients = boto3_clients(url)
        setup = await asyncio.to_thread(create_setup, scenario, clients)
        note("environment", f"{setup.count} setup resource(s) created or already there")
        extra: dict[str, str] = {}
        if scenario.target.app == "demo" or isinstance(scenario.target.app, DemoAppRef):
            extra["GAMEDAY_DEMO_ROLE_ARN"] = await asyncio.to_thread(_demo_role_arn, clients, home)
        isolation = await isolated(request, stack, gateway.url, setup.keys)
        app = await start_app(
            scenario,
            stack,
            workdir=workdir,
            isolation=isolation,
            alert_url=alert_url,
            note=note,
            extra_env=extra,
        )
        return gateway_stage(
            request, client, app=app, emulator_url=url, clients=clients, isolation=isolation
        )
