"""``gameday schedule export --k8s``: one Kubernetes CronJob (and its ConfigMap) per scheduled
scenario, so that a cluster's own scheduler runs the drills (docs/scheduling.md).

Each file holds two documents: a ConfigMap with the scenario's YAML as written (and its
runbook, which validation requires), and a ``batch/v1`` CronJob whose pod runs
``gameday run`` on it. Kubernetes has no jitter: a scenario with ``jitter`` gets an init
container, from the same image, that sleeps a random time below it before the drill starts.
Kubernetes cannot skip a blackout window either, so a schedule with one is refused. Every file
is checked before any is written: an export is whole or nothing.

Each pod's history goes to ``/reports/history.db`` (an emptyDir, or the claim given), or, with
``store_secret``, to the fleet's store: ``GAMEDAY_STORE`` (and ``PGPASSWORD`` when the Secret
has it) from that Secret, so that every CronJob writes one PostgreSQL history (docs/fleet.md).
"""

from __future__ import annotations

import hashlib
import math
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from gameday import __version__
from gameday.errors import InvalidInputError, ScenarioError
from gameday.scenario.durations import format_duration
from gameday.scenario.models import Scenario
from gameday.schedule.catalog import Scheduled, read_catalog
from gameday.schedule.timetable import STARTING_DEADLINE_S

MOUNT = "/gameday"
"""The ConfigMap's mount: the scenario at ``/gameday/scenarios/<file>``."""
REPORTS = "/reports"
HISTORY_LIMIT = 3
"""Finished Jobs kept, succeeded and failed each (``*JobsHistoryLimit``)."""
ENVIRONMENT_MARGIN_S = 300
"""Added to jitter + ``guardrails.max_duration`` for the Job's ``activeDeadlineSeconds``."""
GRACE_S = 60
"""``terminationGracePeriodSeconds`` beyond the scenario's own wind-down: SIGTERM rolls the
drill back, steady-after waits up to ``observe.recovery_window``, the data probes read back,
the result is written, then the pod ends (``grace_s``)."""
CONFIGMAP_LIMIT = 1024 * 1024
_NAME_LIMIT = 52  # a CronJob's name is at most 52 characters: its Jobs append 11
_VALUE = r"(?:\d+|[A-Za-z]{3})"
_CRON_PART = re.compile(rf"^(?:\*|\?|{_VALUE}(?:-{_VALUE})?)(?:/\d+)?$")
_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
STORE_KEY = "GAMEDAY_STORE"
"""The Secret's key holding the store URL (``--store-secret``)."""
PASSWORD_KEY = "PGPASSWORD"
"""The Secret's optional key holding the password, when the URL leaves it out."""


@dataclass(frozen=True)
class _Manifest:
    name: str
    text: str


def kubernetes_cron(cron: str, where: str) -> str:
    """The 5-field schedule Kubernetes reads for ``cron``: a 6-field cron is accepted only
    with seconds ``0`` (dropped); croniter's extensions (L, W, #, H, weekday 7) are refused."""
    fields = cron.split()
    if len(fields) == 6:
        if fields[0] != "0":
            raise InvalidInputError(
                f"{where}: schedule.cron: {cron!r} fires on seconds {fields[0]!r}; a Kubernetes "
                "CronJob schedule has 5 fields (minute hour day month weekday)",
                hint="use seconds 0 (it is dropped on export) or a 5-field cron",
            )
        fields = fields[1:]
    for label, value in zip(_FIELDS, fields, strict=True):
        parts = value.split(",")
        numbers = [int(n) for part in parts for n in re.findall(r"\d+", part.split("/")[0])]
        late_weekday = label == "day of week" and any(n > 6 for n in numbers)
        if late_weekday or not all(_CRON_PART.match(part) for part in parts):
            raise InvalidInputError(
                f"{where}: schedule.cron: {cron!r}: the {label} field {value!r} is not "
                "standard cron syntax, which is all a Kubernetes CronJob reads",
                hint="use numbers, names (MON, JAN), *, ranges a-b, lists a,b and steps /n; "
                "weekdays 0-6 with 0 = Sunday",
            )
    return " ".join(fields)


def grace_s(scenario: Scenario) -> int:
    """Seconds between the pod's SIGTERM and its SIGKILL: ``GRACE_S`` plus what a drill
    stopped by a signal still does after its rollback (steady-after, the read-back)."""
    return math.ceil(GRACE_S + scenario.observe.recovery_window + scenario.read_back_s())


def _object_name(scenario: str) -> str:
    name = "gameday-" + re.sub(r"[^a-z0-9-]", "-", scenario)
    if len(name) > _NAME_LIMIT:
        digest = hashlib.sha256(scenario.encode()).hexdigest()[:6]
        name = f"{name[: _NAME_LIMIT - 7].rstrip('-')}-{digest}"
    return name.rstrip("-")


