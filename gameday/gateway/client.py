"""A typed, synchronous client of the gateway's admin API, for the engine and scripts.

Standard library HTTP only: this is the control path, used a few times per drill, and it must
work wherever the engine runs. Every call but ``wait_ready`` retries what may pass (a refused
or dropped connection, a timeout, a 5xx, a 429) for up to ``retry_deadline_s``.

>>> client = GatewayClient("http://127.0.0.1:4567", token=os.environ.get("GAMEDAY_GATEWAY_TOKEN"))
>>> client.wait_ready(timeout_s=5)
>>> client.add(FaultSpec(id="sts-down", match=FaultMatch(services=("sts",)),
...                      effect=FaultEffect(mode=Mode.UNAVAILABLE), ttl_seconds=60))
"""

from __future__ import annotations

import builtins
import http.client
import json
import random
import ssl
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ValidationError

from gameday.errors import EnvironmentFailure, InvalidInputError
from gameday.gateway.models import (
    CallsPage,
    FaultList,
    FaultSpec,
    FaultStatus,
    Health,
    RequestPage,
    WatchList,
    WatchSpec,
    WatchStatus,
)
from gameday.retrying import Backoff, retry_call

_M = TypeVar("_M", bound=BaseModel)


class GatewayError(EnvironmentFailure):
    """The gateway could not be reached, or refused or failed an admin call."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        status: int | None = None,
        *,
        transient: bool = False,
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.transient = transient
        """Another try may succeed: no answer (refused, dropped, timed out), a 5xx or 429."""


def _transient(error: BaseException) -> bool:
    return isinstance(error, GatewayError) and error.transient


class GatewayClient:
    """One gateway's admin API; each call opens its own short connection."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout_s: float = 10.0,
        retry_deadline_s: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInputError(f"gateway URL {url!r} is not an http(s) URL")
        self.url = url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._base_path = parts.path.rstrip("/")
        self._token = token
        self._timeout_s = timeout_s
        self._backoff = Backoff(deadline_s=retry_deadline_s, first_delay_s=0.05, max_delay_s=1.0)
        self._sleep = sleep
        self._clock = clock
        self._rng = rng

    def health(self) -> Health:
        return self._call("GET", "/_gameday/health", Health)

    # Retrying the writes is safe because each is idempotent: a PUT of the same id replaces
    # the fault with the same one (the TTL restarts from the last PUT), and a DELETE of a
    # fault, or of them all, leaves the same state however often it arrives. Only the answer
    # can differ: a DELETE whose first answer was lost gets 404 (remove: False) or
    # {"removed": 0} (clear) on its retry, and a repeated PUT starts the fault's hits at 0.

    def add(self, spec: FaultSpec) -> FaultStatus:
        """Inject a fault, or replace the fault with the same id; returns it as held."""
        # max_hits only when set: a gateway older than it would refuse the field (extra=forbid).
        body = spec.model_dump(mode="json", exclude={"id"})
        if spec.match.max_hits is None:
            del body["match"]["max_hits"]
        return self._call("PUT", f"/_gameday/faults/{quote(spec.id, safe='')}", FaultStatus, body)

    def remove(self, fault_id: str) -> bool:
        """Remove one fault; False if there was none by that id (expired, or never added)."""
        try:
            self._request("DELETE", f"/_gameday/faults/{quote(fault_id, safe='')}")
        except GatewayError as error:
            if error.status == 404:
                return False
            raise
        return True

    def clear(self) -> int:
        """The kill switch: remove every fault; returns how many there were."""
        payload = self._request("DELETE", "/_gameday/faults")
        removed = payload.get("removed") if isinstance(payload, dict) else None
        if not isinstance(removed, int):
            raise GatewayError(f"{self.url}: unexpected answer to DELETE /_gameday/faults")
        return removed

    def add_watch(self, spec: WatchSpec) -> WatchStatus:
        """Watch every call (and refuse destructive ones with ``deny_destructive``) until the
        TTL, or replace the watch with the same id; returns it as held. A gateway older than
        watches answers 404 (GatewayError with that status)."""
        body = spec.model_dump(mode="json", exclude={"id"})
        path = f"/_gameday/watches/{quote(spec.id, safe='')}"
        return self._call("PUT", path, WatchStatus, body)

    def remove_watch(self, watch_id: str) -> bool:
        """End one watch now; False if there was none by that id (expired, or never set)."""
        try:
            self._request("DELETE", f"/_gameday/watches/{quote(watch_id, safe='')}")
        except GatewayError as error:
            if error.status == 404:
                return False
            raise
        return True

    def watches(self) -> builtins.list[WatchStatus]:
        """The watches in force."""
        return list(self._call("GET", "/_gameday/watches", WatchList).watches)

    def list(self) -> builtins.list[FaultStatus]:
        return list(self._call("GET", "/_gameday/faults", FaultList).faults)

    def metrics(self) -> str:
        """``GET /metrics``: the gateway's counters in Prometheus text format (see
        ``gateway.metrics.calls_by_fault``)."""
        return str(self._request("GET", "/metrics", text=True))

    def requests(self, since: int = 0, limit: int | None = None) -> RequestPage:
        """Requests after sequence number ``since``; pass ``page.last_seq`` next time."""
        query = f"?since={int(since)}" + (f"&limit={int(limit)}" if limit is not None else "")
        return self._call("GET", f"/_gameday/requests{query}", RequestPage)

    def calls(self, since: int = 0) -> CallsPage:
        """What the app did: every call counted by class, and the destructive calls after
        sequence number ``since`` (pass ``page.last_seq`` next time)."""
        return self._call("GET", f"/_gameday/calls?since={int(since)}", CallsPage)

    def wait_ready(self, timeout_s: float = 10.0, interval_s: float = 0.05) -> Health:
        """Poll health until the gateway answers; GatewayError after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                # One attempt per turn: this loop is the retry, bounded by timeout_s.
                return self._call("GET", "/_gameday/health", Health, retry=False)
            except GatewayError as error:
                if error.status is not None or time.monotonic() >= deadline:
                    raise GatewayError(
                        f"the gateway at {self.url} was not ready within {timeout_s} s: "
                        f"{error.message}",
                        hint=error.hint,
                        status=error.status,
                    ) from error
            time.sleep(interval_s)

    def _call(
        self, method: str, path: str, model: type[_M], body: object = None, *, retry: bool = True
    ) -> _M:
        payload = self._request(method, path, body, retry=retry)
        try:
            return model.model_validate(payload)
        except ValidationError as error:
            raise GatewayError(
                f"{self.url}: unexpected answer to {method} {path}: {error}"
            ) from error

    def _request(
        self, method: str, path: str, body: object = None, *, retry: bool = True, text: bool = False
    ) -> object:
        """One admin call; with ``retry``, transient failures are tried again until the
        deadline, and the last one is raised with how many attempts it took. ``text``: the
        answer is text (``/metrics``), not JSON."""
        if not retry:
            return self._attempt(method, path, body, text=text)
        attempts = [1]
        started = self._clock()

        def retried(error: BaseException, attempt: int, delay_s: float) -> None:
            attempts.append(attempt + 1)

        try:
            return retry_call(
                lambda: self._attempt(method, path, body, text=text),
                transient=_transient,
                backoff=self._backoff,
                sleep=self._sleep,
                clock=self._clock,
                rng=self._rng,
                on_retry=retried,
            )
        except GatewayError as error:
            if len(attempts) == 1:
                raise
            raise GatewayError(
                f"{error.message} (after {len(attempts)} attempts in "
                f"{self._clock() - started:.1f} s)",
                error.hint,
                error.status,
                transient=error.transient,
            ) from error

    def _attempt(self, method: str, path: str, body: object, *, text: bool = False) -> object:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        connection_class = (
            http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        )
        connection = connection_class(self._host, self._port, timeout=self._timeout_s)
        try:
            connection.request(method, self._base_path + path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as error:
            raise GatewayError(
                f"cannot reach the gateway at {self.url}: {error}",
                hint="is `gameday gateway` running there?",
                # A refused, dropped or timed-out connection may pass; a certificate that
                # does not verify will not.
                transient=not isinstance(error, ssl.SSLError),
            ) from error
        finally:
            connection.close()
        if text and status < 400:
            return raw.decode("utf-8", errors="replace")
        return _decode(self.url, method, path, status, raw)


def _decode(url: str, method: str, path: str, status: int, raw: bytes) -> object:
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = None
    if status < 400:
        if payload is None:
            raise GatewayError(f"{url}: {method} {path} answered {status} without JSON")
        return payload
    message = payload.get("error") if isinstance(payload, dict) else None
    text = message or raw[:200].decode(errors="replace")
    hint = "set the same token as the gateway's (GAMEDAY_GATEWAY_TOKEN)" if status == 401 else None
    raise GatewayError(
        f"{url}: {method} {path} failed with {status}: {text}",
        hint,
        status,
        transient=status == 429 or status >= 500,
    )
