"""The demo service's HTTP API.

| route | answers |
| --- | --- |
| ``GET /health`` | 200 when every customer-facing path works, else 503; per-component detail |
| ``GET /health/{component}`` | the same for one of credentials, audit_log, registry, orders |
| ``POST /audit/{marker}`` | 202: ``audit marker={marker}`` accepted for CloudWatch Logs |
| ``POST /deploy`` | 200 ``{image, digest, source}``; 404 no such image; 503 ECR failed |
| ``POST /orders/{id}`` | 201 once a region stored it; 503 when none could |
| ``GET /orders/{id}`` | 200 the order; 404 in no region; 503 a region could not be read |

>>> runner = web.AppRunner(build_app(service))
"""

from __future__ import annotations

import json
import logging
import re

from aiohttp import web

from gameday.demo.logs import fields
from gameday.demo.orders import NoRegionAvailableError
from gameday.demo.registry import ImageNotFoundError, RegistryUnavailableError
from gameday.demo.service import COMPONENTS, DemoService

log = logging.getLogger(__name__)

# Printable ASCII without spaces: safe in a DynamoDB key, a log line and a filter pattern.
_KEY = re.compile(r"^[!-~]{1,256}$")

SERVICE_KEY = web.AppKey("service", DemoService)


def build_app(service: DemoService) -> web.Application:
    """The aiohttp application serving ``service``."""
    app = web.Application()
    app[SERVICE_KEY] = service
    app.router.add_get("/health", _health)
    app.router.add_get("/health/{component}", _component_health)
    app.router.add_post("/audit/{marker}", _audit)
    app.router.add_post("/deploy", _deploy)
    app.router.add_post("/orders/{id}", _create_order)
    app.router.add_get("/orders/{id}", _get_order)
    return app


def _key(request: web.Request, name: str) -> str:
    value = request.match_info[name]
    if not _KEY.match(value):
        error = f"{name} must be 1-256 printable ASCII characters without spaces"
        raise web.HTTPBadRequest(text=json.dumps({"error": error}), content_type="application/json")
    return value


def _unavailable(component: str, error: str) -> web.Response:
    log.warning("request failed", extra=fields(component=component, error=error))
    return web.json_response({"error": error, "component": component}, status=503)


async def _health(request: web.Request) -> web.Response:
    health = request.app[SERVICE_KEY].health()
    return web.json_response(health.to_json(), status=200 if health.ok else 503)


async def _component_health(request: web.Request) -> web.Response:
    name = request.match_info["component"]
    if name not in COMPONENTS:
        return web.json_response(
            {"error": f"no component {name!r}; components: {', '.join(COMPONENTS)}"}, status=404
        )
    health = request.app[SERVICE_KEY].health()
    component = health.components[name]
    return web.json_response(component.to_json(), status=200 if component.serving else 503)


async def _audit(request: web.Request) -> web.Response:
    marker = _key(request, "marker")
    service = request.app[SERVICE_KEY]
    try:
        service.audit.write(marker)
    except OSError as error:
        return _unavailable("audit_log", f"spool write failed: {error}")
    return web.json_response({"marker": marker, "spooled": service.config.log_spool}, status=202)


async def _deploy(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    try:
        deployment = await service.registry.deploy(service.clients)
    except ImageNotFoundError as error:
        return web.json_response({"error": str(error)}, status=404)
    except RegistryUnavailableError as error:
        return _unavailable("registry", str(error))
    return web.json_response(deployment.to_json())


async def _create_order(request: web.Request) -> web.Response:
    order_id = _key(request, "id")
    service = request.app[SERVICE_KEY]
    try:
        order = await service.orders.create(service.clients, order_id)
    except NoRegionAvailableError as error:
        return _unavailable("orders", str(error))
    return web.json_response(order.to_json(), status=201)


async def _get_order(request: web.Request) -> web.Response:
    order_id = _key(request, "id")
    service = request.app[SERVICE_KEY]
    try:
        order = await service.orders.get(service.clients, order_id)
    except NoRegionAvailableError as error:
        return _unavailable("orders", str(error))
    if order is None:
        return web.json_response({"error": f"no order {order_id!r}"}, status=404)
    return web.json_response(order.to_json())
