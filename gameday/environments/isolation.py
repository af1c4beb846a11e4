"""What the app and the probes of an isolated drill (embedded, localstack) see: an environment
built from an allow-list, the SDKs' shared files in the run's scratch folder, and a proxy that
refuses every connection past loopback (DESIGN.md "Isolation").

Nothing of the runner's AWS identity is passed on: no ``AWS_*`` variable (keys, profile,
config and credentials files, endpoints, container and web-identity settings), no
``GAMEDAY_*`` token, and not its home folder (``~/.aws``, the SSO and CLI caches, other tools'
credential stores). The scratch folder holds instead::

    <workdir>/home/                  HOME
    <workdir>/home/.aws/config       AWS_CONFIG_FILE: [default] region + endpoint_url (the
                                     gateway), and the scenario's target.app.aws_profiles
    <workdir>/home/.aws/credentials  AWS_SHARED_CREDENTIALS_FILE: the dummy keys (0600)
    <workdir>/probe-home/            the probes' HOME: the same two files, with the probes'
                                     own dummy keys (``PROBE_KEYS``) instead of the app's

The probes' files are apart so that the gateway can tell their calls from the app's by the
access key id (docs/audit.md); the app's environment names only its own.

The keys are in the credentials file, not in ``AWS_ACCESS_KEY_ID``: botocore ranks environment
keys above a profile's ``role_arn``, so an app's own profile would never assume its role.

>>> isolation = isolate(scenario, workdir, endpoint_url=gateway.url, stack=stack, now=clock)
>>> env = isolation.app_environment(alert_url=None)     # HOME, AWS_CONFIG_FILE, HTTPS_PROXY...
>>> isolation.guard.attempts()                          # what tried to get out
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from gameday.child_env import without_gameday_variables
from gameday.environments.egress import EgressGuard
from gameday.environments.setup import AccessKey
from gameday.environments.stage import DUMMY_KEYS, PROBE_KEYS
from gameday.scenario.models import Scenario
from gameday.scenario.target import DEFAULT_PROFILE, AwsProfile, CommandApp

ALLOWED_NAMES = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "USER",
        "LOGNAME",
        "LD_LIBRARY_PATH",
        "VIRTUAL_ENV",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "JAVA_HOME",
        "NODE_PATH",
    }
)
"""Runner variables passed on as they are: how to find programs, libraries, certificates,
and how to speak (locale, time zone, terminal)."""
ALLOWED_PREFIXES = ("LC_", "PYTHON")
"""Locale categories, and what a Python app needs to start (PYTHONPATH, PYTHONUTF8...)."""

LOOPBACK = "127.0.0.1,localhost,::1"
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)
NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")


def allowed_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``environ`` on the allow-list; everything else stays behind, and
    gameday's own variables always do (``gameday.child_env``, whatever the list says)."""
    return {
        name: value
        for name, value in without_gameday_variables(environ).items()
        if name in ALLOWED_NAMES or name.startswith(ALLOWED_PREFIXES)
    }


def app_profiles(scenario: Scenario) -> Mapping[str, AwsProfile]:
    """The app's own profiles (``target.app.aws_profiles``); none for the demo."""
    app = scenario.target.app
    return app.aws_profiles if isinstance(app, CommandApp) else {}


def _section(header: str, values: Mapping[str, object | None]) -> list[str]:
    lines = [f"[{header}]"]
    lines += [f"{key} = {value}" for key, value in values.items() if value is not None]
    return [*lines, ""]


def render_aws_config(
    endpoint_url: str,
    region: str,
    profiles: Mapping[str, AwsProfile],
    keys: Mapping[str, AccessKey] | None = None,
) -> str:
    """The shared config file: ``[default]``, each app profile and each setup user's profile
    (``keys``), all with the gateway as their endpoint (a profile's own ``endpoint_url`` is
    what botocore reads for it, and for the STS client that assumes its role)."""
    lines = _section(DEFAULT_PROFILE, {"region": region, "endpoint_url": endpoint_url})
    for name in keys or {}:
        lines += _section(f"profile {name}", {"region": region, "endpoint_url": endpoint_url})
    for name, profile in profiles.items():
        lines += _section(
            f"profile {name}",
            {
                "region": profile.region or region,
                "endpoint_url": endpoint_url,
                "role_arn": profile.role_arn,
                "source_profile": profile.source_profile,
                "role_session_name": profile.role_session_name,
                "external_id": profile.external_id,
                "duration_seconds": profile.duration_seconds,
            },
        )
    return "\n".join(lines)


