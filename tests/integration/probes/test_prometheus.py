"""The prometheus probe against a tiny real server that speaks the Prometheus HTTP API."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from gameday.probes import build_probe
from tests.integration.probes._support import context, serving, spec

# query -> (HTTP status, body), shaped as https://prometheus.io/docs/prometheus/latest/querying/api/
ANSWERS: dict[str, tuple[int, dict[str, Any]]] = {
    "up": (
        200,
        {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [
                    {"metric": {"job": "app"}, "value": [1700000000.1, "1"]},
                    {"metric": {"job": "other"}, "value": [1700000000.1, "0"]},
                ],
            },
        },
    ),
    "scalar(42)": (
        200,
        {"status": "success", "data": {"resultType": "scalar", "result": [1700000000, "42"]}},
    ),
    "absent_metric": (200, {"status": "success", "data": {"resultType": "vector", "result": []}}),
    "nan": (
        200,
        {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "NaN"]}]},
        },
    ),
    "up[5m]": (
        200,
        {"status": "success", "data": {"resultType": "matrix", "result": []}},
    ),
    "up{": (
        400,
        {"status": "error", "errorType": "bad_data", "error": "parse error: unexpected end"},
    ),
}


async def query(request: web.Request) -> web.Response:
    status, body = ANSWERS[request.query["query"]]
    return web.json_response(body, status=status)


def prometheus_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/api/v1/query", query)
    return app


def test_values_are_checked_against_the_bounds() -> None:
    async def main() -> None:
        async with serving(prometheus_app()) as base, context() as ctx:

            async def sample(query: str, **expect: float) -> tuple[bool, str]:
                probe = build_probe(
                    spec("prometheus", url=base + "/", query=query, expect=expect), ctx
                )
                observation = await probe.sample()
                return observation.ok, observation.detail

            assert await sample("up") == (True, "value 1")
            assert await sample("up", min=1) == (True, "value 1")
            assert await sample("up", min=2) == (False, "value 1, outside [2, +inf]")
            assert await sample("scalar(42)", min=0, max=100) == (True, "value 42")
            assert await sample("scalar(42)", max=10) == (False, "value 42, outside [-inf, 10]")
            assert await sample("nan") == (False, "value nan, outside [-inf, +inf]")

    asyncio.run(main())


def test_empty_failed_and_unsupported_answers_are_unhealthy() -> None:
    async def main() -> None:
        async with serving(prometheus_app()) as base, context() as ctx:

            async def sample(query: str) -> tuple[bool, str]:
                probe = build_probe(spec("prometheus", url=base, query=query), ctx)
                observation = await probe.sample()
                return observation.ok, observation.detail

            assert await sample("absent_metric") == (False, "empty result")
            assert await sample("up{") == (
                False,
                "query failed (HTTP 400): parse error: unexpected end",
            )
            assert await sample("up[5m]") == (
                False,
                "unsupported result type 'matrix': want an instant vector or a scalar",
            )

    asyncio.run(main())


def test_a_non_json_answer_is_unhealthy() -> None:
    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>login</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/api/v1/query", html)

    async def main() -> None:
        async with serving(app) as base, context() as ctx:
            observation = await build_probe(spec("prometheus", url=base, query="up"), ctx).sample()
            assert not observation.ok
            assert observation.detail.startswith("JSONDecodeError: ")

    asyncio.run(main())
