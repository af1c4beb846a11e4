"""The embedded environment (the default): moto's server in this process, the gateway in
front of it, the scenario's setup resources, and the app under test, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path

from gameday.environments.app import AppProcess, RunningApp
from gameday.environments.call_audit import CallWatch, read_call_audit
from gameday.environments.emulator import running_emulator
from gameday.environments.isolation import Isolation, isolate
from gameday.environments.setup import AccessKey, ClientFactory, boto3_clients, create_setup
from gameday.environments.stage import PROBE_KEYS, Evidence, Note, Stage, StageRequest
from gameday.environments.workdir import GATEWAY_URL_FILE
from gameday.errors import GameDayError
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import Outcome
from gameday.injectors.gateway import GatewayInjector, hold_watch, watch_ttl_s
from gameday.result import GatewayTally
from gameday.scenario.models import Scenario

PROBE_KEY_IDS = frozenset({PROBE_KEYS[0]})
"""What the gateway of an isolated drill is told are the probes' access key ids: their calls
are counted apart from the app's (docs/audit.md), and never as a fault's matched calls.

The gateway is also told the target's home region, which the isolated app's SDK is
configured with (``isolation.py``): its unsigned calls name no region, and are taken to be
in that one (docs/gateway.md "Requests that name no region")."""


def reset_emulator(url: str) -> None:
    """Drop every resource moto holds (its documented reset endpoint)."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


class EmbeddedEnvironment:
    """moto's server in this process, the gateway in front of it, the app; all on loopback."""

    async def bring_up(self, request: StageRequest, stack: ExitStack) -> Stage:
        """Start everything; every part is registered on ``stack``, which tears it down."""
        # Lazy: the gateway server (aiohttp) takes ~170 ms to import; `gameday plan --env
        # localstack` imports this module (through environments.localstack), starts no gateway.
        from gameday.gateway.thread import Gateway  # noqa: PLC0415

        scenario, note = request.plan.loaded.scenario, request.note
        emulator = await asyncio.to_thread(stack.enter_context, running_emulator())
        # moto keeps its state per process: each run starts from an empty account.
        await asyncio.to_thread(reset_emulator, emulator.url)
        note("environment", f"emulator at {emulator.url}")
        gateway = await asyncio.to_thread(
            stack.enter_context,
            Gateway(
                emulator.url,
                seed=request.seed,
                probe_keys=PROBE_KEY_IDS,
                default_region=scenario.target.home_region,
            ),
        )
        client = GatewayClient(gateway.url)
        await asyncio.to_thread(client.wait_ready, 5.0)
        await deny_destructive(request, client, stack)
        # `gameday abort` in another terminal finds this run's gateway here.
        (request.workdir / GATEWAY_URL_FILE).write_text(gateway.url)
        note("environment", f"gateway at {gateway.url}")
        clients = boto3_clients(emulator.url)
        setup = await asyncio.to_thread(create_setup, scenario, clients)
        note("environment", f"{setup.count} setup resource(s) created")
        isolation = await isolated(request, stack, gateway.url, setup.keys)
        app = await start_app(
            scenario,
            stack,
            workdir=request.workdir,
            isolation=isolation,
            alert_url=request.alert_url,
            note=note,
        )
        return gateway_stage(
            request,
            client,
            app=app,
            emulator_url=emulator.url,
            clients=clients,
            isolation=isolation,
        )


async def deny_destructive(request: StageRequest, client: GatewayClient, stack: ExitStack) -> None:
    """``target.deny_destructive``: the run's watch on the gateway, refusing destructive
    calls, before the app starts; ``stack`` ends it. (The gateway sees every call anyway.)"""
    scenario = request.plan.loaded.scenario
    if not scenario.target.deny_destructive:
        return
    await asyncio.to_thread(
        hold_watch,
        client,
        request.run_id,
        stack,
        ttl_s=watch_ttl_s(scenario),
        deny=True,
        why="target.deny_destructive",
        note=request.note,
    )


async def isolated(
    request: StageRequest,
    stack: ExitStack,
    endpoint_url: str,
    keys: Mapping[str, AccessKey] | None = None,
) -> Isolation:
    """The run's isolation (DESIGN.md "Isolation"): the egress guard (``stack`` stops it) and
    the SDKs' shared files in the scratch folder, for the app and every probe, with the
    setup users' access keys (``keys``) under their profiles."""
    isolation = await asyncio.to_thread(
        isolate,
        request.plan.loaded.scenario,
        request.workdir,
        endpoint_url=endpoint_url,
        stack=stack,
        now=request.now,
        keys=keys,
    )
    request.note(
        "environment",
        f"isolated: HOME and AWS config in the scratch folder, egress refused by the proxy "
        f"on 127.0.0.1:{isolation.guard.port}",
    )
    return isolation


