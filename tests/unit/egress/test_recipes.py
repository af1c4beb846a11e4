"""The deployment recipes in docs/recipes/, checked by the tools that will read them: botocore's
own validator and ECS model, the Kubernetes JSON schemas (kubernetes-validate) and kubectl's
strategic merge, ``systemd-analyze verify``; and their health checks run against a real
``gameday egress``. Each checker is also shown to reject a misspelled field."""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from ruamel.yaml import YAML

from gameday.egress.ca import BUNDLE_NAME
from gameday.egress.truststore import TRUSTSTORE_NAME, java_tool_options

RECIPES = Path(__file__).parents[3] / "docs" / "recipes"
ECS = RECIPES / "ecs-task-definition.json"
K8S = RECIPES / "k8s-sidecar-patch.yaml"
UNIT = RECIPES / "systemd" / "gameday-egress.service"
DROP_IN = RECIPES / "systemd" / "app-drop-in.conf"
PORT = 4580
NO_PROXY = "169.254.169.254,169.254.170.2,169.254.170.23"
SIDECAR_ARGS = ["egress", "--listen", f"127.0.0.1:{PORT}", "--ca-dir"]


def _app_env(ca_dir: str) -> dict[str, str]:
    """What every recipe must give the app (docs/recipes/README.md)."""
    bundle = f"{ca_dir}/{BUNDLE_NAME}"
    return {
        "HTTPS_PROXY": f"http://127.0.0.1:{PORT}",
        "AWS_CA_BUNDLE": bundle,
        "NODE_EXTRA_CA_CERTS": bundle,
        "JAVA_TOOL_OPTIONS": java_tool_options(Path(ca_dir) / TRUSTSTORE_NAME, "127.0.0.1", PORT),
        "NO_PROXY": NO_PROXY,
    }


def _env(entries: list[dict[str, Any]]) -> dict[str, str]:
    return {entry["name"]: entry["value"] for entry in entries}


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def _ecs_errors(params: dict[str, Any]) -> str:
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    assert shape is not None
    report = ParamValidator().validate(params, shape)
    return str(report.generate_report()) if report.has_errors() else ""


def _ecs_health_script(task: dict[str, Any]) -> str:
    command = _by_name(task["containerDefinitions"])["gameday-egress"]["healthCheck"]["command"]
    assert command[:3] == ["CMD", "python", "-c"]
    return str(command[3])


def test_the_ecs_task_definition_is_valid_register_task_definition_input() -> None:
    task = json.loads(ECS.read_text())
    assert _ecs_errors(task) == ""

    misspelled = copy.deepcopy(task)
    misspelled["containerDefinitions"][2]["dependOn"] = misspelled["containerDefinitions"][2].pop(
        "dependsOn"
    )
    assert 'Unknown parameter in containerDefinitions[2]: "dependOn"' in _ecs_errors(misspelled)


def test_the_ecs_sidecar_shares_loopback_and_a_read_only_ca_and_starts_first() -> None:
    task = json.loads(ECS.read_text())
    containers = _by_name(task["containerDefinitions"])
    owner, sidecar, app = (
        containers["gameday-ca-owner"],
        containers["gameday-egress"],
        containers["app"],
    )

    assert task["networkMode"] == "awsvpc"
    assert task["volumes"] == [{"name": "gameday-ca"}]  # a task bind volume, no host path
    assert sidecar["command"] == [*SIDECAR_ARGS, "/gameday-ca"]
    assert sidecar["mountPoints"] == [
        {"sourceVolume": "gameday-ca", "containerPath": "/gameday-ca", "readOnly": False}
    ]
    assert app["mountPoints"] == [
        {"sourceVolume": "gameday-ca", "containerPath": "/gameday-ca", "readOnly": True}
    ]
    assert app["dependsOn"] == [{"containerName": "gameday-egress", "condition": "HEALTHY"}]
    assert sidecar["healthCheck"]["startPeriod"] > 0
    assert _env(app["environment"]) == _app_env("/gameday-ca")
    # The token from Secrets Manager, never in the task definition's plain environment.
    assert [s["name"] for s in sidecar["secrets"]] == ["GAMEDAY_GATEWAY_TOKEN"]
    assert "environment" not in sidecar
    # Fargate bind volumes start root-owned 0755: a one-shot root container hands it over.
    assert owner["essential"] is False and owner["user"] == "0"
    assert owner["entryPoint"] == ["chown", "10001:10001", "/gameday-ca"]
    assert sidecar["dependsOn"] == [{"containerName": "gameday-ca-owner", "condition": "SUCCESS"}]


