"""``POST /marks`` and ``GET /marks``: a real server on loopback, real HTTP requests."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from gameday.errors import ExitCode, InvalidInputError
from gameday.facilitation.marks_api import MAX_BODY_BYTES, check_loopback, serve_marks
from gameday.facilitation.session import FacilitationOptions, Facilitator
from gameday.kinds import MarkKind
from gameday.recorder import Recorder
from gameday.result import Mark
from gameday.scenario.runbook import RunbookStep

STEPS = [RunbookStep(1, "Declare an incident.", 5), RunbookStep(2, "Fail over.", 6)]
TOKEN = "s3cret-token"


class Ticks:
    """A clock the test sets by hand: mark times are then exact."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _facilitator(token: str | None = None) -> Facilitator:
    recorder = Recorder(clock=Ticks(1042.25), origin=1000.0)
    options = FacilitationOptions(author="alice", marks_token=token)
    return Facilitator(options, recorder, list(STEPS))


Exchange = Callable[[aiohttp.ClientSession, str], Awaitable[None]]


def _serve(facilitator: Facilitator, exchange: Exchange) -> str:
    """Serve the marks API on an ephemeral loopback port for ``exchange``; its URL."""

    async def main() -> str:
        async with (
            serve_marks(facilitator, "127.0.0.1", 0) as url,
            aiohttp.ClientSession() as session,
        ):
            assert facilitator.marks_url == url
            await exchange(session, url)
            return url

    return asyncio.run(main())


async def _post(
    session: aiohttp.ClientSession, url: str, body: bytes | str, token: str | None = None
) -> tuple[int, object]:
    data = body.encode() if isinstance(body, str) else body
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.post(url, data=data, headers=headers) as response:
        assert response.content_type == "application/json"
        return response.status, json.loads(await response.read())


def test_a_posted_mark_lands_on_the_timeline() -> None:
    facilitator = _facilitator()
    answers: list[tuple[int, object]] = []

    async def exchange(session: aiohttp.ClientSession, url: str) -> None:
        body = {"kind": "detected", "author": "bob", "note": "pager fired"}
        answers.append(await _post(session, url, json.dumps(body)))
        answers.append(await _post(session, url, '{"kind": "step", "step": 2}'))

    url = _serve(facilitator, exchange)
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/marks")
    assert int(url.removeprefix("http://127.0.0.1:").removesuffix("/marks")) > 0
    assert answers == [
        (
            201,
            {
                "at": 42.25,
                "kind": "detected",
                "author": "bob",
                "note": "pager fired",
                "step": None,
                "source": "http",
            },
        ),
        (
            201,
            {
                "at": 42.25,
                "kind": "step",
                "author": "http",
                "note": "",
                "step": 2,
                "source": "http",
            },
        ),
    ]
    assert facilitator.marks == [
        Mark(at=42.25, kind=MarkKind.DETECTED, author="bob", note="pager fired", source="http"),
        Mark(at=42.25, kind=MarkKind.STEP, author="http", step=2, source="http"),
    ]
    assert facilitator.recorder.events == [
        (42.25, "mark", "detected by bob via http: pager fired"),
        (42.25, "mark", "step 2 (Fail over.) by http via http"),
    ]


def test_with_a_token_only_its_bearer_may_mark() -> None:
    facilitator = _facilitator(TOKEN)
    answers: list[tuple[int, object]] = []
    challenges: list[str | None] = []

    async def exchange(session: aiohttp.ClientSession, url: str) -> None:
        body = '{"kind": "mitigation"}'
        for token in (None, "wrong", f"{TOKEN}x", TOKEN):
            answers.append(await _post(session, url, body, token))
        async with session.post(url, data=body, headers={"Authorization": TOKEN}) as response:
            challenges.append(response.headers.get("WWW-Authenticate"))
            answers.append((response.status, await response.json()))
        async with session.get(url) as response:
            answers.append((response.status, await response.json()))

    _serve(facilitator, exchange)
    refused = (401, {"error": "missing or wrong bearer token (--marks-token)"})
    assert answers[:3] == [refused, refused, refused]
    assert answers[3][0] == 201
    assert answers[4:] == [refused, refused]
    assert challenges == ['Bearer realm="gameday marks"']
    assert [(m.kind, m.source) for m in facilitator.marks] == [(MarkKind.MITIGATION, "http")]


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        (
            "{",
            {
                "error": "body: not valid JSON: EOF while parsing an object at line 1 column 1",
                "field": "body",
            },
        ),
        (
            "",
            {
                "error": "body: not valid JSON: EOF while parsing a value at line 1 column 0",
                "field": "body",
            },
        ),
        ('["detected"]', {"error": "body: Input should be an object", "field": "body"}),
        (
            '{"kind": "end"}',
            {
                "error": "kind: Input should be 'detected', 'mitigation', 'recovered', 'note' "
                "or 'step'",
                "field": "kind",
            },
        ),
        ("{}", {"error": "kind: Field required", "field": "kind"}),
        (
            '{"kind": "detected", "severity": "high"}',
            {"error": "severity: Extra inputs are not permitted", "field": "severity"},
        ),
        (
            '{"kind": "step", "step": 3}',
            {"error": "step 3: the checklist has steps 1 to 2", "field": "step"},
        ),
        ('{"kind": "step"}', {"error": "a step mark needs the step's number", "field": "step"}),
        (
            '{"kind": "detected", "step": 1}',
            {"error": "step is only for kind 'step', not 'detected'", "field": "step"},
        ),
        ('{"kind": "note"}', {"error": "a note mark needs the note's text", "field": "note"}),
        (
            '{"kind": "note", "note": "  "}',
            {"error": "a note mark needs the note's text", "field": "note"},
        ),
        (
            '{"kind": "detected", "author": ""}',
            {"error": "author: String should have at least 1 character", "field": "author"},
        ),
        (
            json.dumps({"kind": "note", "note": "x" * 501}),
            {"error": "note: String should have at most 500 characters", "field": "note"},
        ),
    ],
    ids=[
        "not-json",
        "empty",
        "not-an-object",
        "unknown-kind",
        "no-kind",
        "extra-key",
        "step-out-of-range",
        "step-without-number",
        "step-on-another-kind",
        "note-without-note",
        "blank-note",
        "empty-author",
        "note-too-long",
    ],
)
def test_a_bad_body_is_refused_with_what_is_wrong(body: str, answer: object) -> None:
    facilitator = _facilitator()
    answers: list[tuple[int, object]] = []

    async def exchange(session: aiohttp.ClientSession, url: str) -> None:
        answers.append(await _post(session, url, body))

    _serve(facilitator, exchange)
    assert answers == [(400, answer)]
    assert facilitator.marks == []


