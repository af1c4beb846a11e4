"""The gateway's admin API, on the gateway's own port: ``/_gameday/`` (faults, watches,
requests, calls), ``/metrics`` and LocalStack's Chaos API shape under ``/_localstack/chaos/``.

None of these paths is ever forwarded upstream. With a token set, every call here needs
``Authorization: Bearer TOKEN`` or gets 401; a bad body gets 400 naming the field. Bodies are
bounded (size, depth, time to arrive), fault names are checked against botocore's models, and
a Chaos API body is checked whole before any rule in force changes.

>>> admin = AdminApi(store, log, metrics, upstream="http://127.0.0.1:5000", token=None)
>>> response = await admin.handle(request)  # None: not an admin path, forward it
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from gameday.gateway.ledger import MAX_WATCHES, CallLedger
from gameday.gateway.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from gameday.gateway.metrics import GatewayMetrics
from gameday.gateway.models import (
    FAULT_ID_PATTERN,
    ChaosEffects,
    ChaosRule,
    FaultBody,
    FaultList,
    FaultSpec,
    Health,
    WatchList,
    WatchSpec,
    describe_validation_error,
)
from gameday.gateway.store import CHAOS_TTL_S, MAX_FAULTS, FaultStore, RequestLog
from gameday.scenario.json_bounds import json_depth_over
from gameday.scenario.service_names import problem_in

GAMEDAY_PREFIX = "/_gameday/"
CHAOS_PREFIX = "/_localstack/chaos/"
METRICS_PATH = "/metrics"

MAX_ADMIN_BODY = 1024 * 1024

MAX_JSON_DEPTH = 32
"""A fault is 4 levels deep, a list of chaos rules 4; Python's parser recurses once a level."""

_RULES = TypeAdapter(list[ChaosRule])

_M = TypeVar("_M", bound=BaseModel)

_Handler = Callable[[web.BaseRequest, str], Awaitable[web.StreamResponse]]


