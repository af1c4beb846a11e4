"""Finding LocalStack and reading its health, against stand-in servers on loopback (these run
without LocalStack): the URL conventions, the served-services map, the bounded wait."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gameday.engine.run import plan_all
from gameday.environments.localstack import (
    localstack_url,
    served_or_known,
    served_services,
    wait_for_localstack,
)
from gameday.errors import EnvironmentFailure, ExitCode
from gameday.scenario.models import Environment

HEALTH = {
    "services": {
        "sts": "available",
        "iam": "available",
        "logs": "available",
        "dynamodb": "running",
        "ecr": "disabled",
    },
    "edition": "community",
    "version": "2026.3.0",
}
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens, refused at once
SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


def _serve(status: int, body: bytes) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/_localstack/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # keep the test output clean; each test asserts what it needs

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def healthy() -> Iterator[str]:
    yield from _serve(200, json.dumps(HEALTH).encode())


@pytest.fixture
def not_localstack() -> Iterator[str]:
    yield from _serve(200, b'{"status": "ok"}')


@pytest.fixture
def failing() -> Iterator[str]:
    yield from _serve(503, b"{}")


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({}, "http://localhost:4566"),
        ({"LOCALSTACK_HOST": "127.0.0.1"}, "http://127.0.0.1:4566"),
        ({"LOCALSTACK_HOST": "localstack:4510"}, "http://localstack:4510"),
        ({"LOCALSTACK_HOST": "localhost:4566", "USE_SSL": "1"}, "https://localhost:4566"),
        # AWS_ENDPOINT_URL is where the app calls (the gateway), never where LocalStack is.
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:4567"}, "http://localhost:4566"),
    ],
)
def test_url_follows_the_localstack_client_conventions(environ: dict[str, str], url: str) -> None:
    assert localstack_url(environ) == url


def test_a_bad_localstack_host_is_named() -> None:
    with pytest.raises(EnvironmentFailure, match=r"LOCALSTACK_HOST='host:port' is not HOST"):
        localstack_url({"LOCALSTACK_HOST": "host:port"})


def test_served_services_reads_the_health_map(healthy: str) -> None:
    assert served_services(healthy) == HEALTH["services"]


def test_wait_returns_what_is_served(healthy: str) -> None:
    served = wait_for_localstack(healthy, timeout_s=1)
    assert served.live and served.version == "2026.3.0"
    assert served.serves("sts") and served.serves("dynamodb")
    assert not served.serves("ecr") and not served.serves("cloudtrail")
    assert served.describe() == f"LocalStack 2026.3.0 at {healthy}"


def test_an_unreachable_localstack_fails_naming_its_url() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(EnvironmentFailure) as raised:
        wait_for_localstack(CLOSED, timeout_s=3, clock=lambda: now[0], sleep=sleep)
    assert raised.value.exit_code is ExitCode.COULD_NOT_RUN
    assert raised.value.message.startswith(
        f"LocalStack at {CLOSED} was not ready within 3 s: LocalStack at {CLOSED} is not "
        "reachable: "
    )
    assert raised.value.hint is not None and "scripts/localstack.sh start" in raised.value.hint
    assert now[0] >= 3  # it kept asking until the deadline, and no longer


def test_something_else_on_the_port_is_not_taken_for_localstack(not_localstack: str) -> None:
    with pytest.raises(EnvironmentFailure, match=r"did not answer like LocalStack"):
        served_services(not_localstack)


def test_an_error_status_is_named(failing: str) -> None:
    with pytest.raises(EnvironmentFailure, match=r"answered .*/_localstack/health with HTTP 503"):
        served_services(failing)


def test_plan_assumes_the_free_edition_when_none_answers() -> None:
    served = served_or_known(CLOSED, timeout_s=0.5)
    assert not served.live
    assert served.serves("sts") and not served.serves("ecr")
    assert served.describe() == (
        f"the LocalStack free edition (2026.3.0's services; none answered at {CLOSED})"
    )


def test_plan_uses_the_live_map_when_one_answers(healthy: str) -> None:
    served = served_or_known(healthy)
    assert served.live and not served.serves("ecr")


def test_run_refuses_with_exit_3_when_no_scenario_can_run(
    healthy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCALSTACK_HOST", urlsplit(healthy).netloc)
    with pytest.raises(EnvironmentFailure) as raised:
        plan_all([SCENARIOS / "registry-loss.yaml"], Environment.LOCALSTACK)
    assert raised.value.exit_code is ExitCode.COULD_NOT_RUN
    assert raised.value.message.startswith(
        f"registry-loss: LocalStack 2026.3.0 at {healthy} does not serve what this drill "
        "needs: ecr (fault ecr-down (registry-loss), setup[3] repository demo/app); "
    )
    assert raised.value.hint is not None and "no ECR, CloudTrail or FIS" in raised.value.hint


def test_run_keeps_the_scenarios_that_can_run(
    healthy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCALSTACK_HOST", urlsplit(healthy).netloc)
    plans = plan_all(
        [SCENARIOS / "identity-loss.yaml", SCENARIOS / "registry-loss.yaml"],
        Environment.LOCALSTACK,
    )
    assert [p.loaded.scenario.metadata.name for p in plans] == ["identity-loss", "registry-loss"]
    identity, registry = plans
    assert identity.refusal is None
    # Refused again when its environment comes up, before anything starts.
    assert registry.refusal is not None and "ecr (fault ecr-down" in registry.refusal
