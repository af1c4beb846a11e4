"""What each fault matched while in force, as a drill reads it after the rollback: from the
gateway's counters, through the injector that put the faults there (issue 15, "Fault effect").
"""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from gameday.faults.modes import Mode
from gameday.faults.rules import Rule
from gameday.gateway.client import GatewayClient
from gameday.gateway.metrics import GatewayMetrics, calls_by_fault
from gameday.gateway.models import Outcome
from gameday.gateway.thread import Gateway
from gameday.injectors.gateway import GatewayInjector
from gameday.scenario.models import FaultKind
from tests.integration.gateway.helpers import aws


def _rule(rule_id: str, services: tuple[str, ...]) -> Rule:
    return Rule(
        id=rule_id,
        fault=rule_id.partition("#")[0],
        kind=FaultKind.API_FAULT,
        mode=Mode.THROTTLE,
        services=services,
        regions=("us-east-1",),
        operations=(),
        probability=1.0,
        start_s=0.0,
        end_s=30.0,
    )


def test_each_rule_counts_the_calls_it_failed_and_the_count_outlives_its_removal(
    gateway: Gateway, admin: GatewayClient
) -> None:
    injector = GatewayInjector(admin, run_id=f"run-{uuid.uuid4().hex[:8]}")
    # A ramp step's id carries '#': the gateway's fault id spells it otherwise.
    sts_rule, ecr_rule = _rule("sts-down#2", ("sts",)), _rule("ecr-down", ("ecr",))
    sts = aws("sts", gateway.url)
    failed = 0
    with injector.inject(sts_rule), injector.inject(ecr_rule):
        for _ in range(4):
            with pytest.raises(ClientError):
                sts.get_caller_identity()
            failed += 1
    sts.get_caller_identity()  # after the removal: forwarded, counted for no fault

    assert injector.matched_calls([sts_rule, ecr_rule]) == {"sts-down#2": failed, "ecr-down": 0}


def test_calls_by_fault_counts_every_outcome_of_a_fault_and_no_unfaulted_request() -> None:
    metrics = GatewayMetrics(fault_count=lambda: 1)
    metrics.observe("sts", "GetCallerIdentity", Outcome.ERROR, "a", 0.001)
    metrics.observe("sts", "GetCallerIdentity", Outcome.ERROR, "a", 0.001)
    metrics.observe("logs", "PutLogEvents", Outcome.DELAYED, "a", 0.2)
    metrics.observe("sts", "GetCallerIdentity", Outcome.FORWARDED, None, 0.001)
    metrics.observe(None, None, Outcome.BLACKHOLE, 'b"\\quoted', 5.0)

    assert calls_by_fault(metrics.render().decode()) == {"a": 3, 'b"\\quoted': 1}
