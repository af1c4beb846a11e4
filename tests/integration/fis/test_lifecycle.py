"""One FIS experiment through its whole life on a real moto server over HTTP.

moto 5.2.5 moves an experiment one state per get_experiment (pending, initiating, running,
completed) and a stop goes stopping, then stopped on the next read; these tests rely on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from gameday.errors import AbortedError, EnvironmentFailure, ExitCode
from gameday.fis.clients import AwsClients
from gameday.fis.lifecycle import ExperimentStatus, FisExperiment, abort_experiments
from gameday.fis.spec import MANAGED_BY_TAG, RUN_ID_TAG, ExperimentTemplate
from tests.integration.fis.helpers import REGION, experiments_of, identity_plan, templates_of

if TYPE_CHECKING:
    from mypy_boto3_fis import FISClient

pytestmark = pytest.mark.usefixtures("on_moto")


def experiment_of(template: ExperimentTemplate, client: FISClient) -> FisExperiment:
    """An experiment whose waits take no time (time is a parameter, never patched)."""
    return FisExperiment(template, client, sleep=lambda _: None)


def test_clients_honour_aws_endpoint_url(on_moto: str, client: FISClient) -> None:
    assert client.meta.endpoint_url == on_moto
    assert AwsClients(REGION).sts().meta.endpoint_url == on_moto


def test_the_whole_lifecycle_creates_starts_follows_and_deletes(
    client: FISClient, run_id: str
) -> None:
    plan = identity_plan(run_id)
    with experiment_of(plan.fis.template, client) as experiment:
        [template_id] = templates_of(client, run_id)
        assert experiment.record.template_id == template_id
        tags = client.get_experiment_template(id=template_id)["experimentTemplate"]["tags"]
        assert tags[RUN_ID_TAG] == run_id and tags[MANAGED_BY_TAG[0]] == MANAGED_BY_TAG[1]
        seen = [experiment.start().status]
        while not experiment.finished:
            seen.append(experiment.poll().status)
    assert seen == ["pending", "initiating", "running", "completed"]
    record = experiment.record
    assert record.status is ExperimentStatus.COMPLETED
    assert record.experiment_id in experiments_of(client, run_id)
    assert record.stopped_by_gameday is None and record.template_deleted
    assert templates_of(client, run_id) == []
    assert [a.name for a in record.actions] == list(plan.fis.template.actions)
    assert record.to_dict()["state"] == "completed"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (KeyboardInterrupt(), "interrupted (Ctrl-C)"),
        (AbortedError("guardrail api: 5 consecutive failures"), "aborted: guardrail api: 5 "),
        (SystemExit(143), "the runner is exiting"),
        (RuntimeError("boom"), "error: RuntimeError: boom"),
    ],
)
def test_any_way_out_stops_the_experiment_and_deletes_the_template(
    client: FISClient, run_id: str, error: BaseException, reason: str
) -> None:
    plan = identity_plan(run_id)
    with pytest.raises(type(error)), experiment_of(plan.fis.template, client) as experiment:
        experiment.start()
        raise error
    record = experiment.record
    assert record.status is ExperimentStatus.STOPPED
    assert record.stopped_by_gameday is not None and record.stopped_by_gameday.startswith(reason)
    assert record.template_deleted and templates_of(client, run_id) == []
    [experiment_id] = experiments_of(client, run_id)
    state = client.get_experiment(id=experiment_id)["experiment"]["state"]["status"]
    assert state == "stopped"


def test_a_guardrail_stops_it_through_the_stop_path(client: FISClient, run_id: str) -> None:
    plan = identity_plan(run_id)
    with experiment_of(plan.fis.template, client) as experiment:
        experiment.start()
        final = experiment.stop("guardrail: api unhealthy 95%")
        assert final is not None and final.status is ExperimentStatus.STOPPED
        assert experiment.stop("again") is final  # finished: nothing more to stop
    assert experiment.record.stopped_by_gameday == "guardrail: api unhealthy 95%"
    assert templates_of(client, run_id) == []


def test_a_template_never_started_is_still_deleted_and_no_other_is_touched(
    client: FISClient, run_id: str
) -> None:
    other = client.create_experiment_template(
        **identity_plan(f"{run_id}-other").fis.template.to_request()
    )
    with experiment_of(identity_plan(run_id).fis.template, client) as experiment:
        pass
    assert experiment.record.template_deleted and experiment.record.experiment_id is None
    assert templates_of(client, run_id) == []
    assert templates_of(client, f"{run_id}-other") == [other["experimentTemplate"]["id"]]
    client.delete_experiment_template(id=other["experimentTemplate"]["id"])


def test_a_failed_cleanup_is_loud(client: FISClient, run_id: str) -> None:
    template = identity_plan(run_id).fis.template
    with pytest.raises(EnvironmentFailure) as caught, experiment_of(template, client) as experiment:
        assert experiment.record.template_id is not None
        client.delete_experiment_template(id=experiment.record.template_id)
    assert caught.value.message.startswith(
        f"could not delete FIS template {experiment.record.template_id}:"
    )
    assert caught.value.exit_code is ExitCode.COULD_NOT_RUN
    assert experiment.record.problems == [caught.value.message]


def test_a_failed_cleanup_is_attached_to_the_error_in_flight(
    client: FISClient, run_id: str
) -> None:
    template = identity_plan(run_id).fis.template
    with pytest.raises(KeyboardInterrupt) as caught, experiment_of(template, client) as experiment:
        assert experiment.record.template_id is not None
        client.delete_experiment_template(id=experiment.record.template_id)
        raise KeyboardInterrupt
    [note] = caught.value.__notes__
    assert note.startswith("FIS cleanup failed: could not delete FIS template")


def test_an_experiment_that_will_not_stop_is_reported(client: FISClient, run_id: str) -> None:
    ticks = iter(range(1000))
    plan = identity_plan(run_id)
    experiment = FisExperiment(
        plan.fis.template, client, sleep=lambda _: None, clock=lambda: next(ticks), stop_timeout_s=0
    )
    with pytest.raises(EnvironmentFailure) as caught, experiment:
        experiment.start()
    assert "is still stopping 0s after it was stopped" in caught.value.message
    assert templates_of(client, run_id) == []


def test_abort_stops_every_running_experiment_tagged_by_gameday(
    client: FISClient, run_id: str
) -> None:
    ours = []
    for n in range(2):
        request = identity_plan(f"{run_id}-{n}").fis.template.to_request()
        template = client.create_experiment_template(**request)["experimentTemplate"]["id"]
        started = client.start_experiment(
            clientToken=f"{run_id}-{n}", experimentTemplateId=template, tags=request["tags"]
        )
        ours.append(started["experiment"]["id"])
    untagged = client.start_experiment(
        clientToken=f"{run_id}-untagged", experimentTemplateId=template, tags={"team": "other"}
    )
    stopped = abort_experiments(REGION, AwsClients(REGION))
    assert set(ours) <= set(stopped)
    assert untagged["experiment"]["id"] not in stopped
    for experiment_id in ours:
        state = client.get_experiment(id=experiment_id)["experiment"]["state"]["status"]
        assert state == "stopped"
    assert not set(ours) & set(abort_experiments(REGION))
