"""``gameday schedule export --k8s``: each manifest is read back by the official Kubernetes
client's models (``V1ConfigMap``, ``V1CronJob``); serialising the model again must give the
document back unchanged, so that a misspelt or unknown key cannot pass unnoticed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient, V1ConfigMap, V1CronJob
from ruamel.yaml import YAML

from gameday import __version__
from gameday.errors import InvalidInputError, ScenarioError
from gameday.scenario.loader import find_scenario_files, load_scenario
from gameday.schedule.k8s import export_k8s, kubernetes_cron
from tests.unit.schedule.scenarios import write_scenario

ROOT = Path(__file__).resolve().parents[3]
CLIENT = ApiClient()


def _documents(path: Path) -> list[dict[str, Any]]:
    return [dict(each) for each in YAML(typ="safe").load_all(path.read_text())]


def _model(document: dict[str, Any], kind: str) -> Any:
    # The public deserialize() takes an HTTP response; this is the parser it hands the body to.
    model = CLIENT._ApiClient__deserialize(document, kind)
    assert CLIENT.sanitize_for_serialization(model) == document  # nothing unknown, nothing lost
    return model


def _load(path: Path) -> tuple[V1ConfigMap, V1CronJob]:
    config_map, cron_job = _documents(path)
    return _model(config_map, "V1ConfigMap"), _model(cron_job, "V1CronJob")


def test_one_cronjob_and_configmap_per_shipped_scenario(tmp_path: Path) -> None:
    written = export_k8s(ROOT / "scenarios", tmp_path / "out")
    shipped = find_scenario_files([ROOT / "scenarios"])  # every shipped drill is scheduled
    assert [p.name for p in written] == sorted(f"gameday-{p.stem}.yaml" for p in shipped)
    assert "gameday-automation-under-outage.yaml" in [p.name for p in written]
    for path in written:
        config_map, cron_job = _load(path)
        assert cron_job.metadata.name == config_map.metadata.name == path.stem
        assert cron_job.spec.concurrency_policy == "Forbid"
        assert cron_job.spec.starting_deadline_seconds == 300
        assert cron_job.spec.successful_jobs_history_limit == 3
        assert cron_job.spec.failed_jobs_history_limit == 3
        pod = cron_job.spec.job_template.spec.template.spec
        assert pod.restart_policy == "Never"
        assert pod.containers[0].image == f"gameday:{__version__}"
        assert cron_job.metadata.labels["app.kubernetes.io/name"] == "gameday"


def test_the_identity_loss_cronjob_in_detail(tmp_path: Path) -> None:
    source = ROOT / "scenarios" / "identity-loss.yaml"
    (path,) = [p for p in export_k8s(ROOT / "scenarios", tmp_path) if "identity" in p.name]
    config_map, cron_job = _load(path)
    assert config_map.data["scenario.yaml"] == source.read_text()
    assert config_map.data["runbook.md"] == (ROOT / "runbooks" / "identity-loss.md").read_text()
    spec = cron_job.spec
    assert (spec.schedule, spec.time_zone) == ("0 2 * * 2", "UTC")
    assert cron_job.metadata.labels["app.kubernetes.io/instance"] == "identity-loss"
    job = spec.job_template.spec
    assert job.backoff_limit == 0
    # jitter + max_duration + the data probe's read-back (settle 2 s, deadline 10 s, timeout
    # 2 s) + margin; the grace: 60 s + recovery_window + the read-back.
    assert load_scenario(source).scenario.read_back_s() == 14
    assert job.active_deadline_seconds == 300 + 120 + 14 + 300
    pod = job.template.spec
    assert pod.termination_grace_period_seconds == 60 + 10 + 14
    (drill,) = pod.containers
    assert drill.command == [
        "gameday",
        "run",
        "/gameday/scenarios/identity-loss.yaml",
        "--report-dir",
        "/reports",
    ]
    assert [(e.name, e.value) for e in drill.env] == [("GAMEDAY_STORE", "/reports/history.db")]
    (jitter,) = pod.init_containers
    assert jitter.command == [
        "python",
        "-c",
        "import random, time; time.sleep(random.random() * 300)",
    ]
    scenario, reports = pod.volumes
    assert [(i.key, i.path) for i in scenario.config_map.items] == [
        ("scenario.yaml", "scenarios/identity-loss.yaml"),
        ("runbook.md", "runbooks/identity-loss.md"),  # ../runbooks/ from /gameday/scenarios
    ]
    assert reports.empty_dir is not None and reports.persistent_volume_claim is None


def test_pushgateway_image_and_a_claim_for_the_reports(tmp_path: Path) -> None:
    write_scenario(tmp_path / "in", "nightly", "{cron: '0 0 3 * * *', timezone: Europe/Paris}")
    (path,) = export_k8s(
        tmp_path / "in",
        tmp_path / "out",
        image="registry.example/gameday:1.2",
        pushgateway="http://pushgateway.monitoring:9091",
        reports_pvc="drill-reports",
    )
    _, cron_job = _load(path)
    assert (cron_job.spec.schedule, cron_job.spec.time_zone) == ("0 3 * * *", "Europe/Paris")
    assert cron_job.metadata.annotations["gameday/cron"] == "0 0 3 * * *"
    pod = cron_job.spec.job_template.spec.template.spec
    assert pod.containers[0].image == "registry.example/gameday:1.2"
    assert pod.containers[0].command[-2:] == ["--pushgateway", "http://pushgateway.monitoring:9091"]
    assert pod.volumes[1].persistent_volume_claim.claim_name == "drill-reports"
    assert pod.init_containers is None  # no jitter, no sleep


def test_every_cronjob_writes_to_the_fleet_store_through_a_secret(tmp_path: Path) -> None:
    written = export_k8s(ROOT / "scenarios", tmp_path, store_secret="gameday-store")
    for path in written:
        _, cron_job = _load(path)
        (drill,) = cron_job.spec.job_template.spec.template.spec.containers
        store, password = drill.env
        assert (store.name, store.value) == ("GAMEDAY_STORE", None)
        assert (store.value_from.secret_key_ref.name, store.value_from.secret_key_ref.key) == (
            "gameday-store",
            "GAMEDAY_STORE",
        )
        assert store.value_from.secret_key_ref.optional is None  # no store, no drill
        assert password.name == "PGPASSWORD"
        reference = password.value_from.secret_key_ref
        assert (reference.name, reference.key, reference.optional) == (
            "gameday-store",
            "PGPASSWORD",
            True,
        )
        # The reports stay where they were; only the history moved.
        assert drill.command[-2:] == ["--report-dir", "/reports"]
    # Without the option, the history is a file beside the reports, as before.
    (default,) = [p for p in export_k8s(ROOT / "scenarios", tmp_path / "d") if "identity" in p.name]
    (drill,) = _load(default)[1].spec.job_template.spec.template.spec.containers
    assert [(e.name, e.value) for e in drill.env] == [("GAMEDAY_STORE", "/reports/history.db")]


@pytest.mark.parametrize("name", ["Gameday-Store", "store_secret", "-store", "a" * 254, ""])
def test_a_store_secret_that_is_no_kubernetes_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        export_k8s(ROOT / "scenarios", tmp_path / "out", store_secret=name)
    assert caught.value.message == f"--store-secret: {name!r} is not a Kubernetes Secret name"
    assert not (tmp_path / "out").exists()


def test_a_cron_with_seconds_is_refused_unless_they_are_zero() -> None:
    assert kubernetes_cron("0 */5 * * * *", "x.yaml") == "*/5 * * * *"
    with pytest.raises(InvalidInputError) as caught:
        kubernetes_cron("*/2 * * * * *", "x.yaml")
    assert caught.value.message == (
        "x.yaml: schedule.cron: '*/2 * * * * *' fires on seconds '*/2'; a Kubernetes CronJob "
        "schedule has 5 fields (minute hour day month weekday)"
    )
    assert caught.value.hint == "use seconds 0 (it is dropped on export) or a 5-field cron"


@pytest.mark.parametrize(
    ("cron", "field"),
    [("0 2 L * *", "day of month"), ("0 2 * * 5#3", "day of week"), ("0 2 * * 7", "day of week")],
)
def test_croniter_only_syntax_is_refused(cron: str, field: str) -> None:
    with pytest.raises(InvalidInputError, match=f"the {field} field"):
        kubernetes_cron(cron, "x.yaml")


def test_standard_syntax_passes() -> None:
    for cron in ["*/15 0-6,22,23 * JAN-MAR,DEC MON-FRI", "0 2 ? * SUN", "30 1 1,15 * 0"]:
        assert kubernetes_cron(cron, "x.yaml") == cron


def test_long_and_odd_names_become_kubernetes_names(tmp_path: Path) -> None:
    name = "a_very.long_scenario-name-" + "x" * 36
    write_scenario(tmp_path / "in", name)
    (path,) = export_k8s(tmp_path / "in", tmp_path / "out")
    _, cron_job = _load(path)
    assert len(cron_job.metadata.name) <= 52
    assert cron_job.metadata.name.startswith("gameday-a-very-long-scenario-name-")
    assert cron_job.metadata.annotations["gameday/scenario"] == name


def test_nothing_is_written_when_one_scenario_cannot_be_exported(tmp_path: Path) -> None:
    write_scenario(tmp_path / "in", "fine")
    write_scenario(tmp_path / "in", "fast", "{cron: '*/10 * * * * *'}")
    with pytest.raises(InvalidInputError, match="fires on seconds"):
        export_k8s(tmp_path / "in", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_invalid_input_is_refused(tmp_path: Path) -> None:
    write_scenario(tmp_path / "in", "x_y")
    write_scenario(tmp_path / "in", "x-y")
    with pytest.raises(InvalidInputError, match="map to the same Kubernetes name: gameday-x-y"):
        export_k8s(tmp_path / "in", tmp_path / "out")
    with pytest.raises(InvalidInputError, match="is not an http"):
        export_k8s(tmp_path / "in", tmp_path / "out", pushgateway="pushgateway:9091")
    write_scenario(tmp_path / "none", "plain", None)
    with pytest.raises(InvalidInputError, match="no scheduled scenarios in"):
        export_k8s(tmp_path / "none", tmp_path / "out")
    (tmp_path / "bad" / "x.yaml").parent.mkdir()
    (tmp_path / "bad" / "x.yaml").write_text("apiVersion: gameday/v1\n")
    with pytest.raises(ScenarioError, match="metadata: required field is missing"):
        export_k8s(tmp_path / "bad", tmp_path / "out")


def test_a_schedule_with_blackout_windows_is_refused(tmp_path: Path) -> None:
    from gameday.schedule.catalog import read_catalog
    from gameday.schedule.k8s import _refusals
    from gameday.schedule.models import Blackout

    write_scenario(tmp_path, "frozen")
    freeze = Blackout.model_validate(
        {"start": "2026-12-20", "end": "2027-01-04", "reason": "freeze"}
    )
    (scheduled,) = read_catalog(tmp_path, [freeze]).scheduled
    with pytest.raises(InvalidInputError) as caught:
        _refusals(scheduled)
    assert caught.value.message == (
        f"{tmp_path / 'frozen.yaml'}: schedule.blackout: Kubernetes CronJobs cannot skip a "
        "blackout window (2026-12-20 00:00 .. 2027-01-04 00:00 (freeze))"
    )
    assert "suspend the CronJob" in (caught.value.hint or "")