_BASE_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "my-app"},
    "spec": {
        "selector": {"matchLabels": {"app": "my-app"}},
        "template": {
            "metadata": {"labels": {"app": "my-app"}},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "my-app:1",
                        "env": [{"name": "LOG_LEVEL", "value": "info"}],
                        "volumeMounts": [{"name": "config", "mountPath": "/etc/my-app"}],
                    }
                ],
                "volumes": [{"name": "config", "configMap": {"name": "my-app"}}],
            },
        },
    },
}
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
}
"""The patchMergeKey of each list the patch touches (k8s.io/api core/v1 types.go)."""


def _strategic_merge(base: Any, patch: Any, field: str = "") -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _strategic_merge(base[key], value, key) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(patch, list) and field in _MERGE_KEYS:
        key = _MERGE_KEYS[field]
        items = list(base)
        for item in patch:
            at = next((i for i, old in enumerate(items) if old[key] == item[key]), None)
            if at is None:
                items.append(item)
            else:
                items[at] = _strategic_merge(items[at], item)
        return items
    return patch


@pytest.fixture
def kubernetes_validate() -> ModuleType:
    module: ModuleType = pytest.importorskip(
        "kubernetes_validate", reason="needs kubernetes-validate (the Kubernetes JSON schemas)"
    )
    return module


def _patch() -> Any:
    return YAML(typ="safe").load(K8S.read_text())


def _check_deployment(deployment: dict[str, Any], validator: ModuleType) -> None:
    # 1.29: the first release with native sidecars on by default (restartPolicy: Always).
    for version in ("1.29.0", validator.latest_version()):
        validator.validate(deployment, version, strict=True)
    spec = deployment["spec"]["template"]["spec"]
    sidecar = _by_name(spec["initContainers"])["gameday-egress"]
    app = _by_name(spec["containers"])["app"]
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["args"] == [*SIDECAR_ARGS, "/gameday-ca"]
    assert sidecar["env"] == [
        {
            "name": "GAMEDAY_GATEWAY_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "gameday-egress", "key": "token"}},
        }
    ]
    for probe in ("startupProbe", "readinessProbe"):
        assert sidecar[probe]["exec"]["command"][:2] == ["python", "-c"], probe
    assert sidecar["volumeMounts"] == [{"name": "gameday-ca", "mountPath": "/gameday-ca"}]
    assert "emptyDir" in _by_name(spec["volumes"])["gameday-ca"]
    assert "config" in _by_name(spec["volumes"])  # the app's own volume survives the patch
    assert {"name": "gameday-ca", "mountPath": "/gameday-ca", "readOnly": True} in app[
        "volumeMounts"
    ]
    assert _env(app["env"]) == {"LOG_LEVEL": "info", **_app_env("/gameday-ca")}
    assert app["image"] == "my-app:1"


def test_the_kubernetes_patch_makes_a_valid_deployment_with_a_native_sidecar(
    kubernetes_validate: ModuleType,
) -> None:
    _check_deployment(_strategic_merge(_BASE_DEPLOYMENT, _patch()), kubernetes_validate)

    misspelled = _patch()
    sidecar = misspelled["spec"]["template"]["spec"]["initContainers"][0]
    sidecar["restartPolicyy"] = sidecar.pop("restartPolicy")
    with pytest.raises(
        kubernetes_validate.ValidationError, match="'restartPolicyy' was unexpected"
    ):
        kubernetes_validate.validate(
            _strategic_merge(_BASE_DEPLOYMENT, misspelled), "1.29.0", strict=True
        )


def test_kubectl_applies_the_patch_as_this_test_merges_it(
    kubernetes_validate: ModuleType, tmp_path: Path
) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("needs kubectl (used offline, --local)")
    base = tmp_path / "deployment.json"
    base.write_text(json.dumps(_BASE_DEPLOYMENT))
    argv = [kubectl, "patch", "--local", "-f", str(base), "--type", "strategic"]
    done = subprocess.run(
        [*argv, "--patch-file", str(K8S), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "KUBECONFIG": str(tmp_path / "no-kubeconfig")},
    )
    assert done.returncode == 0, done.stderr
    _check_deployment(json.loads(done.stdout), kubernetes_validate)


def test_the_kubernetes_probes_and_the_ecs_health_check_run_one_script() -> None:
    spec = _patch()["spec"]["template"]["spec"]
    sidecar = _by_name(spec["initContainers"])["gameday-egress"]
    script = _ecs_health_script(json.loads(ECS.read_text()))
    for probe in ("startupProbe", "readinessProbe"):
        assert sidecar[probe]["exec"]["command"] == ["python", "-c", script]


_APP_UNIT = "[Unit]\nDescription=the app\n\n[Service]\nExecStart=/usr/local/bin/my-app\n"
_EXEC = re.compile(r"^Exec\w+=[-@:+!]*(\S+)", re.MULTILINE)