def gateway_stage(
    request: StageRequest,
    client: GatewayClient,
    *,
    app: RunningApp | None,
    emulator_url: str,
    clients: ClientFactory,
    isolation: Isolation,
) -> Stage:
    """The stage of an environment whose faults go through a gateway (embedded, localstack)."""
    injector = GatewayInjector(client, request.run_id)

    def evidence() -> Evidence:
        matched, unknown = matched_calls(injector, request)
        return Evidence(
            gateway=tally_gateway(client, request.note, now=request.now),
            egress=tuple(isolation.guard.attempts()),
            matched_calls=matched,
            matched_calls_unknown=unknown,
            calls=read_call_audit(client, request.note, now=request.now),
        )

    return Stage(
        injector=injector,
        rules=tuple(request.plan.rules),
        evidence=evidence,
        app=app,
        aws_endpoint_url=client.url,
        emulator_url=emulator_url,
        clients=clients,
        credentials=PROBE_KEYS,
        probe_env=isolation.probe_environment(),
        watch_calls=CallWatch(client, now=request.now).poll,
    )


async def start_app(
    scenario: Scenario,
    stack: ExitStack,
    *,
    workdir: Path,
    isolation: Isolation,
    alert_url: str | None,
    note: Note,
    extra_env: Mapping[str, str] | None = None,
) -> RunningApp | None:
    """Start the scenario's app in its isolated environment, pointed at the gateway, and wait
    until it is ready; ``stack`` stops it. None when the scenario has no app."""
    if scenario.target.app is None:
        return None
    env = isolation.app_environment(alert_url)
    env.update(extra_env or {})
    process = AppProcess(
        scenario.target.app, env=env, workdir=workdir, regions=scenario.target.regions
    )
    stack.callback(process.stop)
    process.start()
    app = await asyncio.to_thread(process.wait_ready)
    note("environment", f"app ready at {app.url} (pid {app.pid})")
    return app


def matched_calls(
    injector: GatewayInjector, request: StageRequest
) -> tuple[dict[str, int] | None, str]:
    """(calls each rule matched, by rule id; or None and why they are unknown)."""
    try:
        return injector.matched_calls(request.plan.rules), ""
    except GameDayError as error:
        why = f"could not read the gateway's counters: {error.message}"
        request.note("note", why)
        return None, why


def tally_gateway(
    client: GatewayClient,
    note: Note | None = None,
    *,
    now: Callable[[], float] | None = None,
    since: int = 0,
) -> GatewayTally:
    """What the gateway saw during the run: calls by service, operation and outcome, and
    when (``now``: the run clock) it first failed to forward one; an empty tally with its
    ``read_error``, said through ``note``, when its admin API does not answer. ``since``: the
    ring's last record before the run, for a gateway that outlives runs (an egress sidecar)."""
    try:
        return _tally(client, now, since)
    except GameDayError as error:
        if note is None:
            raise
        note("note", f"could not read what the gateway saw: {error.message}")
        return GatewayTally(read_error=f"could not read what it saw: {error.message}")


def last_seq(client: GatewayClient) -> int:
    """The sequence number of the ring's newest record (0 when empty)."""
    since = 0
    while True:
        page = client.requests(since=since)
        if not page.requests or page.last_seq == since:
            return since
        since = page.last_seq


def _tally(client: GatewayClient, now: Callable[[], float] | None, since: int) -> GatewayTally:
    counts: Counter[tuple[str, str, str]] = Counter()
    total = 0
    first_upstream_error: float | None = None
    while True:
        page = client.requests(since=since)
        for record in page.requests:
            key = (record.service or "unclassified", record.operation or "-", record.outcome)
            counts[key] += 1
            if record.outcome is Outcome.UPSTREAM_ERROR and first_upstream_error is None:
                first_upstream_error = record.time
        total += len(page.requests)
        if not page.requests or page.last_seq == since:
            break
        since = page.last_seq
    calls = [(s, o, str(out), n) for (s, o, out), n in sorted(counts.items())]
    first_at = None
    if first_upstream_error is not None and now is not None:
        # The gateway stamps its records on the wall clock; the run's offsets are on the
        # monotonic one: map through how long ago it was.
        first_at = round(now() - (time.time() - first_upstream_error), 3)
    return GatewayTally(total=total, calls=calls, first_upstream_error_at=first_at)
