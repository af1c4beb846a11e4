"""The new shipped drills' objectives, measured by the engine against the real gateway, moto
and the demo service: break-glass, alert-path-loss (and its silent variant),
automation-under-outage (naive, resilient, and unguarded)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gameday.kinds import RunStatus
from tests.integration.demo.drills import objective, run, scaled, window


def test_break_glass_key_stays_available_while_identity_is_down(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        window(document, start="1s", duration="5s", observe="7s")

    result, code = run(scaled("break-glass.yaml", tmp_path, edit))

    assert result.status is RunStatus.PASSED, result.reason
    assert code == 0
    (fault,) = result.faults
    assert fault.matched_calls  # the app's own AssumeRole calls met the identity fault
    assert objective(result, "break-glass-availability").measured == 1.0
    app = objective(result, "app-availability")
    assert app.measured is not None and app.met
    # The break-glass probe's calls went through the gateway while the fault was in force:
    # DescribeTable answered, and no STS call was needed to sign them.
    probe = next(p for p in result.probes if p.name == "break-glass")
    assert result.t0 is not None and result.tend is not None
    inside = [s for s in probe.samples if result.t0 <= s[0] <= result.tend]
    assert len(inside) >= 5 and all(ok for _, ok, _ in inside)


def test_break_glass_through_iam_fails_with_identity(tmp_path: Path) -> None:
    """The control: the same key on a call the fault covers (IAM's API) is down with it, so
    the drill does tell a working break-glass path from a broken one."""

    def edit(document: dict[str, Any]) -> None:
        window(document, start="1s", duration="4s", observe="6s")
        probe = next(p for p in document["probes"] if p["name"] == "break-glass")
        probe.update(service="iam", call="get_user", params={"UserName": "break-glass"})

    result, code = run(scaled("break-glass.yaml", tmp_path, edit))

    assert result.status is RunStatus.FAILED, result.reason
    assert code == 1
    availability = objective(result, "break-glass-availability")
    assert availability.measured is not None and availability.measured < 0.5
    assert not availability.met


def _alert_window(document: dict[str, Any]) -> None:
    # Long enough for a blackholed Publish (two SDK timeouts of 1 s) and the webhook after it.
    window(document, start="1s", duration="8s", observe="11s")


def test_the_page_arrives_through_the_webhook_when_the_region_takes_sns(tmp_path: Path) -> None:
    result, code = run(scaled("alert-path-loss.yaml", tmp_path, _alert_window))

    assert code in (0, 1), result.reason  # graded: it ran and its fault met the app's calls
    page = objective(result, "page-arrives")
    assert page.met, page.detail
    assert page.measured is not None and 0 < page.measured <= page.target
    sns = [c for c in result.gateway.calls if c[0] == "sns" and c[1] == "Publish"]
    assert sns, "the demo tried the primary path (SNS) first"


def test_without_a_second_path_the_page_never_arrives(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        _alert_window(document)
        document["target"]["app"]["demo"]["alert_fallback"] = False

    result, code = run(scaled("alert-path-loss.yaml", tmp_path, edit))

    page = objective(result, "page-arrives")
    assert page.measured is None
    assert not page.met
    assert result.status is RunStatus.FAILED, result.reason
    assert code == 1


def _automation_window(document: dict[str, Any]) -> None:
    # Observation runs on past the fault: the orders must be seen back (orders-back).
    window(document, start="2s", duration="6s", observe="13s")


def _self_heal(mode: str) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        _automation_window(document)
        document["target"]["app"]["demo"]["self_heal"] = mode

    return edit


def test_the_guardrail_stops_the_naive_self_healer_and_nothing_is_destroyed(
    tmp_path: Path,
) -> None:
    result, code = run(scaled("automation-under-outage.yaml", tmp_path, _automation_window))

    assert result.status is RunStatus.ABORTED, result.reason
    assert code == 4
    assert result.reason is not None and "DeleteTable" in result.reason
    assert objective(result, "nothing-destroyed").measured == 1
    (call,) = result.calls.destructive
    assert (call.service, call.operation, call.resource) == ("dynamodb", "DeleteTable", "orders")
    # deny_destructive refused it: every acknowledged order was read back after the drill.
    rpo = objective(result, "orders-rpo")
    assert rpo.measured == 0 and rpo.met


def test_the_resilient_self_healer_passes_the_same_drill(tmp_path: Path) -> None:
    result, code = run(scaled("automation-under-outage.yaml", tmp_path, _self_heal("resilient")))

    assert result.status is RunStatus.PASSED, result.reason
    assert code == 0
    assert objective(result, "nothing-destroyed").measured == 0
    assert result.calls.destructive == []
    assert all(fault.matched_calls for fault in result.faults)


def test_unguarded_the_naive_self_healer_loses_the_orders(tmp_path: Path) -> None:
    """What the guardrail prevents: without deny_destructive and the abort, the table is
    recreated empty and the orders written before it are gone (RPO above 0)."""

    def edit(document: dict[str, Any]) -> None:
        _automation_window(document)
        document["target"]["deny_destructive"] = False
        document["guardrails"]["abort_when"] = []

    result, code = run(scaled("automation-under-outage.yaml", tmp_path, edit))

    assert result.status is RunStatus.FAILED, result.reason
    assert code == 1
    destroyed = objective(result, "nothing-destroyed").measured
    assert destroyed is not None and destroyed >= 1
    rpo = objective(result, "orders-rpo")
    assert rpo.measured is not None and rpo.measured > 0
