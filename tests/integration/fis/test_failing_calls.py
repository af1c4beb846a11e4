"""FIS calls that fail, through the real gateway in front of the moto server.

boto3 makes one attempt per call here (AWS_MAX_ATTEMPTS=1), so every retry counted in the
gateway's request ring is gameday's own. moto moves an experiment one state per read and a
stop goes stopping, then stopped on the next read (see test_lifecycle.py).
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from gameday.errors import InjectorError
from gameday.faults.modes import Mode
from gameday.fis.calls import FIS_BACKOFF, FisCallError
from gameday.fis.lifecycle import ExperimentStatus, FisExperiment
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import FaultSpec
from gameday.retrying import Backoff
from tests.integration.fis.helpers import REGION, experiments_of, identity_plan, templates_of

if TYPE_CHECKING:
    from mypy_boto3_fis import FISClient

FAST = Backoff(deadline_s=2.0, first_delay_s=0.01, max_delay_s=0.05)
"""Real sleeps, short ones: a test of the retries, not of their pacing."""


def fis_fault(fault_id: str, operation: str, mode: Mode, max_hits: int | None = None) -> FaultSpec:
    return FaultSpec.model_validate(
        {
            "id": fault_id,
            "match": {"services": ["fis"], "operations": [operation], "max_hits": max_hits},
            "effect": {"mode": str(mode)},
            "ttl_seconds": 60,
        }
    )


def fis_calls(faults: GatewayClient, since: int) -> list[tuple[str | None, int | None, str]]:
    """(operation, status, outcome) of every FIS call the gateway saw after ``since``."""
    return [
        (r.operation, r.status, str(r.outcome))
        for r in faults.requests(since).requests
        if r.service == "fis"
    ]


def state_on_moto(client: FISClient, experiment_id: str) -> str:
    return client.get_experiment(id=experiment_id)["experiment"]["state"]["status"]


def test_a_denied_get_experiment_is_named_and_the_cleanup_still_stops_and_deletes(
    client: FISClient, gateway_fis: FISClient, faults: GatewayClient, run_id: str
) -> None:
    experiment = FisExperiment(
        identity_plan(run_id).fis.template, gateway_fis, sleep=lambda _: None, backoff=FAST
    )
    with pytest.raises(InjectorError) as caught, experiment:
        experiment.start()
        faults.add(fis_fault("get-denied", "GetExperiment", Mode.DENIED))
        since = faults.requests().last_seq
        experiment.poll()

    record = experiment.record
    eid, tid = record.experiment_id, record.template_id
    error = caught.value
    assert isinstance(error, FisCallError) and not isinstance(error, ClientError | BotoCoreError)
    assert error.message.startswith(
        f"FIS GetExperiment failed for experiment {eid} (template {tid}): AccessDeniedException"
    )
    assert error.hint == "the runner's role needs fis:GetExperiment on the template and experiment"

    calls = fis_calls(faults, since)
    assert ("StopExperiment", 200, "forwarded") in calls
    assert calls[-1] == ("DeleteExperimentTemplate", 200, "forwarded")
    assert calls.index(("StopExperiment", 200, "forwarded")) < len(calls) - 1
    assert {c for c in calls if c[0] == "GetExperiment"} == {("GetExperiment", 403, "error")}

    faults.clear()
    assert eid is not None and state_on_moto(client, eid) == "stopped"
    assert templates_of(client, run_id) == [] and record.template_deleted
    assert record.stopped_by_gameday is not None
    assert record.stopped_by_gameday.startswith("error: FisCallError: FIS GetExperiment failed")
    # FIS took the stop; that it finished could not be read: said so, with what to run.
    [problem] = record.problems
    assert problem.startswith(
        f"FIS experiment {eid} was asked to stop but is not known to have stopped: "
        f"FIS GetExperiment failed for experiment {eid} (template {tid}): AccessDeniedException"
    )
    assert problem.endswith(
        f"check it: aws fis get-experiment --id {eid} --region {REGION}; "
        f"stop it: aws fis stop-experiment --id {eid} --region {REGION} "
        f"(or gameday abort --env aws --region {REGION})"
    )
    assert error.__notes__ == [f"FIS cleanup failed: {problem}"]


def test_a_stop_throttled_twice_succeeds_on_the_third_attempt(
    client: FISClient, gateway_fis: FISClient, faults: GatewayClient, run_id: str
) -> None:
    # The real backoff and real sleeps: the time a stop with two throttles takes.
    experiment = FisExperiment(
        identity_plan(run_id).fis.template,
        gateway_fis,
        poll_interval_s=0.01,
        backoff=FIS_BACKOFF,
        rng=random.Random(0),
    )
    with experiment:
        experiment.start()
        faults.add(fis_fault("stop-throttled", "StopExperiment", Mode.THROTTLE, max_hits=2))
        since = faults.requests().last_seq
        leaving = time.monotonic()
    took_s = time.monotonic() - leaving

    stops = [c for c in fis_calls(faults, since) if c[0] == "StopExperiment"]
    assert stops == [
        ("StopExperiment", 400, "error"),
        ("StopExperiment", 400, "error"),
        ("StopExperiment", 200, "forwarded"),
    ]
    record = experiment.record
    assert record.problems == []
    assert record.status is ExperimentStatus.STOPPED and record.template_deleted
    assert record.experiment_id is not None
    assert state_on_moto(client, record.experiment_id) == "stopped"
    assert templates_of(client, run_id) == []
    about = f"experiment {record.experiment_id} (template {record.template_id})"
    assert [line.split(" (attempt")[0] for line in record.failed_calls] == [
        f"StopExperiment ({about}): ThrottlingException",
        f"StopExperiment ({about}): ThrottlingException",
    ]
    assert record.to_dict()["failed_calls"] == record.failed_calls
    # Full jitter under caps of 0.5 s, then 1 s: at most 1.5 s of sleeping.
    assert took_s < 1.5 + 1.0


def test_a_template_that_cannot_be_deleted_is_named_with_the_command_to_finish(
    client: FISClient, gateway_fis: FISClient, faults: GatewayClient, run_id: str
) -> None:
    faults.add(fis_fault("delete-denied", "DeleteExperimentTemplate", Mode.DENIED))
    since = faults.requests().last_seq
    experiment = FisExperiment(
        identity_plan(run_id).fis.template, gateway_fis, sleep=lambda _: None, backoff=FAST
    )
    with pytest.raises(InjectorError) as caught, experiment:
        pass

    tid = experiment.record.template_id
    [problem] = experiment.record.problems
    assert problem.startswith(
        f"could not delete FIS template {tid}: FIS DeleteExperimentTemplate failed for "
        f"template {tid}: AccessDeniedException"
    )
    assert problem.endswith(
        f"; delete it: aws fis delete-experiment-template --id {tid} --region {REGION}"
    )
    assert caught.value.message == problem and not experiment.record.template_deleted
    # Denied is not transient: one attempt, not thirty seconds of them.
    assert [c for c in fis_calls(faults, since) if c[0] == "DeleteExperimentTemplate"] == [
        ("DeleteExperimentTemplate", 403, "error")
    ]
    faults.clear()
    assert templates_of(client, run_id) == [tid]
    client.delete_experiment_template(id=str(tid))


def test_expired_credentials_are_not_retried(
    gateway_fis: FISClient, faults: GatewayClient, run_id: str
) -> None:
    faults.add(fis_fault("start-expired", "StartExperiment", Mode.EXPIRED_TOKEN))
    since = faults.requests().last_seq
    experiment = FisExperiment(
        identity_plan(run_id).fis.template, gateway_fis, sleep=lambda _: None, backoff=FAST
    )
    with pytest.raises(FisCallError) as caught, experiment:
        experiment.start()
    assert caught.value.code == "ExpiredTokenException" and not caught.value.transient
    assert caught.value.hint is not None and "credentials expired" in caught.value.hint
    starts = [c for c in fis_calls(faults, since) if c[0] == "StartExperiment"]
    assert len(starts) == 1


def test_a_start_that_fis_carried_out_but_never_answered_is_found_and_stopped(
    client: FISClient, gateway_fis: FISClient, faults: GatewayClient, run_id: str
) -> None:
    template = identity_plan(run_id).fis.template
    three = Backoff(deadline_s=None, max_attempts=3)
    experiment = FisExperiment(template, gateway_fis, sleep=lambda _: None, backoff=three)
    with experiment:
        assert experiment.record.template_id is not None
        # The first attempt reached FIS; every answer is a 500 (ambiguous: it may have
        # started). Same clientToken as gameday's, as a retry of it would send.
        carried_out = client.start_experiment(
            clientToken=f"{template.client_token}-start"[:64],
            experimentTemplateId=experiment.record.template_id,
            tags=dict(template.tags),
        )["experiment"]["id"]
        faults.add(fis_fault("start-500", "StartExperiment", Mode.INTERNAL))
        snapshot = experiment.start()
        assert snapshot.experiment_id == carried_out
        faults.clear()
    assert experiment.record.problems == []
    assert experiment.record.status is ExperimentStatus.STOPPED
    assert experiments_of(client, run_id) == [carried_out]
    assert state_on_moto(client, carried_out) == "stopped"
    assert any("StartExperiment" in line for line in experiment.record.failed_calls)


def test_a_start_that_keeps_failing_with_500_is_wrapped_and_leaves_nothing(
    client: FISClient, gateway_fis: FISClient, faults: GatewayClient, run_id: str
) -> None:
    faults.add(fis_fault("start-500", "StartExperiment", Mode.INTERNAL))
    experiment = FisExperiment(
        identity_plan(run_id).fis.template,
        gateway_fis,
        sleep=lambda _: None,
        backoff=Backoff(deadline_s=None, max_attempts=3),
    )
    with pytest.raises(FisCallError) as caught, experiment:
        experiment.start()
    tid = experiment.record.template_id
    assert caught.value.message.startswith(
        f"FIS StartExperiment failed for template {tid} after 3 attempts in "
    )
    assert caught.value.code == "InternalFailure" and caught.value.ambiguous
    assert experiments_of(client, run_id) == []
    assert experiment.record.template_deleted and templates_of(client, run_id) == []


def test_an_experiment_listed_only_after_a_failed_start_is_stopped_by_the_cleanup(
    client: FISClient, gateway_fis: FISClient, faults: GatewayClient, run_id: str
) -> None:
    template = identity_plan(run_id).fis.template
    three = Backoff(deadline_s=None, max_attempts=3)
    experiment = FisExperiment(template, gateway_fis, sleep=lambda _: None, backoff=three)
    late: list[str] = []
    with pytest.raises(FisCallError, match=r"^FIS StartExperiment failed"), experiment:
        faults.add(fis_fault("start-500", "StartExperiment", Mode.INTERNAL))
        try:
            experiment.start()
        finally:
            # FIS lists the experiment a lost start made only now (eventual consistency).
            assert experiment.record.template_id is not None
            late.append(
                client.start_experiment(
                    clientToken=f"{template.client_token}-start"[:64],
                    experimentTemplateId=experiment.record.template_id,
                    tags=dict(template.tags),
                )["experiment"]["id"]
            )
    assert experiment.record.experiment_id == late[0]
    assert experiment.record.problems == []
    assert experiment.record.status is ExperimentStatus.STOPPED
    assert state_on_moto(client, late[0]) == "stopped"
    assert templates_of(client, run_id) == []
