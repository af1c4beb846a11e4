"""A typed, synchronous client of the gateway's admin API, for the engine and scripts.

Standard library HTTP only: this is the control path, used a few times per drill, and it must
work wherever the engine runs.

>>> client = GatewayClient("http://127.0.0.1:4567", token=os.environ.get("GAMEDAY_GATEWAY_TOKEN"))
>>> client.wait_ready(timeout_s=5)
>>> client.add(FaultSpec(id="sts-down", match=FaultMatch(services=("sts",)),
...                      effect=FaultEffect(mode=Mode.UNAVAILABLE), ttl_seconds=60))
"""

from __future__ import annotations

import builtins
import http.client
import json
import time
from typing import TypeVar
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ValidationError

from gameday.errors import EnvironmentFailure, InvalidInputError
from gameday.gateway.models import FaultList, FaultSpec, FaultStatus, Health, RequestPage

_M = TypeVar("_M", bound=BaseModel)


class GatewayError(EnvironmentFailure):
    """The gateway could not be reached, or refused or failed an admin call."""

    def __init__(self, message: str, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


class GatewayClient:
    """One gateway's admin API; each call opens its own short connection."""

    def __init__(self, url: str, token: str | None = None, *, timeout_s: float = 10.0) -> None:
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

    def health(self) -> Health:
        return self._call("GET", "/_gameday/health", Health)

    def add(self, spec: FaultSpec) -> FaultStatus:
        """Inject a fault, or replace the fault with the same id; returns it as held."""
        body = spec.model_dump(mode="json", exclude={"id"})
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

    def list(self) -> builtins.list[FaultStatus]:
        return list(self._call("GET", "/_gameday/faults", FaultList).faults)

    def requests(self, since: int = 0, limit: int | None = None) -> RequestPage:
        """Requests after sequence number ``since``; pass ``page.last_seq`` next time."""
        query = f"?since={int(since)}" + (f"&limit={int(limit)}" if limit is not None else "")
        return self._call("GET", f"/_gameday/requests{query}", RequestPage)

    def wait_ready(self, timeout_s: float = 10.0, interval_s: float = 0.05) -> Health:
        """Poll health until the gateway answers; GatewayError after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.health()
            except GatewayError as error:
                if error.status is not None or time.monotonic() >= deadline:
                    raise GatewayError(
                        f"the gateway at {self.url} was not ready within {timeout_s} s: "
                        f"{error.message}",
                        hint=error.hint,
                        status=error.status,
                    ) from error
            time.sleep(interval_s)

    def _call(self, method: str, path: str, model: type[_M], body: object = None) -> _M:
        payload = self._request(method, path, body)
        try:
            return model.model_validate(payload)
        except ValidationError as error:
            raise GatewayError(
                f"{self.url}: unexpected answer to {method} {path}: {error}"
            ) from error

    def _request(self, method: str, path: str, body: object = None) -> object:
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
            ) from error
        finally:
            connection.close()
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
    raise GatewayError(f"{url}: {method} {path} failed with {status}: {text}", hint, status)
