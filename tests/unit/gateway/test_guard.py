"""Pure parts of the gateway's defences: JSON depth, emulator admin paths, the rate-limited log,
the connection cap."""

from __future__ import annotations

import json
import logging
import resource

import pytest

from gameday.gateway.guard import RateLimitedLog, ServerLimits, connection_cap, describe
from gameday.gateway.server import emulator_admin_path
from gameday.scenario.json_bounds import json_depth_over


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"{}", 1),
        (b"[[], {}]", 2),
        (b'{"a": [{"b": "[[[[[[[[[[ not brackets \\" ]]]"}]}', 3),
        (b"[" * 32 + b"]" * 32, 32),
        (b'[{"a":' * 16 + b"1" + b"}]" * 16, 32),
        (b"1", 0),
    ],
)
def test_json_depth(body: bytes, depth: int) -> None:
    json.loads(body)
    assert not json_depth_over(body, depth)
    assert json_depth_over(body, depth - 1) == (depth > 0)


@pytest.mark.parametrize(
    "body", [b"[" * 100_000, b"[" * 40 + b"}" * 40, b"[" * 100_000 + b"]" * 100_000]
)
def test_json_depth_unbalanced_or_huge(body: bytes) -> None:
    assert json_depth_over(body, 32)


@pytest.mark.parametrize(
    ("path", "admin"),
    [
        ("/moto-api/reset", True),
        ("/moto-api", True),
        ("//moto-api/reset", True),
        ("/moto%2dapi/reset", True),
        ("/a/b/../../moto-api/data.json", True),
        ("/_LOCALSTACK/health", True),
        ("/%5flocalstack/health", True),
        ("/bucket/moto-api/key", False),
        ("/moto-api-bucket/key", False),
        ("/", False),
        ("/2015-03-31/functions", False),
    ],
)
def test_emulator_admin_path(path: str, admin: bool) -> None:
    assert emulator_admin_path(path) is admin


def test_rate_limited_log_keeps_a_burst_then_counts(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = RateLimitedLog(logging.getLogger("test.guard"), burst=3, per_s=1.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.guard"):
        for i in range(10):
            log.warning(f"line {i}")
        log.flush()
        now[0] = 2.0
        log.flush()
        log.warning("after")

    assert [r.getMessage() for r in caplog.records] == [
        "gameday gateway: line 0",
        "gameday gateway: line 1",
        "gameday gateway: line 2",
        "gameday gateway: 7 log lines left out (rate limit)",
        "gameday gateway: after",
    ]
    assert all(r.exc_info is None for r in caplog.records)


def test_describe_is_one_line() -> None:
    try:
        raise ValueError("two\nlines")
    except ValueError as error:
        assert describe(error).startswith("ValueError: two lines at test_guard.py:")


def test_connection_cap_fits_the_open_file_limit() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    limits = ServerLimits(max_connections=1_000_000)
    assert connection_cap(limits) == (soft - 64) // 2
    assert connection_cap(ServerLimits(max_connections=10)) == min(10, (soft - 64) // 2)