def _systemd_root(base: Path, unit: str, drop_in: str) -> Path:
    """A filesystem root with the distribution's units, ours, and a stand-in executable for
    each command the units name (verify checks each is executable, under --root)."""
    root = base / "root"
    system = root / "etc" / "systemd" / "system"
    (system / "my-app.service.d").mkdir(parents=True)
    shutil.copytree(
        "/usr/lib/systemd/system", root / "usr" / "lib" / "systemd" / "system", symlinks=True
    )
    (system / "gameday-egress.service").write_text(unit)
    (system / "my-app.service").write_text(_APP_UNIT)
    (system / "my-app.service.d" / "gameday-egress.conf").write_text(drop_in)
    for command in _EXEC.findall(unit + _APP_UNIT + drop_in):
        stand_in = root / command.lstrip("/")
        stand_in.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy("/usr/bin/true", stand_in)
    return root


def _verify(base: Path, unit: str, drop_in: str) -> str:
    """What ``systemd-analyze verify`` says about both units: empty when they are clean. An
    unknown directive is only a warning (exit 0), so any output counts."""
    root = _systemd_root(base, unit, drop_in)
    units = ["/etc/systemd/system/gameday-egress.service", "/etc/systemd/system/my-app.service"]
    done = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "--man=no", *units],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return (
        f"exit {done.returncode}\n{done.stdout}{done.stderr}"
        if done.returncode
        else (done.stdout + done.stderr)
    )


@pytest.fixture
def systemd_analyze() -> Iterator[None]:
    if shutil.which("systemd-analyze") is None or not Path("/usr/lib/systemd/system").is_dir():
        pytest.skip("needs systemd-analyze and the distribution's units")
    yield


@pytest.mark.usefixtures("systemd_analyze")
def test_the_systemd_units_verify_clean(tmp_path: Path) -> None:
    assert _verify(tmp_path, UNIT.read_text(), DROP_IN.read_text()) == ""


@pytest.mark.usefixtures("systemd_analyze")
def test_systemd_analyze_reports_a_misspelled_directive(tmp_path: Path) -> None:
    unit = UNIT.read_text().replace("Restart=", "Restrt=")
    drop_in = DROP_IN.read_text().replace("PartOf=", "PartOff=")
    said = _verify(tmp_path, unit, drop_in)
    assert "Unknown key 'Restrt' in section [Service]" in said
    assert "Unknown key 'PartOff' in section [Unit]" in said


def _directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_the_systemd_units_give_the_app_the_proxy_and_order_it_after() -> None:
    unit, drop_in = _directives(UNIT.read_text()), _directives(DROP_IN.read_text())
    exec_start = shlex.split(unit["ExecStart"][0])
    assert exec_start[1:] == [*SIDECAR_ARGS, "/run/gameday-egress"]
    assert unit["RuntimeDirectory"] == ["gameday-egress"]
    assert unit["RuntimeDirectoryMode"] == ["0755"]
    for key in ("Requires", "After", "PartOf"):
        assert drop_in[key] == ["gameday-egress.service"], key
    pairs = [shlex.split(value)[0].partition("=") for value in drop_in["Environment"]]
    assert {name: value for name, _, value in pairs} == _app_env("/run/gameday-egress")


@pytest.fixture(scope="module")
def proxy_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    ca_dir = tmp_path_factory.mktemp("recipes") / "ca"
    argv = [sys.executable, "-m", "gameday", "egress", "--listen", "127.0.0.1:0"]
    env = {**os.environ, "GAMEDAY_GATEWAY_TOKEN": "the-token"}
    proxy = subprocess.Popen(
        [*argv, "--ca-dir", str(ca_dir)], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert proxy.stdout is not None
        line = proxy.stdout.readline()
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+);", line)
        assert found, line
        yield int(found.group(1))
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        if proxy.stdout is not None:
            proxy.stdout.close()


def _run(command: list[str], port: int, token: str) -> subprocess.CompletedProcess[str]:
    # The recipes name the default port; the test's proxy took a free one.
    command = [part.replace(f"127.0.0.1:{PORT}", f"127.0.0.1:{port}") for part in command]
    env = {**os.environ, "GAMEDAY_GATEWAY_TOKEN": token}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_the_container_health_check_passes_only_with_the_token(proxy_port: int) -> None:
    script = _ecs_health_script(json.loads(ECS.read_text()))
    assert _run([sys.executable, "-c", script], proxy_port, "the-token").returncode == 0
    refused = _run([sys.executable, "-c", script], proxy_port, "wrong")
    assert refused.returncode == 1
    assert "HTTP Error 401" in refused.stderr


def test_the_systemd_readiness_wait_passes_only_with_the_token(proxy_port: int) -> None:
    command = shlex.split(_directives(UNIT.read_text())["ExecStartPost"][0])
    assert command[0] == "/opt/gameday/bin/python"
    command[0] = sys.executable
    assert _run(command, proxy_port, "the-token").returncode == 0
    refused = _run(command, proxy_port, "wrong")
    assert refused.returncode == 1
    assert "missing or wrong bearer token" in refused.stderr