def _labels(scenario: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "gameday",
        "app.kubernetes.io/instance": scenario.rstrip("-_."),
        "app.kubernetes.io/component": "drill",
        "app.kubernetes.io/managed-by": "gameday",
    }


def _volume_items(scheduled: Scheduled) -> list[dict[str, str]]:
    items = [{"key": "scenario.yaml", "path": f"scenarios/{scheduled.path.name}"}]
    runbook = scheduled.plan.loaded.scenario.metadata.runbook
    if runbook is not None:
        inside = posixpath.normpath(posixpath.join(MOUNT, "scenarios", runbook))
        if not inside.startswith(MOUNT + "/"):
            raise InvalidInputError(
                f"{scheduled.path}: metadata.runbook: {runbook!r} lies outside the folder the "
                f"CronJob mounts ({MOUNT}), relative to {MOUNT}/scenarios",
                hint="keep the runbook within one folder above the scenario's",
            )
        items.append({"key": "runbook.md", "path": inside.removeprefix(MOUNT + "/")})
    return items


def _config_map(scheduled: Scheduled, name: str) -> dict[str, Any]:
    data = {"scenario.yaml": scheduled.path.read_text(encoding="utf-8")}
    runbook = scheduled.plan.loaded.scenario.metadata.runbook
    if runbook is not None:
        data["runbook.md"] = (scheduled.path.parent / runbook).read_text(encoding="utf-8")
    if sum(len(text.encode()) for text in data.values()) > CONFIGMAP_LIMIT:
        raise InvalidInputError(
            f"{scheduled.path}: the scenario and its runbook exceed a ConfigMap's 1 MiB",
            hint="shorten the runbook",
        )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": _labels(scheduled.name)},
        "data": data,
    }


def _store_env(store_secret: str | None) -> list[dict[str, Any]]:
    """The pod's history store: a file beside the reports, or the fleet's from a Secret."""
    if store_secret is None:
        return [{"name": "GAMEDAY_STORE", "value": f"{REPORTS}/history.db"}]
    return [
        {
            "name": "GAMEDAY_STORE",
            "valueFrom": {"secretKeyRef": {"name": store_secret, "key": STORE_KEY}},
        },
        {
            "name": "PGPASSWORD",
            "valueFrom": {
                "secretKeyRef": {"name": store_secret, "key": PASSWORD_KEY, "optional": True}
            },
        },
    ]


def _container(
    scheduled: Scheduled, image: str, pushgateway: str | None, store_secret: str | None
) -> dict[str, Any]:
    command = ["gameday", "run", f"{MOUNT}/scenarios/{scheduled.path.name}"]
    command += ["--report-dir", REPORTS]
    if pushgateway is not None:
        command += ["--pushgateway", pushgateway]
    return {
        "name": "drill",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "env": _store_env(store_secret),
        "volumeMounts": [
            {"name": "scenario", "mountPath": MOUNT, "readOnly": True},
            {"name": "reports", "mountPath": REPORTS},
        ],
    }


def _pod_spec(
    scheduled: Scheduled,
    name: str,
    settings: tuple[str, str | None, str | None, int, str | None],
) -> dict[str, Any]:
    image, pushgateway, pvc, _, store_secret = settings
    reports: dict[str, Any] = (
        {"persistentVolumeClaim": {"claimName": pvc}} if pvc else {"emptyDir": {}}
    )
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": grace_s(scheduled.plan.loaded.scenario),
        "containers": [_container(scheduled, image, pushgateway, store_secret)],
        "volumes": [
            {"name": "scenario", "configMap": {"name": name, "items": _volume_items(scheduled)}},
            {"name": "reports", **reports},
        ],
    }
    jitter_s = scheduled.timing.jitter_s
    if jitter_s > 0:
        sleep = f"import random, time; time.sleep(random.random() * {jitter_s:g})"
        spec["initContainers"] = [
            {"name": "jitter", "image": image, "command": ["python", "-c", sleep]}
        ]
    return spec


