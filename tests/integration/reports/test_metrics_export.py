"""Metrics leave the process: a Pushgateway-compatible endpoint on loopback receives the push,
and node_exporter's textfile collector gets a whole file."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from gameday.kinds import RunStatus
from gameday.reports.prom import MetricsExportError, push, write_textfile
from tests.unit.reports.runs import HOSTILE, demo_suite, met_and_missed, synthetic


@dataclass
class Pushgateway:
    """A small server speaking the Pushgateway's push API: PUT/POST /metrics/job/<job>/...,
    recording each request; answers with ``status``."""

    url: str = ""
    status: int = 200
    received: list[tuple[str, str, str, str]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = (await request.read()).decode("utf-8")
        self.received.append((request.method, request.path, request.content_type, body))
        return web.Response(status=self.status)


@pytest.fixture
def pushgateway() -> Iterator[Pushgateway]:
    gateway = Pushgateway()
    app = web.Application()
    app.router.add_route("*", "/metrics/job/{tail:.*}", gateway.handle)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    host, port = runner.addresses[0][:2]
    gateway.url = f"http://{host}:{port}"
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield gateway
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    loop.run_until_complete(runner.cleanup())
    loop.close()


def _families(body: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    return {
        family.name: [(s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(body)
    }


def test_one_put_per_run_grouped_by_scenario(pushgateway: Pushgateway) -> None:
    results = demo_suite()
    push(results, pushgateway.url)
    assert [(m, p) for m, p, _, _ in pushgateway.received] == [
        ("PUT", f"/metrics/job/gameday/scenario/{r.scenario.name}") for r in results
    ]
    _, _, content_type, body = pushgateway.received[0]
    assert content_type == "text/plain"
    families = _families(body)
    assert families["gameday_scenario_score"] == [({"scenario": "identity-loss"}, results[0].score)]
    assert ({"scenario": "identity-loss", "status": "failed"}, 1.0) in families["gameday_runs"]


def test_run_counts_from_the_store_are_pushed_per_scenario(pushgateway: Pushgateway) -> None:
    counts = {("identity-loss", RunStatus.FAILED): 9, ("registry-loss", RunStatus.PASSED): 4}
    push([met_and_missed()], pushgateway.url, job="nightly", run_counts=counts)
    ((_, path, _, body),) = pushgateway.received
    assert path == "/metrics/job/nightly/scenario/identity-loss"
    assert _families(body)["gameday_runs"] == [
        ({"scenario": "identity-loss", "status": "failed"}, 9.0)
    ]


def test_a_scenario_name_with_a_slash_is_base64_in_the_path(pushgateway: Pushgateway) -> None:
    push([synthetic()["hostile"]], pushgateway.url)
    ((_, path, _, body),) = pushgateway.received
    # The Pushgateway's own convention for label values that would break the path.
    prefix = "/metrics/job/gameday/scenario@base64/"
    assert path.startswith(prefix)
    assert base64.urlsafe_b64decode(path[len(prefix) :] + "==").decode() == HOSTILE["script"]
    labels = _families(body)["gameday_scenario_score"][0][0]
    assert labels == {"scenario": HOSTILE["script"]}


def test_a_refused_push_is_an_error_that_says_where(pushgateway: Pushgateway) -> None:
    pushgateway.status = 500
    with pytest.raises(MetricsExportError) as caught:
        push([met_and_missed()], pushgateway.url)
    assert caught.value.message.startswith(
        f"pushgateway {pushgateway.url}: cannot push the metrics of identity-loss: "
    )
    assert caught.value.hint == (
        "check the URL and that the Pushgateway is up; the run itself is recorded"
    )


def test_the_textfile_is_written_whole_and_alone(tmp_path: Path) -> None:
    path = tmp_path / "gameday.prom"
    write_textfile(demo_suite(), path)
    write_textfile([met_and_missed()], path)
    assert [p.name for p in tmp_path.iterdir()] == ["gameday.prom"]
    families = _families(path.read_text())
    assert families["gameday_scenario_score"] == [
        ({"scenario": "identity-loss"}, met_and_missed().score)
    ]


def test_a_textfile_in_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "gameday.prom"
    with pytest.raises(MetricsExportError) as caught:
        write_textfile([met_and_missed()], path)
    assert caught.value.message == (
        f"{path}: cannot write the metrics file: No such file or directory"
    )
