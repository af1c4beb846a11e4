"""The http probe's ``headers``: sent with every request, ``${NAME}`` read from gameday's
environment when the probe is built, and that value then redacted everywhere."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from pydantic import ValidationError

from gameday.probes import ProbeError, build_probe
from gameday.redact import REDACTED, redact
from tests.integration.probes._support import context, serving, spec


def test_headers_are_sent_with_variables_resolved_and_their_values_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAGER_HEADER_VALUE", "pager-value-0123456789")
    seen: list[tuple[str | None, str | None]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.headers.get("Authorization"), request.headers.get("X-Team")))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/ok", handle)

    async def main() -> None:
        async with serving(app) as base, context(app_url=base) as ctx:
            headers = {"Authorization": "Bearer ${PAGER_HEADER_VALUE}", "X-Team": "payments"}
            probe = build_probe(spec("http", url="{app}/ok", headers=headers), ctx)
            assert (await probe.sample()).ok
            assert (await probe.sample()).ok

    asyncio.run(main())
    assert seen == [("Bearer pager-value-0123456789", "payments")] * 2
    assert redact("it said pager-value-0123456789") == f"it said {REDACTED}"


def test_an_unset_variable_is_a_probe_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)

    async def main() -> None:
        async with context() as ctx:
            with pytest.raises(ProbeError) as raised:
                build_probe(
                    spec(
                        "http",
                        name="pager",
                        url="http://127.0.0.1:1/",
                        headers={"Authorization": "Bearer ${NOT_SET_ANYWHERE}"},
                    ),
                    ctx,
                )
            assert raised.value.message == (
                "probe 'pager': headers.Authorization references ${NOT_SET_ANYWHERE}, "
                "which is not set"
            )
            assert raised.value.exit_code == 2

    asyncio.run(main())


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Bad Name": "x"}, "headers: 'Bad Name' is not a header name"),
        ({"X-A": "a\r\nX-B: b"}, "headers.X-A: a value must be one line"),
        ({"X-A": "${1BAD}"}, "headers.X-A: write a variable as ${NAME} (letters, digits, _)"),
        ({"X-A": "${UNCLOSED"}, "headers.X-A: write a variable as ${NAME} (letters, digits, _)"),
    ],
)
def test_malformed_headers_are_refused_by_validation(headers: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        spec("http", url="http://h/", headers=headers)
    assert message in str(raised.value)
