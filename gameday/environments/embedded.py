"""The embedded environment (the default): moto's server in this process, the gateway in
front of it, the scenario's setup resources, and the app under test, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import urllib.request
from collections import Counter
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path

from gameday.environments.app import AppProcess, RunningApp
from gameday.environments.emulator import running_emulator
from gameday.environments.setup import ClientFactory, boto3_clients, create_setup
from gameday.environments.stage import DUMMY_CREDENTIALS, Evidence, Note, Stage, StageRequest
from gameday.environments.workdir import GATEWAY_URL_FILE
from gameday.errors import GameDayError
from gameday.gateway.client import GatewayClient
from gameday.injectors.gateway import GatewayInjector
from gameday.result import GatewayTally
from gameday.scenario.models import Scenario


def reset_emulator(url: str) -> None:
    """Drop every resource moto holds (its documented reset endpoint)."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def app_environment(aws_endpoint_url: str, region: str, alert_url: str | None) -> dict[str, str]:
    """The app's environment: the runner's, minus real credentials, plus the gateway."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {
        **keep,
        **DUMMY_CREDENTIALS,
        "AWS_ENDPOINT_URL": aws_endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        # Never let an SDK in the app look past the environment for credentials.
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        **({"GAMEDAY_ALERT_URL": alert_url} if alert_url else {}),
    }


class EmbeddedEnvironment:
    """moto's server in this process, the gateway in front of it, the app; all on loopback."""

    async def bring_up(self, request: StageRequest, stack: ExitStack) -> Stage:
        """Start everything; every part is registered on ``stack``, which tears it down."""
        # Lazy: the gateway server (aiohttp) takes ~170 ms to import; `gameday plan --env
        # localstack` imports this module (through environments.localstack), starts no gateway.
        from gameday.gateway.server import Gateway  # noqa: PLC0415

        scenario, note = request.plan.loaded.scenario, request.note
        emulator = await asyncio.to_thread(stack.enter_context, running_emulator())
        # moto keeps its state per process: each run starts from an empty account.
        await asyncio.to_thread(reset_emulator, emulator.url)
        note("environment", f"emulator at {emulator.url}")
        gateway = await asyncio.to_thread(
            stack.enter_context, Gateway(emulator.url, seed=request.seed)
        )
        client = GatewayClient(gateway.url)
        await asyncio.to_thread(client.wait_ready, 5.0)
        # `gameday abort` in another terminal finds this run's gateway here.
        (request.workdir / GATEWAY_URL_FILE).write_text(gateway.url)
        note("environment", f"gateway at {gateway.url}")
        clients = boto3_clients(emulator.url)
        count = await asyncio.to_thread(create_setup, scenario, clients)
        note("environment", f"{count} setup resource(s) created")
        app = await start_app(
            scenario,
            stack,
            workdir=request.workdir,
            endpoint_url=gateway.url,
            alert_url=request.alert_url,
            note=note,
        )
        return gateway_stage(request, client, app=app, emulator_url=emulator.url, clients=clients)


def gateway_stage(
    request: StageRequest,
    client: GatewayClient,
    *,
    app: RunningApp | None,
    emulator_url: str,
    clients: ClientFactory,
) -> Stage:
    """The stage of an environment whose faults go through a gateway (embedded, localstack)."""
    return Stage(
        injector=GatewayInjector(client, request.run_id),
        rules=tuple(request.plan.rules),
        evidence=lambda: Evidence(gateway=tally_gateway(client, request.note)),
        app=app,
        aws_endpoint_url=client.url,
        emulator_url=emulator_url,
        clients=clients,
    )


async def start_app(
    scenario: Scenario,
    stack: ExitStack,
    *,
    workdir: Path,
    endpoint_url: str,
    alert_url: str | None,
    note: Note,
    extra_env: Mapping[str, str] | None = None,
) -> RunningApp | None:
    """Start the scenario's app pointed at ``endpoint_url`` (the gateway) and wait until it
    is ready; ``stack`` stops it. None when the scenario has no app."""
    if scenario.target.app is None:
        return None
    env = app_environment(endpoint_url, scenario.target.home_region, alert_url)
    # The app's temporary files (the demo's spool) live in the run's scratch folder, so they
    # go with it even when the app is killed before it can clean up.
    env["TMPDIR"] = str(workdir)
    env.update(extra_env or {})
    process = AppProcess(
        scenario.target.app, env=env, workdir=workdir, regions=scenario.target.regions
    )
    stack.callback(process.stop)
    process.start()
    app = await asyncio.to_thread(process.wait_ready)
    note("environment", f"app ready at {app.url} (pid {app.pid})")
    return app


def tally_gateway(client: GatewayClient, note: Note | None = None) -> GatewayTally:
    """What the gateway saw during the run: calls by service, operation and outcome; an
    empty tally, said through ``note``, when its admin API does not answer."""
    try:
        return _tally(client)
    except GameDayError as error:
        if note is None:
            raise
        note("note", f"could not read what the gateway saw: {error.message}")
        return GatewayTally()


def _tally(client: GatewayClient) -> GatewayTally:
    counts: Counter[tuple[str, str, str]] = Counter()
    since, total = 0, 0
    while True:
        page = client.requests(since=since)
        for record in page.requests:
            key = (record.service or "unclassified", record.operation or "-", record.outcome)
            counts[key] += 1
        total += len(page.requests)
        if not page.requests or page.last_seq == since:
            break
        since = page.last_seq
    calls = [(s, o, str(out), n) for (s, o, out), n in sorted(counts.items())]
    return GatewayTally(total=total, calls=calls)