def test_a_body_over_the_limit_is_refused() -> None:
    facilitator = _facilitator()
    answers: list[tuple[int, object]] = []
    padded = '{"kind": "detected"' + " " * (MAX_BODY_BYTES - 20) + "}"

    async def exchange(session: aiohttp.ClientSession, url: str) -> None:
        answers.append(await _post(session, url, padded))
        answers.append(await _post(session, url, padded + " "))

    _serve(facilitator, exchange)
    assert len(padded) == MAX_BODY_BYTES == 4096
    assert answers[0][0] == 201
    assert answers[1] == (413, {"error": "the body is over 4096 bytes"})
    assert len(facilitator.marks) == 1


def test_get_lists_the_marks_and_the_checklist() -> None:
    facilitator = _facilitator()
    facilitator.mark(MarkKind.STEP, step=1)
    listed: list[tuple[int, object]] = []

    async def exchange(session: aiohttp.ClientSession, url: str) -> None:
        await _post(session, url, '{"kind": "note", "note": "from the bot", "author": "bot"}')
        async with session.get(url) as response:
            listed.append((response.status, await response.json()))

    _serve(facilitator, exchange)
    assert listed == [
        (
            200,
            {
                "marks": [
                    {
                        "at": 42.25,
                        "kind": "step",
                        "author": "alice",
                        "note": "",
                        "step": 1,
                        "source": "keys",
                    },
                    {
                        "at": 42.25,
                        "kind": "note",
                        "author": "bot",
                        "note": "from the bot",
                        "step": None,
                        "source": "http",
                    },
                ],
                "steps": [
                    {
                        "number": 1,
                        "text": "Declare an incident.",
                        "ticked_at": 42.25,
                        "ticked_by": "alice",
                    },
                    {"number": 2, "text": "Fail over.", "ticked_at": None, "ticked_by": None},
                ],
            },
        )
    ]


def test_the_server_is_gone_after_the_block() -> None:
    facilitator = _facilitator()

    async def exchange(session: aiohttp.ClientSession, url: str) -> None:
        return None

    url = _serve(facilitator, exchange)
    port = int(url.removeprefix("http://127.0.0.1:").removesuffix("/marks"))
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    assert check_loopback(host) == host


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "example.com"])
def test_only_loopback_is_allowed(host: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_loopback(host)
    assert str(caught.value) == f"--marks-listen {host}: the marks API listens on loopback only"
    assert caught.value.hint == (
        "use 127.0.0.1 (the default) and forward the port if others must reach it"
    )
    assert caught.value.exit_code is ExitCode.INVALID_INPUT


def test_serve_marks_refuses_a_host_that_is_not_loopback() -> None:
    facilitator = _facilitator()

    async def main() -> None:
        async with serve_marks(facilitator, "0.0.0.0", 0):
            raise AssertionError("served on every interface")

    with pytest.raises(InvalidInputError) as caught:
        asyncio.run(main())
    assert str(caught.value) == "--marks-listen 0.0.0.0: the marks API listens on loopback only"
    assert facilitator.marks_url is None


def test_a_port_in_use_is_invalid_input() -> None:
    facilitator = _facilitator()

    async def main() -> None:
        async with serve_marks(facilitator, "127.0.0.1", port):
            raise AssertionError("two servers on one port")

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(InvalidInputError) as caught:
            asyncio.run(main())
    assert str(caught.value) == (
        f"--marks-listen 127.0.0.1:{port}: cannot listen: error while attempting to bind on "
        f"address ('127.0.0.1', {port}): address already in use"
    )
    assert caught.value.hint == "pick another port, or 0 for any free one"
    assert facilitator.marks_url is None
