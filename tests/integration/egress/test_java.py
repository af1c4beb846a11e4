"""A real JVM through the real egress proxy, configured only by JAVA_TOOL_OPTIONS: with the
run's truststore it gets gameday's rendered error for a faulted STS call; with a store that
lacks the run's root its TLS handshake fails (so the first result is the store's doing)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography import x509

from gameday.egress.ca import CertificateAuthority, system_roots
from gameday.egress.truststore import TRUSTSTORE_NAME, java_tool_options, write_truststore
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import FaultSpec
from tests.egress_support import Setup, egress_setup

JAVA = shutil.which("java")
PROGRAM = Path(__file__).parents[2] / "fixtures" / "java" / "StsCall.java"

pytestmark = pytest.mark.skipif(JAVA is None, reason="needs a JDK (java on PATH)")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[Setup]:
    with egress_setup(tmp_path_factory.mktemp("egress-java"), moto_url) as proxy:
        yield proxy


def _run_truststore(setup: Setup, into: Path) -> Path:
    """The proxy's own store once ``gameday egress`` writes it; until then one built the same
    way from the root it wrote."""
    written = setup.ca_dir / TRUSTSTORE_NAME
    if written.is_file():
        return written
    into.mkdir()
    root = x509.load_pem_x509_certificate((setup.ca_dir / "ca.pem").read_bytes())
    return write_truststore(into, system_roots(), root)


def _java(truststore: Path, proxy_url: str) -> subprocess.CompletedProcess[str]:
    host, port = proxy_url.removeprefix("http://").rsplit(":", 1)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["JAVA_TOOL_OPTIONS"] = java_tool_options(truststore, host, int(port))
    assert JAVA is not None
    return subprocess.run(
        [JAVA, str(PROGRAM)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_a_jvm_trusts_the_run_and_gets_the_rendered_error(setup: Setup, tmp_path: Path) -> None:
    admin = GatewayClient(setup.proxy_url)
    admin.clear()
    admin.add(
        FaultSpec.model_validate(
            {
                "id": "sts-throttle",
                "match": {"services": ["sts"]},
                "effect": {"mode": "throttle"},
                "ttl_seconds": 60,
            }
        )
    )
    trusted = _run_truststore(setup, tmp_path / "run")
    # The same store made for another run's root: everything but the one root that matters.
    other = CertificateAuthority.create(tmp_path / "other-ca")
    (tmp_path / "other").mkdir()
    untrusted = write_truststore(tmp_path / "other", system_roots(), other.root)
    try:
        # Two JVMs at once: each spends most of its second compiling StsCall.java.
        with ThreadPoolExecutor(2) as pool:
            good, bad = pool.map(lambda store: _java(store, setup.proxy_url), [trusted, untrusted])
    finally:
        admin.clear()

    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.startswith("status 400\n"), good.stdout
    assert "<Code>Throttling</Code>" in good.stdout
    assert bad.returncode == 3, bad.stdout + bad.stderr
    assert bad.stdout.startswith("TLS handshake failed: "), bad.stdout
    assert "PKIX path" in bad.stdout  # Java 25 puts "(certificate_unknown) " before it
