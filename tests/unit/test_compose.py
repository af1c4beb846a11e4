"""compose.yaml and the Dockerfile, checked without a Docker engine: against the Compose
Specification's JSON schema, and against the code they start (flags, modules, variables,
ports)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
SCHEMA = ROOT.parent / "shared" / "schemas" / "compose-spec.json"
CONSTRAINTS = ROOT / "ci" / "localstack-constraints.txt"
DEMO_CONFIG = ROOT / "gameday" / "demo" / "config.py"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = YAML(typ="safe").load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    service = compose["services"][name]
    assert isinstance(service, dict)
    return service


def _flag(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


def _published(service: dict[str, Any]) -> dict[int, str]:
    """container port -> the host address it is published on ("127.0.0.1:4566")."""
    published = {}
    for mapping in service["ports"]:
        host_ip, host_port, container_port = mapping.split(":")
        published[int(container_port)] = f"{host_ip}:{host_port}"
    return published


def _health_url(service: dict[str, Any]) -> str:
    test = " ".join(service["healthcheck"]["test"])
    found = re.search(r"http://[^\s'\"]+", test)
    assert found, f"no URL in the health check {test!r}"
    return found.group(0)


def test_compose_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    if not SCHEMA.exists():
        pytest.skip(f"the Compose Specification's schema is not at {SCHEMA} (shared/ absent)")
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    problems = [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in validator.iter_errors(compose)
    ]
    assert problems == []


def test_localstack_image_is_pinned_to_the_release_ci_runs(compose: dict[str, Any]) -> None:
    image = _service(compose, "localstack")["image"]
    name, _, tag = image.partition(":")
    assert name == "localstack/localstack"
    assert tag and tag != "latest" and not tag.startswith("sha256")
    pinned = re.search(r"^localstack-core==(\S+)$", CONSTRAINTS.read_text(), re.MULTILINE)
    assert pinned, f"{CONSTRAINTS} pins no localstack-core release"
    # The image tags of calendar versions are zero-padded (2026.03.0), PyPI's are not.
    assert [int(part) for part in tag.split(".")] == [
        int(part) for part in pinned.group(1).split(".")
    ]


def test_every_port_is_published_on_loopback_only(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for address in _published(service).values():
            assert address.startswith("127.0.0.1:"), f"{name} publishes {address}"


def test_gateway_command_uses_flags_the_cli_has(compose: dict[str, Any]) -> None:
    import typer.core
    import typer.main

    from gameday.cli import app

    command = _service(compose, "gateway")["command"]
    assert command[0] == "gateway"
    cli = typer.main.get_command(app)
    assert isinstance(cli, typer.core.TyperGroup)
    gateway = cli.commands["gateway"]
    known = {option for param in gateway.params for option in param.opts}
    flags = [word for word in command[1:] if word.startswith("--")]
    assert flags and set(flags) <= known, f"unknown flags: {set(flags) - known}"


def test_gateway_points_at_the_localstack_service(compose: dict[str, Any]) -> None:
    gateway = _service(compose, "gateway")
    upstream = urlsplit(_flag(gateway["command"], "--upstream"))
    assert upstream.hostname == "localstack"
    assert upstream.port in _published(_service(compose, "localstack"))
    assert "localstack" in gateway["depends_on"]


def test_listen_addresses_match_published_ports_and_health_checks(
    compose: dict[str, Any],
) -> None:
    for name, argv in (
        ("gateway", _service(compose, "gateway")["command"]),
        ("demo", _service(compose, "demo")["command"]),
    ):
        service = _service(compose, name)
        listen = _flag(argv, "--listen")
        # Inside a container, loopback would not be reachable through the published port.
        assert listen.startswith("0.0.0.0:"), f"{name} listens on {listen}"
        assert _port(listen) in _published(service), f"{name}: {listen} is not published"
        assert urlsplit(_health_url(service)).port == _port(listen)
    assert urlsplit(_health_url(_service(compose, "localstack"))).port == 4566


def test_demo_module_and_flags_exist(compose: dict[str, Any]) -> None:
    demo = _service(compose, "demo")
    assert demo["entrypoint"] == ["python", "-m", "gameday.demo"]
    shown = subprocess.run(
        [sys.executable, "-m", "gameday.demo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for flag in (word for word in demo["command"] if word.startswith("--")):
        assert flag in shown, f"python -m gameday.demo has no {flag}"


def test_demo_reaches_aws_through_the_gateway(compose: dict[str, Any]) -> None:
    env = _service(compose, "demo")["environment"]
    endpoint = urlsplit(env["AWS_ENDPOINT_URL"])
    assert endpoint.hostname == "gateway"
    assert endpoint.port == _port(_flag(_service(compose, "gateway")["command"], "--listen"))
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert "gateway" in _service(compose, "demo")["depends_on"]


def test_demo_variables_are_ones_the_demo_reads(compose: dict[str, Any]) -> None:
    from gameday.demo.config import DemoConfig

    env = {k: str(v) for k, v in _service(compose, "demo")["environment"].items()}
    read = set(re.findall(r'"(GAMEDAY_DEMO_[A-Z_]+)"', DEMO_CONFIG.read_text()))
    used = {name for name in env if name.startswith("GAMEDAY_DEMO_")}
    assert used and used <= read, f"not read by gameday/demo/config.py: {used - read}"
    config = DemoConfig.from_env(env)
    assert config.home_region == "us-east-1"
    assert config.role_arn.split(":")[4] == "000000000000"


def test_demo_resources_are_created_in_localstack(compose: dict[str, Any]) -> None:
    from gameday.demo.config import DemoConfig

    script = compose["configs"]["localstack-ready"]["content"]
    config = DemoConfig.from_env(
        {k: str(v) for k, v in _service(compose, "demo")["environment"].items()}
    )
    assert f"--table-name {config.table}" in script
    assert f"--log-group-name {config.log_group}" in script
    assert f"--role-name {config.role_arn.rsplit('/', 1)[1]}" in script
    mounted = _service(compose, "localstack")["configs"][0]
    assert mounted["source"] == "localstack-ready"
    assert mounted["target"].startswith("/etc/localstack/init/ready.d/")


def test_services_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    gateway, demo = _service(compose, "gateway"), _service(compose, "demo")
    assert gateway["build"] == "."
    assert (ROOT / gateway["build"] / "Dockerfile").is_file()
    assert demo["image"] == gateway["image"]


def test_dockerfile_runs_the_console_script_as_a_user() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    entrypoint = next(line for line in instructions if line.startswith("ENTRYPOINT "))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert json.loads(entrypoint.removeprefix("ENTRYPOINT ")) == ["gameday"]
    assert scripts["gameday"] == "gameday.cli:main"
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("RUN pip install .") for line in instructions)
