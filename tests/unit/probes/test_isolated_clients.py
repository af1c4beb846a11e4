"""Probes in an isolated drill: their programs get the isolated environment and their AWS
clients the dummy keys and the gateway, whatever the runner's own AWS settings say; a probe
that says ``credentials: runner`` gets the runner's (issue 14, finding 1)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ProfileNotFound

from gameday.probes.base import Observation, open_probe_context
from gameday.probes.command import CommandProbe
from gameday.scenario.probe_models import CommandProbe as CommandProbeSpec
from gameday.scenario.probe_models import ProbeCredentials, ProbeKind

GATEWAY = "http://127.0.0.1:4599"
CHECK = (
    "import os, sys\n"
    "sys.exit(0 if os.environ.get('ISOLATED') == '1' and 'AWS_ACCESS_KEY_ID' not in os.environ"
    " else 3)"
)


@pytest.fixture(autouse=True)
def runner_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACANARY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary")
    monkeypatch.setenv("AWS_PROFILE", "only-the-runner-has-it")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "nothing"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://corp-proxy.invalid:3128")


def _sample(credentials: ProbeCredentials, environ: dict[str, str]) -> Observation:
    spec = CommandProbeSpec(
        kind=ProbeKind.COMMAND,
        name="check",
        command=(sys.executable, "-c", CHECK),
        credentials=credentials,
    )

    async def main() -> Observation:
        async with open_probe_context(
            run_id="r", origin_s=time.monotonic(), environ=environ
        ) as ctx:
            return await CommandProbe(spec, ctx).sample()

    return asyncio.run(main())


def test_a_command_probe_runs_in_the_isolated_environment_unless_it_says_runner() -> None:
    isolated = {"ISOLATED": "1"}
    assert _sample(ProbeCredentials.ISOLATED, isolated).ok
    as_runner = _sample(ProbeCredentials.RUNNER, isolated)
    assert (as_runner.ok, as_runner.detail) == (False, "exit 3, expected 0")


def test_an_aws_client_signs_with_the_dummy_keys_at_the_gateway_without_a_proxy(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config"
    config.write_text("[default]\nregion = eu-west-1\n")

    async def main() -> None:
        async with open_probe_context(
            run_id="r",
            origin_s=time.monotonic(),
            aws_endpoint_url=GATEWAY,
            credentials=("testing", "testing"),
            environ={"AWS_CONFIG_FILE": str(config)},
        ) as ctx:
            # The runner's AWS_PROFILE names a profile of no file here: not read, no error.
            client = ctx.aws_client("sts", region="us-east-1")
            assert client.meta.endpoint_url == GATEWAY
            assert client.meta.config.proxies == {}
            assert client._request_signer._credentials.access_key == "testing"
            # A probe that says `credentials: runner` reads the runner's own chain: here,
            # the runner's AWS_PROFILE, which only the runner could resolve.
            with pytest.raises(ProfileNotFound, match="only-the-runner-has-it"):
                ctx.aws_client("sts", region="us-east-1", runner=True)

    asyncio.run(main())
