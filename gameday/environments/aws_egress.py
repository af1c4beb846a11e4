"""A real account through the egress proxy beside the app (``injector: egress``).

Usually nothing is started: the proxy runs with the app (a sidecar, a systemd unit:
docs/egress.md) and the runner reaches its admin API (``egress.url``), through a port forward.
With ``egress.start`` the runner serves the proxy from a thread of its own and starts
``target.app`` behind it, so neither outlives the run. The checks are FIS's, in
DESIGN.md's order: approval before any network call, the caller's account against the
allow-list, the stop conditions (which the runner watches itself here, since no FIS
experiment does), and the proxy's address and token. Faults go in through the gateway
injector, with the same TTLs and removal on every way out.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from contextlib import ExitStack
from pathlib import Path

from gameday.checks import CheckOutcome
from gameday.child_env import without_gameday_variables
from gameday.egress.plan import (
    STOP_CONDITION_POLL_S,
    EgressPlan,
    describe_watch,
    egress_summary,
    plan_egress,
)
from gameday.egress.serve import EgressThread, app_variables
from gameday.environments.app import AppProcess, RunningApp
from gameday.environments.call_audit import CallWatch, read_call_audit
from gameday.environments.embedded import last_seq, matched_calls, tally_gateway
from gameday.environments.stage import Evidence, Stage, StageRequest
from gameday.errors import EnvironmentFailure, GameDayError
from gameday.fis.alarms import AlarmWatch
from gameday.fis.aws_config import AwsEnvironment, merge_environment
from gameday.fis.clients import AwsClients
from gameday.fis.safety import ConfigurationMissing, check_account, require_approval
from gameday.gateway.client import GatewayClient
from gameday.injectors.gateway import GatewayInjector, hold_watch, watch_ttl_s
from gameday.result import CallAudit
from gameday.scenario.models import Scenario


def _refuse_failed_checks(plan: EgressPlan) -> None:
    failed = [c for c in plan.checks if c.outcome is CheckOutcome.FAIL]
    if failed:
        raise ConfigurationMissing(
            "; ".join(f"{c.name}: {c.detail}" for c in failed),
            hint="see the checks 'gameday plan --env aws' lists",
        )


def _connect(plan: EgressPlan) -> GatewayClient:
    """A running proxy's admin client, once it answers its health check."""
    assert plan.environment.egress is not None and plan.url is not None  # checked by the plan
    token = os.environ.get(plan.environment.egress.token_env) or None
    client = GatewayClient(plan.url, token)
    try:
        client.health()
    except GameDayError as error:
        raise EnvironmentFailure(
            f"the egress proxy at {plan.url} does not answer: {error.message}",
            hint="start the port forward to the proxy beside the app (docs/egress.md), or "
            "check egress.url and the token variable",
        ) from None
    return client


async def _start_app_behind(
    scenario: Scenario, stack: ExitStack, request: StageRequest, proxy: EgressThread
) -> RunningApp:
    """Start ``target.app`` with the runner's environment (gameday's own variables and any
    endpoint override left out: its calls must reach the real hosts through the proxy)."""
    assert scenario.target.app is not None  # the plan's checks refuse start without one
    env = {
        name: value
        for name, value in without_gameday_variables(os.environ).items()
        if not name.upper().startswith("AWS_ENDPOINT_URL")
    }
    java = env.get("JAVA_TOOL_OPTIONS")
    env.update(app_variables(proxy.url, proxy.ca_dir))
    if java:  # the app's own JVM options stay, the proxy's trust and address come after
        env["JAVA_TOOL_OPTIONS"] = f"{java} {env['JAVA_TOOL_OPTIONS']}"
    env["NO_PROXY"] = env["no_proxy"] = f"{env['NO_PROXY']},127.0.0.1,localhost"
    if request.alert_url:
        env["GAMEDAY_ALERT_URL"] = request.alert_url
    process = AppProcess(
        scenario.target.app, env=env, workdir=request.workdir, regions=scenario.target.regions
    )
    stack.callback(process.stop)
    process.start()
    app = await asyncio.to_thread(process.wait_ready)
    request.note("environment", f"app ready at {app.url} (pid {app.pid}) behind the proxy")
    return app