class AdminError(Exception):
    """An admin call that fails with a status and a message naming what was wrong."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def json_response(payload: object, status: int = 200) -> web.Response:
    if isinstance(payload, BaseModel):
        body = payload.model_dump_json().encode()
    else:
        body = json.dumps(payload, separators=(",", ":")).encode()
    return web.Response(status=status, body=body, content_type="application/json")


def is_sigv4_signed(request: web.BaseRequest) -> bool:
    """Whether the request is an AWS call (an S3 bucket may be named "metrics")."""
    auth = request.headers.get("Authorization", "")
    return auth.startswith("AWS4-") or "X-Amz-Credential=" in request.query_string


class AdminApi:
    """Routes admin paths; ``handle`` returns None for anything that is not one."""

    def __init__(
        self,
        store: FaultStore,
        log: RequestLog,
        metrics: GatewayMetrics,
        *,
        upstream: str,
        token: str | None,
        body_timeout_s: float = 10.0,
        ledger: CallLedger | None = None,
    ) -> None:
        self._store = store
        self._ledger = ledger or CallLedger()
        self._body_timeout_s = body_timeout_s
        self._log = log
        self._metrics = metrics
        self._upstream = upstream
        self._expected_auth = f"Bearer {token}".encode() if token else None
        self._routes: dict[str, dict[str, _Handler]] = {
            "/_gameday/health": {"GET": self._health},
            "/_gameday/faults": {"GET": self._list, "DELETE": self._clear},
            "/_gameday/requests": {"GET": self._requests},
            "/_gameday/calls": {"GET": self._calls},
            "/_gameday/watches": {"GET": self._watches},
            METRICS_PATH: {"GET": self._metrics_text},
            "/_localstack/chaos/faults": {
                "GET": self._chaos_get,
                "POST": self._chaos_set,
                "PATCH": self._chaos_add,
                "DELETE": self._chaos_remove,
            },
            "/_localstack/chaos/effects": {"GET": self._effects_get, "POST": self._effects_set},
        }
        self._fault_routes: dict[str, _Handler] = {
            "GET": self._get_one,
            "PUT": self._put,
            "DELETE": self._remove,
        }
        self._watch_routes: dict[str, _Handler] = {
            "GET": self._get_watch,
            "PUT": self._put_watch,
            "DELETE": self._end_watch,
        }

    def owns(self, request: web.BaseRequest, path: str) -> bool:
        """Whether this path is the admin API's, never to be forwarded."""
        if path.startswith(GAMEDAY_PREFIX) or path.startswith(CHAOS_PREFIX):
            return True
        return path == METRICS_PATH and not is_sigv4_signed(request)

    async def handle(self, request: web.BaseRequest, path: str) -> web.StreamResponse:
        try:
            self._authorize(request)
            methods, arg = self._route(path)
            handler = methods.get(request.method)
            if handler is None:
                allowed = ", ".join(sorted(methods))
                response = _error(405, f"{request.method} is not allowed on {path}")
                response.headers["Allow"] = allowed
                return response
            return await handler(request, arg)
        except AdminError as error:
            response = _error(error.status, error.message, error.field)
            if error.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="gameday"'
            return response

    def _authorize(self, request: web.BaseRequest) -> None:
        expected = self._expected_auth
        if expected is None:
            return
        given = request.headers.get("Authorization", "").encode()
        # compare_digest: the time taken must not reveal how much of the token matched.
        if not hmac.compare_digest(given, expected):
            raise AdminError(401, "missing or wrong bearer token (GAMEDAY_GATEWAY_TOKEN)")

    def _route(self, path: str) -> tuple[dict[str, _Handler], str]:
        methods = self._routes.get(path)
        if methods is not None:
            return methods, ""
        for prefix, routes in (
            ("/_gameday/faults/", self._fault_routes),
            ("/_gameday/watches/", self._watch_routes),
        ):
            if path.startswith(prefix):
                return routes, path[len(prefix) :]
        raise AdminError(404, f"no admin endpoint at {path}")

    async def _health(self, request: web.BaseRequest, _: str) -> web.StreamResponse:
        health = Health(
            status="ok",
            upstream=self._upstream,
            faults=len(self._store.active()),
            requests=self._log.last_seq,
        )
        return json_response(health)

    async def _list(self, request: web.BaseRequest, _: str) -> web.StreamResponse:
        return json_response(FaultList(faults=tuple(self._store.statuses())))

    async def _clear(self, request: web.BaseRequest, _: str) -> web.StreamResponse:
        return json_response({"removed": self._store.clear()})

    async def _get_one(self, request: web.BaseRequest, fault_id: str) -> web.StreamResponse:
        fault = self._store.get(fault_id)
        if fault is None:
            raise AdminError(404, f"no fault {fault_id!r}", "id")
        return json_response(self._store_status(fault_id))

    async def _put(self, request: web.BaseRequest, fault_id: str) -> web.StreamResponse:
        body = await self._read_json(request)
        if not isinstance(body, dict):
            raise AdminError(400, "the body must be a JSON object {match, effect, ttl_seconds}")
        if "id" in body and body["id"] != fault_id:
            raise AdminError(400, f"id {body['id']!r} differs from the path's {fault_id!r}", "id")
        spec = _validate(FaultSpec, {**body, "id": fault_id})
        await _check_names([(spec, "match", False)])
        if self._store.get(fault_id) is None:
            self._check_room(1)
        fault, created = self._store.put(spec)
        return json_response(fault.status_now(self._store.now()), status=201 if created else 200)

    def _check_room(self, adding: int) -> None:
        if len(self._store) + adding > MAX_FAULTS:
            raise AdminError(
                400,
                f"the gateway holds at most {MAX_FAULTS} faults; it has {len(self._store)} "
                f"and this would add {adding}",
            )

    async def _remove(self, request: web.BaseRequest, fault_id: str) -> web.StreamResponse:
        if not self._store.remove(fault_id):
            raise AdminError(404, f"no fault {fault_id!r}", "id")
        return json_response({"removed": 1})

    def _store_status(self, fault_id: str) -> object:
        fault = self._store.get(fault_id)
        if fault is None:
            raise AdminError(404, f"no fault {fault_id!r}", "id")
        return fault.status_now(self._store.now())

    async def _requests(self, request: web.BaseRequest, _: str) -> web.StreamResponse:
        since = _int_param(request, "since") or 0
        limit = _int_param(request, "limit")
        return json_response(self._log.page(since, limit))

    async def _calls(self, request: web.BaseRequest, _: str) -> web.StreamResponse:
        return json_response(self._ledger.page(_int_param(request, "since") or 0))

    async def _watches(self, request: web.BaseRequest, _: str) -> web.StreamResponse:
        return json_response(WatchList(watches=self._ledger.watches.statuses()))

    async def _get_watch(self, request: web.BaseRequest, watch_id: str) -> web.StreamResponse:
        watch = self._ledger.watches.get(watch_id)
        if watch is None:
            raise AdminError(404, f"no watch {watch_id!r}", "id")
        return json_response(watch)

    async def _put_watch(self, request: web.BaseRequest, watch_id: str) -> web.StreamResponse:
        body = await self._read_json(request)
        if not isinstance(body, dict):
            raise AdminError(400, "the body must be a JSON object {ttl_seconds, deny_destructive}")
        if "id" in body and body["id"] != watch_id:
            raise AdminError(400, f"id {body['id']!r} differs from the path's {watch_id!r}", "id")
        spec = _validate(WatchSpec, {**body, "id": watch_id})
        watches = self._ledger.watches
        if watches.get(watch_id) is None and len(watches) >= MAX_WATCHES:
            raise AdminError(400, f"the gateway holds at most {MAX_WATCHES} watches")
        status, created = watches.put(spec)
        return json_response(status, status=201 if created else 200)

    async def _end_watch(self, request: web.BaseRequest, watch_id: str) -> web.StreamResponse:
        if not self._ledger.watches.remove(watch_id):
            raise AdminError(404, f"no watch {watch_id!r}", "id")
        return json_response({"removed": 1})

    async def _metrics_text(self, request: web.BaseRequest, _: str) -> web.StreamResponse:
        response = web.Response(body=self._metrics.render())
        response.headers["Content-Type"] = METRICS_CONTENT_TYPE
        return response

    async def _chaos_get(self, request: web.BaseRequest, _: str) -> web.StreamResponse:
        return self._chaos_rules()

    async def _chaos_set(self, request: web.BaseRequest, _: str) -> web.StreamResponse:
        rules = await self._read_chaos_faults(request)
        self._check_room(len(rules) - len(self._store.chaos_rules()))
        self._store.set_chaos_rules(rules)
        return self._chaos_rules()

    async def _chaos_add(self, request: web.BaseRequest, _: str) -> web.StreamResponse:
        rules = await self._read_chaos_faults(request)
        self._check_room(len(rules))
        self._store.add_chaos_rules(rules)
        return self._chaos_rules()

    async def _chaos_remove(self, request: web.BaseRequest, _: str) -> web.StreamResponse:
        self._store.remove_chaos_rules(await self._read_rules(request))
        return self._chaos_rules()

    async def _read_chaos_faults(
        self, request: web.BaseRequest
    ) -> list[tuple[ChaosRule, FaultBody]]:
        """Every rule of the body as the fault it stands for, all checked before any is used:
        a bad rule anywhere leaves the rules in force untouched."""
        rules = await self._read_rules(request)
        faults: list[tuple[ChaosRule, FaultBody]] = []
        for i, rule in enumerate(rules):
            try:
                faults.append((rule, rule.as_body(CHAOS_TTL_S)))
            except ValidationError as error:
                field, message = describe_validation_error(error)
                raise AdminError(400, f"{i}.{field}: {message}", f"{i}.{field}") from None
        await _check_names([(body, str(i), True) for i, (_, body) in enumerate(faults)])
        return faults

    async def _read_json(self, request: web.BaseRequest) -> object:
        """The body as JSON: at most MAX_ADMIN_BODY bytes, received within the body timeout,
        nested at most MAX_JSON_DEPTH deep; 400, 408 or 413 otherwise."""
        length = request.content_length
        if length is not None and length > MAX_ADMIN_BODY:
            raise AdminError(413, f"the body is {length} bytes; the limit is {MAX_ADMIN_BODY}")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self._body_timeout_s):
                while chunk := await request.content.readany():
                    size += len(chunk)
                    if size > MAX_ADMIN_BODY:
                        raise AdminError(
                            413, f"the body is over the limit of {MAX_ADMIN_BODY} bytes"
                        )
                    chunks.append(chunk)
        except TimeoutError:
            raise AdminError(
                408, f"the body did not arrive within {self._body_timeout_s:g} s"
            ) from None
        body = b"".join(chunks)
        if json_depth_over(body, MAX_JSON_DEPTH):
            raise AdminError(400, f"the body nests deeper than {MAX_JSON_DEPTH} levels", "body")
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise AdminError(400, f"the body is not valid JSON: {error}", "body") from None
        except RecursionError:  # not reached after the depth check; never a 500 if it is
            raise AdminError(400, "the body nests too deeply", "body") from None

    async def _read_rules(self, request: web.BaseRequest) -> list[ChaosRule]:
        body = await self._read_json(request)
        if isinstance(body, dict):
            body = [body]  # one rule alone is taken as a list of one
        try:
            return _RULES.validate_python(body)
        except ValidationError as error:
            field, message = describe_validation_error(error)
            raise AdminError(400, f"{field}: {message}", field) from None

    def _chaos_rules(self) -> web.Response:
        return json_response([rule.to_json() for rule in self._store.chaos_rules()])

    async def _effects_get(self, request: web.BaseRequest, _: str) -> web.StreamResponse:
        return json_response(self._store.effects)

    async def _effects_set(self, request: web.BaseRequest, _: str) -> web.StreamResponse:
        self._store.set_effects(_validate(ChaosEffects, await self._read_json(request)))
        return json_response(self._store.effects)


