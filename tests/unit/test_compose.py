"""compose.yaml and the Dockerfile, checked without a Docker engine: against the Compose
Specification's JSON schema, and against the code they start (flags, modules, variables,
ports). The default services need no account and no secret (issue 16); LocalStack, which
does, is the opt-in profile ``localstack``."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from ruamel.yaml import YAML

from gameday.listen import is_loopback

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
SCHEMA = ROOT.parent / "shared" / "schemas" / "compose-spec.json"
CONSTRAINTS = ROOT / "ci" / "localstack-constraints.txt"
DEMO_CONFIG = ROOT / "gameday" / "demo" / "config.py"
MOTO_EDGE = ROOT / "tests" / "fixtures" / "moto_edge.py"
LOCALSTACK_DOC = ROOT / "docs" / "localstack.md"

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>[^}]*)\}")
"""A compose interpolation: ``${NAME}``, ``${NAME:-default}``, ``${NAME:?message}``..."""


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = YAML(typ="safe").load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    service = compose["services"][name]
    assert isinstance(service, dict)
    return service


def _default_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What a plain ``docker compose up`` starts: the services in no profile."""
    return {name: s for name, s in compose["services"].items() if not s.get("profiles")}


def _flag(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


def _published(service: dict[str, Any]) -> dict[int, str]:
    """container port -> the host address it is published on ("127.0.0.1:4566")."""
    published = {}
    for mapping in service.get("ports", []):
        host_ip, host_port, container_port = mapping.split(":")
        published[int(container_port)] = f"{host_ip}:{host_port}"
    return published


def _health_url(service: dict[str, Any]) -> str:
    test = " ".join(service["healthcheck"]["test"])
    found = re.search(r"http://[^\s'\"]+", test)
    assert found, f"no URL in the health check {test!r}"
    return found.group(0)


def _depends_on(service: dict[str, Any]) -> set[str]:
    return set(service.get("depends_on", ()))


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


def test_default_services_are_the_free_emulator_gateway_and_demo(
    compose: dict[str, Any],
) -> None:
    assert set(_default_services(compose)) == {"moto", "setup", "gateway", "demo"}
    assert _service(compose, "localstack")["profiles"] == ["localstack"]
    # `docker compose up` never pulls a profile's service in through a dependency.
    default = _default_services(compose)
    for name, service in default.items():
        assert _depends_on(service) <= set(default), f"{name} depends on a profile's service"


def test_default_services_need_no_account_or_secret(compose: dict[str, Any]) -> None:
    """Issue 16: someone with Docker and no account can start the default services."""
    for name, service in _default_services(compose).items():
        text = json.dumps(service)
        for found in _VARIABLE.finditer(text):
            variable, rest = found.group("name"), found.group("rest")
            assert not variable.startswith("LOCALSTACK"), f"{name} reads {variable}"
            # Every variable is optional: unset, it takes its (empty) default.
            assert rest.startswith((":-", "-")), f"{name} requires ${{{variable}}}"
        env = service.get("environment", {})
        for variable, value in env.items():
            if variable.startswith("AWS_") and re.search("KEY|SECRET|TOKEN", variable):
                assert value == "testing", f"{name}: {variable} is not the emulator's dummy value"
    assert "LOCALSTACK_AUTH_TOKEN" not in json.dumps(_default_services(compose))


def test_no_variable_is_required_anywhere(compose: dict[str, Any]) -> None:
    """Compose resolves the variables of every service before it applies profiles: one
    ``${X:?message}`` in the localstack profile would stop ``docker compose up`` for anyone
    without X, the free services included."""
    required = [
        found.group(0)
        for found in _VARIABLE.finditer(json.dumps(compose))
        if found.group("rest").startswith((":?", "?"))
    ]
    assert required == []


def test_localstack_token_is_passed_through_from_the_environment(
    compose: dict[str, Any],
) -> None:
    env = _service(compose, "localstack")["environment"]
    found = _VARIABLE.fullmatch(env["LOCALSTACK_AUTH_TOKEN"])
    assert found and found.group("name") == "LOCALSTACK_AUTH_TOKEN"


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


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_moto_image_is_the_release_gameday_embeds(compose: dict[str, Any]) -> None:
    name, _, tag = _service(compose, "moto")["image"].partition(":")
    assert name == "motoserver/moto"
    assert tag == importlib.metadata.version("moto"), "the image and .venv's moto differ"
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bound = next(d for d in dependencies["dependencies"] if d.startswith("moto"))
    assert _release(tag) >= _release(bound.partition(">=")[2]), f"{tag} is below {bound}"


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


def test_gateway_beyond_loopback_says_how_it_is_protected(compose: dict[str, Any]) -> None:
    """``gameday gateway`` refuses a non-loopback listen with no token unless told
    ``--allow-unauthenticated`` (the token variable is empty by default here)."""
    command = _service(compose, "gateway")["command"]
    host = _flag(command, "--listen").rpartition(":")[0]
    assert not is_loopback(host)
    assert "--allow-unauthenticated" in command or "--token" in command


def test_gateway_points_at_the_moto_service(compose: dict[str, Any]) -> None:
    gateway = _service(compose, "gateway")
    upstream = urlsplit(_flag(gateway["command"], "--upstream"))
    assert upstream.hostname == "moto"
    assert upstream.port == urlsplit(_health_url(_service(compose, "moto"))).port
    assert "moto" in _depends_on(gateway)


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
    assert 4566 in _published(_service(compose, "localstack"))


def test_gateway_health_check_carries_the_token_when_one_is_set(
    compose: dict[str, Any],
) -> None:
    """With GAMEDAY_GATEWAY_TOKEN set, /_gameday/health answers 401 without it, and the demo
    (which waits for a healthy gateway) would never start."""
    test = " ".join(_service(compose, "gateway")["healthcheck"]["test"])
    assert "GAMEDAY_GATEWAY_TOKEN" in test and "Bearer" in test


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
    assert {"gateway", "setup"} <= _depends_on(_service(compose, "demo"))


def test_demo_variables_are_ones_the_demo_reads(compose: dict[str, Any]) -> None:
    from moto.core.models import DEFAULT_ACCOUNT_ID

    from gameday.demo.config import DemoConfig

    env = {k: str(v) for k, v in _service(compose, "demo")["environment"].items()}
    read = set(re.findall(r'"(GAMEDAY_DEMO_[A-Z_]+)"', DEMO_CONFIG.read_text()))
    used = {name for name in env if name.startswith("GAMEDAY_DEMO_")}
    assert used and used <= read, f"not read by gameday/demo/config.py: {used - read}"
    config = DemoConfig.from_env(env)
    assert config.home_region == "us-east-1"
    # moto files everything the dummy keys do under its default account.
    assert config.role_arn.split(":")[4] == DEFAULT_ACCOUNT_ID


@pytest.fixture
def moto_process() -> Iterator[str]:
    """moto's server in a process of its own (its state is per process: what setup creates
    here never reaches the moto of this test session)."""
    process = subprocess.Popen([sys.executable, str(MOTO_EDGE)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), f"moto did not start: {url!r}"
        yield url
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _setup_argv(compose: dict[str, Any], moto_url: str) -> list[str]:
    """The setup service's command as this machine runs it: this Python, the repository's
    folders in place of their mounts, ``moto_url`` in place of the moto service."""
    setup = _service(compose, "setup")
    mounts = {}
    for volume in setup["volumes"]:
        source, target, mode = volume.split(":")
        assert mode == "ro"
        mounts[target] = str((ROOT / source).resolve())
    upstream = _flag(_service(compose, "gateway")["command"], "--upstream")
    words = []
    for word in setup["command"]:
        local = word.replace(upstream, moto_url)
        for target, source in mounts.items():
            local = local.replace(target, source)
        words.append(local)
    assert setup["entrypoint"][0] == "python"
    return [sys.executable, *setup["entrypoint"][1:], *words]


def test_setup_creates_what_the_demo_needs_in_moto(
    compose: dict[str, Any], moto_process: str
) -> None:
    """The setup service's own command, run against a real moto server: the demo's role,
    table, log group and image exist afterwards, in the account of the dummy keys."""
    import boto3

    from gameday.demo.config import DemoConfig

    shown = subprocess.run(
        _setup_argv(compose, moto_process),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "setup resource(s) created" in shown.stdout
    config = DemoConfig.from_env(
        {k: str(v) for k, v in _service(compose, "demo")["environment"].items()}
    )

    # The stubs type `client` per literal service name.
    make_client: Callable[..., Any] = boto3.client

    def client(service: str) -> Any:
        return make_client(
            service,
            endpoint_url=moto_process,
            region_name=config.home_region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    assert client("dynamodb").describe_table(TableName=config.table)["Table"]
    groups = client("logs").describe_log_groups(logGroupNamePrefix=config.log_group)
    assert [g["logGroupName"] for g in groups["logGroups"]] == [config.log_group]
    images = client("ecr").describe_images(repositoryName=config.repository)["imageDetails"]
    assert config.image_tag in {tag for image in images for tag in image.get("imageTags", [])}
    role = client("iam").get_role(RoleName=config.role_arn.rsplit("/", 1)[1])["Role"]
    assert role["Arn"] == config.role_arn


def test_services_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    gateway = _service(compose, "gateway")
    assert gateway["build"] == "."
    assert (ROOT / gateway["build"] / "Dockerfile").is_file()
    for name in ("demo", "setup"):
        assert _service(compose, name)["image"] == gateway["image"]


def test_docs_name_the_images_compose_pins(compose: dict[str, Any]) -> None:
    text = LOCALSTACK_DOC.read_text()
    for name in ("moto", "localstack"):
        image = _service(compose, name)["image"]
        assert f"`{image}`" in text, f"docs/localstack.md does not name {image}"
    assert "LOCALSTACK_AUTH_TOKEN" in text


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
    # The setup service mounts the scenarios into this user's home.
    home = next(line for line in reversed(instructions) if line.startswith("WORKDIR "))
    assert home == f"WORKDIR /home/{users[-1]}"