async def bring_up_egress(
    request: StageRequest,
    environment: AwsEnvironment | None,
    stack: ExitStack,
    *,
    approve: bool,
) -> Stage:
    """Clear the account (approval first), reach or start the proxy (and the app behind
    it), hand over the gateway injector."""
    scenario = request.plan.loaded.scenario
    merged = merge_environment(scenario, environment)
    plan = plan_egress(scenario, merged, request.plan.rules)
    require_approval(approve, interactive=False, ask=None, summary=egress_summary(plan))
    _refuse_failed_checks(plan)
    clients = AwsClients(merged.region_for(scenario))
    account = await asyncio.to_thread(check_account, merged, clients.sts)
    connection = merged.egress
    assert connection is not None  # the plan's checks refuse a missing one
    app: RunningApp | None = None
    proxy: EgressThread | None = None
    if connection.start:
        token = secrets.token_urlsafe(24)
        proxy = stack.enter_context(
            EgressThread(
                request.workdir / "egress-ca",
                token=token,
                routes=connection.routes,
                route_ca=Path(connection.route_ca) if connection.route_ca else None,
            )
        )
        request.note("environment", f"egress proxy started on {proxy.url}")
        client = GatewayClient(proxy.url, token)
    else:
        client = await asyncio.to_thread(_connect, plan)
    if plan.watch_reasons:
        # Before the app's first call and the first fault: from here every AWS call it
        # makes is decrypted, counted, and refused when destructive and denied.
        await asyncio.to_thread(
            hold_watch,
            client,
            request.run_id,
            stack,
            ttl_s=watch_ttl_s(scenario),
            deny=scenario.target.deny_destructive,
            why=" and ".join(plan.watch_reasons),
            note=request.note,
        )
    if proxy is not None:
        app = await _start_app_behind(scenario, stack, request, proxy)
    alarms = AlarmWatch(
        clients.cloudwatch, merged.stop_conditions, interval_s=STOP_CONDITION_POLL_S
    )
    # Read once now: a missing alarm refuses the drill before any fault, and one already in
    # ALARM stops it before the first injection.
    await asyncio.to_thread(alarms.fired)
    seq = await asyncio.to_thread(last_seq, client)
    baseline = await asyncio.to_thread(read_call_audit, client, request.note, now=request.now)
    calls_seq = (await asyncio.to_thread(client.calls, since=0)).last_seq
    request.note("approval", f"account {account}, region {merged.region}: cleared")
    decrypted = f"decrypted while a fault is in force: {', '.join(plan.hosts)}"
    if plan.watch_reasons:
        decrypted = describe_watch(plan.watch_reasons)
    request.note(
        "environment", f"real account through the egress proxy at {client.url}; {decrypted}"
    )
    injector = GatewayInjector(client, request.run_id)

    def evidence() -> Evidence:
        matched, unknown = matched_calls(injector, request)
        return Evidence(
            gateway=tally_gateway(client, request.note, now=request.now, since=seq),
            matched_calls=matched,
            matched_calls_unknown=unknown,
            calls=read_call_audit(
                client,
                request.note,
                now=request.now,
                baseline=baseline if baseline.counted else CallAudit(),
            ),
        )

    return Stage(
        injector=injector,
        rules=tuple(request.plan.rules),
        evidence=evidence,
        app=app,
        aws_endpoint_url=None,
        emulator_url=None,
        clients=None,
        credentials=None,
        app_url=merged.app_url,
        watch_calls=CallWatch(client, now=request.now, since=calls_seq).poll,
        stop_condition=alarms.fired,
    )