def _error(status: int, message: str, field: str | None = None) -> web.Response:
    payload: dict[str, Any] = {"error": message}
    if field is not None:
        payload["field"] = field
    return json_response(payload, status=status)


async def _check_names(bodies: list[tuple[FaultBody, str, bool]]) -> None:
    """400 for the first service or operation no request can be classified as. In a thread:
    the first look at a service's operations reads its model (tens of milliseconds; every
    model, about 1.5 s, for operations named without services), and the kill switch must not
    wait for that."""

    def first_problem() -> tuple[str, str] | None:
        for body, field, singular in bodies:
            match = body.match
            problem = problem_in(
                match.services,
                match.exclude_services,
                match.operations,
                field=field,
                singular=singular,
            )
            if problem is not None:
                return problem
        return None

    if not any(b.match.services or b.match.exclude_services or b.match.operations
               for b, _, _ in bodies):  # fmt: skip
        return
    problem = await asyncio.to_thread(first_problem)
    if problem is not None:
        field, message = problem
        raise AdminError(400, f"{field}: {message}", field)


def _validate(model: type[_M], value: object) -> _M:
    try:
        return model.model_validate(value)
    except ValidationError as error:
        field, message = describe_validation_error(error)
        if field == "id":
            message = f"{message} (ids match {FAULT_ID_PATTERN})"
        raise AdminError(400, f"{field}: {message}", field) from None


def _int_param(request: web.BaseRequest, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise AdminError(400, f"{name} must be a whole number, not {raw!r}", name) from None
    if value < 0:
        raise AdminError(400, f"{name} must be 0 or more, not {value}", name)
    return value
