"""``POST /marks``: marks from a second person or a chat bot, on loopback, during a
facilitated run. ``GET /marks`` lists them with the checklist.

    curl -X POST http://127.0.0.1:PORT/marks -H 'Authorization: Bearer T' \\
         -d '{"kind": "detected", "author": "bob", "note": "pager fired"}'

The server runs on the drill's event loop (aiohttp), so a mark lands on the same timeline as
a key press, at the moment the request is handled.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gameday.errors import InvalidInputError
from gameday.facilitation.session import (
    MAX_AUTHOR_CHARS,
    MAX_NOTE_CHARS,
    Facilitator,
    MarkError,
)
from gameday.gateway.models import describe_validation_error
from gameday.kinds import MarkKind
from gameday.listen import is_loopback

MAX_BODY_BYTES = 4096
HTTP_AUTHOR = "http"
"""The author of a posted mark that names none."""


class MarkBody(BaseModel):
    """The body of ``POST /marks``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["detected", "mitigation", "recovered", "note", "step"]
    note: str = Field(default="", max_length=MAX_NOTE_CHARS)
    author: str = Field(default=HTTP_AUTHOR, min_length=1, max_length=MAX_AUTHOR_CHARS)
    step: int | None = None


def check_loopback(host: str) -> str:
    """Marks are taken on loopback only: anyone who can reach the port can mark the drill."""
    if not is_loopback(host):
        raise InvalidInputError(
            f"--marks-listen {host}: the marks API listens on loopback only",
            hint="use 127.0.0.1 (the default) and forward the port if others must reach it",
        )
    return host


def _answer(status: int, payload: object) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(payload, separators=(",", ":")).encode(),
        content_type="application/json",
    )


class MarksApi:
    """The HTTP side of a Facilitator."""

    def __init__(self, facilitator: Facilitator, token: str | None) -> None:
        self.facilitator = facilitator
        self._expected = f"Bearer {token}".encode() if token else None

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post("/marks", self._post)
        app.router.add_get("/marks", self._get)
        return app

    def _refused(self, request: web.Request) -> web.Response | None:
        if self._expected is None:
            return None
        given = request.headers.get("Authorization", "").encode()
        # compare_digest: the time taken must not reveal how much of the token matched.
        if hmac.compare_digest(given, self._expected):
            return None
        response = _answer(401, {"error": "missing or wrong bearer token (--marks-token)"})
        response.headers["WWW-Authenticate"] = 'Bearer realm="gameday marks"'
        return response

    async def _post(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _answer(413, {"error": f"the body is over {MAX_BODY_BYTES} bytes"})
        try:
            body = MarkBody.model_validate_json(raw)
        except ValidationError as error:
            field, message = describe_validation_error(error)
            if error.errors()[0]["type"] == "json_invalid":
                field = "body"
                message = "not valid JSON: " + message.removeprefix("Invalid JSON: ")
            return _answer(400, {"error": f"{field}: {message}", "field": field})
        try:
            mark = self.facilitator.mark(
                MarkKind(body.kind),
                author=body.author,
                note=body.note,
                step=body.step,
                source="http",
            )
        except MarkError as error:
            return _answer(400, {"error": str(error), "field": error.field})
        return _answer(201, mark.model_dump(mode="json"))

    async def _get(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        record = self.facilitator.record()
        return _answer(
            200,
            {
                "marks": [m.model_dump(mode="json") for m in self.facilitator.marks],
                "steps": [s.model_dump(mode="json") for s in record.steps],
            },
        )


@asynccontextmanager
async def serve_marks(facilitator: Facilitator, host: str, port: int) -> AsyncIterator[str]:
    """Serve the marks API on ``host:port`` (0: any free port) until the block ends; yields
    its URL (``http://127.0.0.1:PORT/marks``) and sets ``facilitator.marks_url``."""
    api = MarksApi(facilitator, facilitator.options.marks_token)
    runner = web.AppRunner(api.application(), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, check_loopback(host), port, reuse_address=True)
        try:
            await site.start()
        except OSError as error:
            raise InvalidInputError(
                f"--marks-listen {host}:{port}: cannot listen: {error.strerror or error}",
                hint="pick another port, or 0 for any free one",
            ) from None
        bound = int(runner.addresses[0][1])
        shown = f"[{host}]" if ":" in host else host
        facilitator.marks_url = f"http://{shown}:{bound}/marks"
        yield facilitator.marks_url
    finally:
        await runner.cleanup()
