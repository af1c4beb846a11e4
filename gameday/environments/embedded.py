"""The embedded environment (the default): moto's server in this process, the gateway in
front of it, the scenario's setup resources, and the app under test, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path

from gameday.environments.app import AppProcess, RunningApp
from gameday.environments.emulator import running_emulator
from gameday.environments.setup import boto3_clients, create_setup
from gameday.environments.stage import DUMMY_CREDENTIALS, Note, Stage
from gameday.environments.workdir import GATEWAY_URL_FILE
from gameday.gateway.client import GatewayClient
from gameday.result import GatewayTally
from gameday.scenario.models import Scenario


def reset_emulator(url: str) -> None:
    """Drop every resource moto holds (its documented reset endpoint)."""
    import urllib.request

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


async def bring_up_embedded(
    scenario: Scenario,
    stack: ExitStack,
    *,
    workdir: Path,
    seed: int | None,
    alert_url: str | None,
    note: Note,
) -> Stage:
    """Start everything; every part is registered on ``stack``, which tears it down.
    ``note(kind, detail)`` hears of each part as it comes up."""
    from gameday.gateway.server import Gateway

    emulator = await asyncio.to_thread(stack.enter_context, running_emulator())
    # moto keeps its state per process: each run starts from an empty account.
    await asyncio.to_thread(reset_emulator, emulator.url)
    note("environment", f"emulator at {emulator.url}")
    gateway = await asyncio.to_thread(stack.enter_context, Gateway(emulator.url, seed=seed))
    client = GatewayClient(gateway.url)
    await asyncio.to_thread(client.wait_ready, 5.0)
    # `gameday abort` in another terminal finds this run's gateway here.
    (workdir / GATEWAY_URL_FILE).write_text(gateway.url)
    note("environment", f"gateway at {gateway.url}")
    clients = boto3_clients(emulator.url)
    count = await asyncio.to_thread(create_setup, scenario, clients)
    note("environment", f"{count} setup resource(s) created")
    app = await start_app(
        scenario, stack, workdir=workdir, endpoint_url=gateway.url, alert_url=alert_url, note=note
    )
    return Stage(
        app=app,
        gateway=client,
        aws_endpoint_url=gateway.url,
        emulator_url=emulator.url,
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


def tally_gateway(client: GatewayClient) -> GatewayTally:
    """What the gateway saw during the run: calls by service, operation and outcome."""
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
