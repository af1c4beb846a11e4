"""The isolated environment of embedded and localstack drills (issue 14, DESIGN.md
"Isolation"): the allow-list, the SDKs' shared files, and what botocore makes of them."""

from __future__ import annotations

import configparser
import stat
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import botocore.session
import pytest

from gameday.environments.isolation import (
    LOOPBACK,
    PROXY_VARIABLES,
    Isolation,
    allowed_environment,
    isolate,
)
from gameday.environments.stage import DUMMY_KEYS, PROBE_KEYS
from gameday.errors import ScenarioError
from gameday.scenario.loader import parse_scenario

GATEWAY = "http://127.0.0.1:4599"
RUNNER = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TZ": "UTC",
    "PYTHONPATH": "/src",
    "SSL_CERT_FILE": "/etc/ssl/cert.pem",
    "HOME": "/home/runner",
    "TMPDIR": "/tmp/runner",
    "AWS_ACCESS_KEY_ID": "AKIACANARY",
    "AWS_SECRET_ACCESS_KEY": "canary",
    "AWS_SESSION_TOKEN": "canary",
    "AWS_PROFILE": "prod",
    "AWS_CONFIG_FILE": "/home/runner/.aws/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/home/runner/.aws/credentials",
    "AWS_ENDPOINT_URL": "https://canary.invalid",
    "AWS_ENDPOINT_URL_STS": "https://canary.invalid",
    "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.2/x",
    "GAMEDAY_GATEWAY_TOKEN": "canary",
    "GAMEDAY_MARKS_TOKEN": "canary",
    "GITHUB_TOKEN": "canary",
    "DATABASE_PASSWORD": "canary",
    "HTTPS_PROXY": "http://corp-proxy:3128",
    "NO_PROXY": "corp.example",
}

TEMPLATE = """\
apiVersion: gameday/v1
metadata: {{name: profiles}}
target:
  regions: [eu-west-1]
  app:
    command: [app]
    health_url: 'http://127.0.0.1:{{port}}/health'
    env: {env}
    aws_profiles: {profiles}
faults:
  - {{kind: identity-loss, duration: 1s}}
probes:
  - {{name: api, kind: http, url: '{{app}}/health'}}
objectives:
  - {{kind: steady, probe: api}}
"""
PROFILES = (
    "{app: {role_arn: 'arn:aws:iam::123456789012:role/app', source_profile: base,"
    " role_session_name: app-session, duration_seconds: 900},"
    " base: {}, us: {region: us-west-2}}"
)
SCENARIO = TEMPLATE.format(env="{AWS_PROFILE: app}", profiles=PROFILES)


def test_the_allow_list_keeps_how_to_run_and_drops_every_identity_and_secret() -> None:
    kept = allowed_environment(RUNNER)
    assert kept == {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "PYTHONPATH": "/src",
        "SSL_CERT_FILE": "/etc/ssl/cert.pem",
    }


@pytest.fixture
def isolated(tmp_path: Path) -> Iterator[Isolation]:
    scenario = parse_scenario(tmp_path / "s.yaml", SCENARIO)
    with ExitStack() as stack:
        yield isolate(
            scenario,
            tmp_path,
            endpoint_url=GATEWAY,
            stack=stack,
            now=time.monotonic,
            environ=RUNNER,
        )


def test_the_app_gets_the_runs_home_files_and_proxy_and_nothing_of_the_runners(
    isolated: Isolation, tmp_path: Path
) -> None:
    env = isolated.app_environment(alert_url="http://127.0.0.1:1/alerts")
    assert env["HOME"] == str(tmp_path / "home")
    assert env["TMPDIR"] == str(tmp_path)
    assert env["AWS_CONFIG_FILE"] == str(tmp_path / "home" / ".aws" / "config")
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == str(tmp_path / "home" / ".aws" / "credentials")
    assert env["AWS_ENDPOINT_URL"] == GATEWAY
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["GAMEDAY_ALERT_URL"] == "http://127.0.0.1:1/alerts"
    port = isolated.guard.port
    assert {env[v] for v in PROXY_VARIABLES} == {f"http://app:gameday@127.0.0.1:{port}"}
    assert env["NO_PROXY"] == env["no_proxy"] == LOOPBACK
    assert "canary" not in " ".join(env.values()).lower()
    assert not [k for k in env if k.startswith("GAMEDAY_") and k != "GAMEDAY_ALERT_URL"]
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_PROFILE" not in env
    probe = isolated.probe_environment()
    assert probe["HTTPS_PROXY"] == f"http://probe:gameday@127.0.0.1:{port}"
    assert "GAMEDAY_ALERT_URL" not in probe