def render_aws_credentials(
    profiles: Mapping[str, AwsProfile],
    keys: Mapping[str, AccessKey] | None = None,
    dummy_keys: tuple[str, str] = DUMMY_KEYS,
) -> str:
    """The shared credentials file: the ``dummy_keys`` for ``default`` and for every app
    profile that has no ``role_arn`` (a source of credentials, like a static-key profile);
    each setup user's own long-term key under its profile (``keys``)."""
    key, secret = dummy_keys
    dummy = {"aws_access_key_id": key, "aws_secret_access_key": secret}
    names = [DEFAULT_PROFILE, *(n for n, p in profiles.items() if p.role_arn is None)]
    lines = [line for name in names for line in _section(name, dummy)]
    for name, user_key in (keys or {}).items():
        lines += _section(
            name,
            {
                "aws_access_key_id": user_key.access_key_id,
                "aws_secret_access_key": user_key.secret_access_key,
            },
        )
    return "\n".join(lines)


def write_aws_files(
    home: Path,
    *,
    endpoint_url: str,
    region: str,
    profiles: Mapping[str, AwsProfile],
    keys: Mapping[str, AccessKey] | None = None,
    dummy_keys: tuple[str, str] = DUMMY_KEYS,
) -> tuple[Path, Path]:
    """Write ``home/.aws/config`` and ``home/.aws/credentials`` (``dummy_keys`` in it);
    returns both paths.

    Where every SDK looks by default too (``~/.aws``), for the few that ignore
    ``AWS_CONFIG_FILE`` and ``AWS_SHARED_CREDENTIALS_FILE``.
    """
    folder = home / ".aws"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    config, credentials = folder / "config", folder / "credentials"
    config.write_text(render_aws_config(endpoint_url, region, profiles, keys))
    credentials.touch(mode=0o600)
    credentials.write_text(render_aws_credentials(profiles, keys, dummy_keys))
    return config, credentials


@dataclass(frozen=True)
class Isolation:
    """The isolated environment of one run: its files, and the guard that refuses egress."""

    base: Mapping[str, str]
    """The allow-listed runner variables."""
    home: Path
    config_file: Path
    credentials_file: Path
    endpoint_url: str
    region: str
    guard: EgressGuard
    probe_home: Path
    """The probes' HOME, with their own ``.aws/config`` and ``.aws/credentials``."""

    @property
    def probe_config_file(self) -> Path:
        return self.probe_home / ".aws" / "config"

    @property
    def probe_credentials_file(self) -> Path:
        return self.probe_home / ".aws" / "credentials"

    def _environment(
        self, label: str, home: Path, config: Path, credentials: Path
    ) -> dict[str, str]:
        proxy = self.guard.proxy_url(label)
        return {
            **self.base,
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            # No instance or container metadata service: it is not there, and looking for
            # it costs each SDK a timeout before it gives up.
            "AWS_EC2_METADATA_DISABLED": "true",
            **dict.fromkeys(PROXY_VARIABLES, proxy),
            **dict.fromkeys(NO_PROXY_VARIABLES, LOOPBACK),
        }

    def app_environment(self, alert_url: str | None) -> dict[str, str]:
        """The app's environment, before the scenario's ``target.app.env`` (which wins)."""
        env = self._environment("app", self.home, self.config_file, self.credentials_file)
        # The app's temporary files (the demo's spool) live in the run's scratch folder, so
        # they go with it even when the app is killed before it can clean up.
        env["TMPDIR"] = str(self.home.parent)
        if alert_url:
            env["GAMEDAY_ALERT_URL"] = alert_url
        return env

    def probe_environment(self) -> dict[str, str]:
        """Every probe's environment (command probes' processes, aws probes' SDK settings):
        its own HOME and files (the probes' keys, so their calls are not counted as the
        app's), the gateway, no route past loopback."""
        env = self._environment(
            "probe", self.probe_home, self.probe_config_file, self.probe_credentials_file
        )
        env["TMPDIR"] = str(self.home.parent)
        return env


def isolate(
    scenario: Scenario,
    workdir: Path,
    *,
    endpoint_url: str,
    stack: ExitStack,
    now: Callable[[], float],
    environ: Mapping[str, str] | None = None,
    keys: Mapping[str, AccessKey] | None = None,
) -> Isolation:
    """Start the egress guard (``stack`` stops it) and write the shared files into
    ``workdir``; ``environ`` is the runner's environment (default ``os.environ``); ``keys``
    are the setup users' access keys, by profile."""
    guard = stack.enter_context(EgressGuard(now=now))
    home, probe_home = workdir / "home", workdir / "probe-home"
    region = scenario.target.home_region

    def write_home(folder: Path, dummy_keys: tuple[str, str]) -> tuple[Path, Path]:
        folder.mkdir(mode=0o700, exist_ok=True)
        return write_aws_files(
            folder,
            endpoint_url=endpoint_url,
            region=region,
            profiles=app_profiles(scenario),
            keys=keys,
            dummy_keys=dummy_keys,
        )

    config, credentials = write_home(home, DUMMY_KEYS)
    write_home(probe_home, PROBE_KEYS)
    return Isolation(
        base=allowed_environment(os.environ if environ is None else environ),
        home=home,
        config_file=config,
        credentials_file=credentials,
        endpoint_url=endpoint_url,
        region=region,
        guard=guard,
        probe_home=probe_home,
    )