def _cron_job(
    scheduled: Scheduled,
    name: str,
    cron: str,
    settings: tuple[str, str | None, str | None, int, str | None],
) -> dict[str, Any]:
    starting_deadline_s = settings[3]
    rails = scheduled.plan.loaded.scenario.guardrails
    scenario = scheduled.plan.loaded.scenario
    drill_s = scheduled.timing.jitter_s + rails.max_duration + scenario.read_back_s()
    deadline_s = math.ceil(drill_s) + ENVIRONMENT_MARGIN_S
    annotations = {
        "gameday/scenario": scheduled.name,
        "gameday/source": str(scheduled.path),
        "gameday/cron": scheduled.schedule.cron,
        "gameday/jitter": format_duration(scheduled.timing.jitter_s),
    }
    pod = _pod_spec(scheduled, name, settings)
    job = {
        "backoffLimit": 0,
        "activeDeadlineSeconds": deadline_s,
        "template": {"metadata": {"labels": _labels(scheduled.name)}, "spec": pod},
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "labels": _labels(scheduled.name), "annotations": annotations},
        "spec": {
            "schedule": cron,
            "timeZone": scheduled.timing.timezone.key,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": starting_deadline_s,
            "successfulJobsHistoryLimit": HISTORY_LIMIT,
            "failedJobsHistoryLimit": HISTORY_LIMIT,
            "jobTemplate": {"metadata": {"labels": _labels(scheduled.name)}, "spec": job},
        },
    }


def _dump(documents: Sequence[dict[str, Any]], source: Path) -> str:
    for document in documents:
        if document["kind"] == "ConfigMap":
            document["data"] = {k: LiteralScalarString(v) for k, v in document["data"].items()}
    yaml = YAML(typ="rt")
    yaml.explicit_start = True
    yaml.width = 4096
    out = StringIO()
    out.write(f"# gameday schedule export --k8s, from {source}: kubectl apply -f this file\n")
    yaml.dump_all(documents, out)
    return out.getvalue()


def _refusals(scheduled: Scheduled) -> None:
    if scheduled.timing.blackouts:
        shown = "; ".join(b.describe() for b in scheduled.timing.blackouts)
        raise InvalidInputError(
            f"{scheduled.path}: schedule.blackout: Kubernetes CronJobs cannot skip a blackout "
            f"window ({shown})",
            hint="remove the windows for the export, or suspend the CronJob during them "
            '(kubectl patch cronjob NAME -p \'{"spec": {"suspend": true}}\')',
        )


def export_k8s(
    directory: Path,
    out: Path,
    image: str | None = None,
    pushgateway: str | None = None,
    *,
    reports_pvc: str | None = None,
    starting_deadline_s: int = int(STARTING_DEADLINE_S),
    store_secret: str | None = None,
) -> list[Path]:
    """Write ``OUT/<cronjob-name>.yaml`` (ConfigMap + CronJob) per scheduled scenario under
    ``directory``; the paths written. Image default ``gameday:<version>``; reports (and the
    history store) on an emptyDir, or the PersistentVolumeClaim ``reports_pvc``; the history
    in the fleet's store named by the Secret ``store_secret`` (keys ``GAMEDAY_STORE`` and,
    optionally, ``PGPASSWORD``) when given."""
    if pushgateway is not None and not pushgateway.startswith(("http://", "https://")):
        raise InvalidInputError(
            f"--pushgateway: {pushgateway!r} is not an http(s) URL",
            hint="give http://pushgateway.monitoring:9091",
        )
    if store_secret is not None and (
        len(store_secret) > 253 or not _DNS_SUBDOMAIN.match(store_secret)
    ):
        raise InvalidInputError(
            f"--store-secret: {store_secret!r} is not a Kubernetes Secret name",
            hint="lower-case letters, digits, '-' and '.', at most 253: gameday-store",
        )
    catalog = read_catalog(directory)
    problems = [p for found in catalog.problems.values() for p in found]
    if problems:
        raise ScenarioError(problems, hint="nothing was written")
    if not catalog.scheduled:
        raise InvalidInputError(
            f"no scheduled scenarios in {directory}", hint="add a schedule: block to a scenario"
        )
    settings = (
        image or f"gameday:{__version__}",
        pushgateway,
        reports_pvc,
        starting_deadline_s,
        store_secret,
    )
    manifests: list[_Manifest] = []
    for scheduled in catalog.scheduled:
        _refusals(scheduled)
        name = _object_name(scheduled.name)
        cron = kubernetes_cron(scheduled.schedule.cron, str(scheduled.path))
        documents = [
            _config_map(scheduled, name),
            _cron_job(scheduled, name, cron, settings),
        ]
        manifests.append(_Manifest(name, _dump(documents, scheduled.path)))
    names = [m.name for m in manifests]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise InvalidInputError(
            f"scenario names map to the same Kubernetes name: {', '.join(clash)}",
            hint="Kubernetes names use a-z, 0-9 and '-': rename one of the scenarios",
        )
    return _write(manifests, out)


def _write(manifests: Sequence[_Manifest], out: Path) -> list[Path]:
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for manifest in manifests:
            path = out / f"{manifest.name}.yaml"
            path.write_text(manifest.text, encoding="utf-8")
            written.append(path)
    except OSError as error:
        raise InvalidInputError(
            f"{out}: cannot write the manifests: {error.strerror or error}",
            hint="give a writable folder with --out",
        ) from None
    return written