def test_the_shared_files_hold_the_gateway_the_dummy_keys_and_the_apps_profiles(
    isolated: Isolation, tmp_path: Path
) -> None:
    config = configparser.ConfigParser()
    config.read_string(isolated.config_file.read_text())
    assert dict(config["default"]) == {"region": "eu-west-1", "endpoint_url": GATEWAY}
    assert dict(config["profile app"]) == {
        "region": "eu-west-1",
        "endpoint_url": GATEWAY,
        "role_arn": "arn:aws:iam::123456789012:role/app",
        "source_profile": "base",
        "role_session_name": "app-session",
        "duration_seconds": "900",
    }
    assert config["profile us"]["region"] == "us-west-2"
    credentials = configparser.ConfigParser()
    credentials.read_string(isolated.credentials_file.read_text())
    # A role profile gets no keys: botocore must assume its role from its source.
    assert credentials.sections() == ["default", "base", "us"]
    assert dict(credentials["base"]) == {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    assert stat.S_IMODE(isolated.credentials_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "home").stat().st_mode) == 0o700


def test_the_probes_get_files_of_their_own_with_the_probes_keys(
    isolated: Isolation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = isolated.probe_environment()
    assert probe["HOME"] == str(tmp_path / "probe-home")
    assert probe["AWS_CONFIG_FILE"] == str(tmp_path / "probe-home" / ".aws" / "config")
    assert probe["AWS_SHARED_CREDENTIALS_FILE"] == str(isolated.probe_credentials_file)
    # Same profiles and endpoint as the app's; only the dummy keys differ.
    assert isolated.probe_config_file.read_text() == isolated.config_file.read_text()
    app_keys, probe_keys = configparser.ConfigParser(), configparser.ConfigParser()
    app_keys.read_string(isolated.credentials_file.read_text())
    probe_keys.read_string(isolated.probe_credentials_file.read_text())
    assert probe_keys.sections() == app_keys.sections() == ["default", "base", "us"]
    for name in probe_keys.sections():
        assert probe_keys[name]["aws_access_key_id"] == PROBE_KEYS[0]
        assert app_keys[name]["aws_access_key_id"] == DUMMY_KEYS[0]
    assert stat.S_IMODE(isolated.probe_credentials_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "probe-home").stat().st_mode) == 0o700
    # The app's environment names none of the probes' files.
    app = isolated.app_environment(alert_url=None)
    assert not [v for v in app.values() if "probe-home" in v]
    for name in RUNNER:
        monkeypatch.delenv(name, raising=False)
    for name, value in probe.items():
        monkeypatch.setenv(name, value)
    credentials = botocore.session.Session().get_credentials()
    assert credentials is not None and credentials.access_key == PROBE_KEYS[0]


def test_botocore_reads_the_files_as_production_would(
    isolated: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = isolated.app_environment(alert_url=None)
    for name in RUNNER:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # the file alone points at the gateway
    default = botocore.session.Session()
    credentials = default.get_credentials()
    assert credentials is not None and credentials.method == "shared-credentials-file"
    assert default.create_client("sts").meta.endpoint_url == GATEWAY
    monkeypatch.setenv("AWS_PROFILE", "app")
    app = botocore.session.Session()
    assumed = app.get_credentials()
    assert assumed is not None and assumed.method == "assume-role"
    assert app.create_client("dynamodb").meta.endpoint_url == GATEWAY


@pytest.mark.parametrize(
    ("profiles", "env", "message"),
    [
        ("{default: {}}", "{}", "'default' is gameday's own profile"),
        (
            "{app: {role_arn: 'arn:aws:iam::123456789012:role/a', source_profile: nope}}",
            "{}",
            "source_profile 'nope' is not a profile here (profiles: app, default)",
        ),
        (
            "{a: {role_arn: 'arn:aws:iam::123456789012:role/a', source_profile: b},"
            " b: {role_arn: 'arn:aws:iam::123456789012:role/b', source_profile: a}}",
            "{}",
            "source_profile loops back to 'a'",
        ),
        ("{app: {role_arn: 'arn:aws:iam::123456789012:role/a'}}", "{}", "give 'role_arn' and"),
        ("{app: {}}", "{AWS_PROFILE: typo}", "env.AWS_PROFILE: 'typo' is not a profile here"),
        ("{'bad name': {}}", "{}", "aws_profiles.bad name"),
    ],
)
def test_the_apps_profiles_are_checked_when_the_scenario_loads(
    tmp_path: Path, profiles: str, env: str, message: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(tmp_path / "s.yaml", TEMPLATE.format(env=env, profiles=profiles))
    assert message in str(caught.value), caught.value
