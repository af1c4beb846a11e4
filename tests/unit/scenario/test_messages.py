"""pydantic's errors in the scenario author's words, and URLs checked at validate time.

The fixtures in tests/fixtures/invalid/ pin one message per case at its line and column; these
tests cover the mechanism around them: every pattern of the format has words, every URL form
the loader supports passes, and each wrong form says what to write instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from gameday.errors import ScenarioError
from gameday.scenario.loader import parse_scenario
from gameday.scenario.messages import PATTERN_WORDS
from gameday.scenario.schema import scenario_schema
from gameday.scenario.urls import check_health_url, check_marker_url, check_probe_url

SCENARIO = """\
apiVersion: gameday/v1
metadata: {{name: words}}
target:
  app: {{command: [python, app.py], health_url: "http://127.0.0.1:{{port}}/health"}}
faults: [{{kind: identity-loss, duration: 2s}}]
probes:
  - {probe}
objectives: [{{kind: availability, probe: api, target: 0.9}}]
"""


def _problems(probe: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "words.yaml"
    text = SCENARIO.format(probe=probe)
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(path, text)
    return [p.removeprefix(f"{path}:") for p in caught.value.problems]


def _patterns(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
        return found.union(*(_patterns(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_patterns(v) for v in node))
    return set()


def test_every_pattern_of_the_format_is_said_in_words() -> None:
    durations = {p for p in _patterns(scenario_schema()) if "ms|s|m|h" in p}
    assert _patterns(scenario_schema()) - durations - set(PATTERN_WORDS) == set()


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        (
            "{name: api, kind: http, url: '{app}/health', headers: {X-Debug: true}}",
            '7:69: probes[0].headers.X-Debug: header values are strings: quote it: X-Debug: "true"',
        ),
        (
            "{name: api, kind: http, url: '{app}/health', retries: [3]}",
            "7:59: probes[0].retries: retries takes a mapping with keys attempts, backoff, "
            "not a list; write retries: {attempts: ...}",
        ),
        (
            "{name: api, kind: http, url: '{app}/health', expect: {status: 200 or 204}}",
            "7:67: probes[0].expect.status: expected a list, got text '200 or 204'; "
            "write status: [200, or, 204]",
        ),
        (
            "{name: api, kind: http, url: '{app}/health', retries: {attempts: 2.5}}",
            "7:70: probes[0].retries.attempts: expected a whole number, got the number 2.5",
        ),
        (
            "{name: api, kind: aws, service: sts, call: GetCallerIdentity}",
            "7:48: probes[0].call: 'GetCallerIdentity' is not a boto3 method name in "
            "snake_case, such as create_queue",
        ),
        (
            "{name: api, kind: command, command: ['sh', '-c', 'exit 0'], "
            "credentials: isolated, expect: {exit_code: zero}}",
            "7:108: probes[0].expect.exit_code: expected a whole number, got text 'zero'",
        ),
    ],
)
def test_messages_say_what_to_write(probe: str, expected: str, tmp_path: Path) -> None:
    assert _problems(probe, tmp_path)[0] == expected


def test_a_listed_item_that_needs_quotes_is_quoted(tmp_path: Path) -> None:
    problems = _problems("{name: api, kind: command, command: 'curl -H \"a: b\" x'}", tmp_path)
    written = problems[0].split("write command: ", 1)[1]
    assert written == '[curl, -H, "a: b", x]'
    assert YAML(typ="safe").load(written) == ["curl", "-H", "a: b", "x"]


@pytest.mark.parametrize(
    "url",
    [
        "{app}/health",
        "{app}",
        "{app}?full=1",
        "http://127.0.0.1:8080/health",
        "https://example.test/metrics",
        "http://[::1]:9090",
    ],
)
def test_probe_urls_the_loader_supports_pass(url: str) -> None:
    assert check_probe_url(url) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/health", "'/health' is not an absolute URL: use {app}/health or an absolute URL"),
        ("health", "'health' is not an absolute URL: use {app}/health or an absolute URL"),
        (
            "localhost:8080/health",
            "'localhost:8080/health' has no scheme: add it: http://localhost:8080/health",
        ),
        ("{app}health", "'{app}health': '{app}' is the base URL alone: write {app}/health"),
        (
            "http://h/{app}/x",
            "'http://h/{app}/x': '{app}' stands for the app's whole base URL (scheme, host and "
            "port): start the URL with it, as in {app}/health",
        ),
        ("ftp://h/x", "'ftp://h/x': scheme 'ftp' is not supported; use http:// or https://"),
        ("http:///x", "'http:///x' has no host: write http://HOST[:PORT]/PATH"),
        (
            "{app}/orders/{marker}",
            "'{app}/orders/{marker}': '{marker}' is filled in only in a data probe's "
            "write_url and read.url",
        ),
        ("{app}/{id}", "'{app}/{id}': unknown placeholder '{id}'; known here: {app}"),
    ],
)
def test_probe_url_mistakes_say_what_to_write(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_probe_url(url)


def test_marker_urls_take_the_marker() -> None:
    assert check_marker_url("{app}/orders/{marker}") == "{app}/orders/{marker}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "/health",
            "'/health' is not an absolute URL: write the full URL, e.g. "
            "http://127.0.0.1:{port}/health",
        ),
        (
            "{app}/ready",
            "'{app}' is not known here (this URL defines the app's base URL): "
            "write http://127.0.0.1:{port}/ready",
        ),
    ],
)
def test_health_url_mistakes_say_what_to_write(url: str, message: str) -> None:
    assert check_health_url("http://127.0.0.1:{port}/health")
    with pytest.raises(ValueError, match=re.escape(message)):
        check_health_url(url)
