"""URLs in a scenario, checked when the file is validated instead of when a probe first fails.

A probe URL is ``{app}`` followed by a path (the app's base URL, filled in when the run
starts) or an absolute ``http(s)://`` URL; the app's ``health_url`` is an absolute URL in which
``{port}`` is the port gameday gives the app. A URL without a scheme would otherwise pass
validation and surface only at run time, as "not ready" or "not steady".
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_HOST_FIRST = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?:\d+|\{port\}))?(?:[/?#]|$)")
"""``host[:port]`` then a path, query or the end: a URL that only lacks its scheme."""
_STAND_INS = {"app": "http://app.invalid", "port": "1", "marker": "m"}
_SCHEMES = ("http", "https")


def _no_scheme(value: str) -> bool:
    """Whether ``value`` reads as ``host[:port]/path``: a host with a dot, a port, or localhost."""
    if not _HOST_FIRST.match(value):
        return False
    host = re.split(r"[:/?#]", value, maxsplit=1)[0]
    return "." in host or ":" in value.split("/", 1)[0] or host in ("localhost", "")


def _check_placeholders(value: str, allowed: tuple[str, ...], example: str) -> None:
    for name in _PLACEHOLDER.findall(value):
        if name in allowed:
            continue
        known = ", ".join(f"{{{a}}}" for a in allowed) or "none"
        if name == "port":
            raise ValueError(
                f"{value!r}: '{{port}}' is known only in target.app.health_url; "
                f"write {example} for the app's base URL"
            )
        if name == "app":
            raise ValueError(
                f"{value!r}: '{{app}}' is not known here (this URL defines the app's base "
                f"URL): write {example}"
            )
        if name == "marker":
            raise ValueError(
                f"{value!r}: '{{marker}}' is filled in only in a data probe's write_url and "
                "read.url"
            )
        raise ValueError(f"{value!r}: unknown placeholder '{{{name}}}'; known here: {known}")


def _check_absolute(value: str, *, relative_hint: str) -> None:
    """Refuse anything but an absolute http(s) URL with a host, saying what to write."""
    if "://" not in value:
        if _no_scheme(value):
            raise ValueError(f"{value!r} has no scheme: add it: http://{value}")
        raise ValueError(f"{value!r} is not an absolute URL: {relative_hint}")
    filled = _PLACEHOLDER.sub(lambda m: _STAND_INS.get(m.group(1), "x"), value)
    try:
        parts = urlsplit(filled)
        parts.port  # noqa: B018 -- raises on a port that is not a number
    except ValueError as error:
        raise ValueError(f"{value!r} is not a valid URL ({error})") from None
    if parts.scheme.lower() not in _SCHEMES:
        raise ValueError(
            f"{value!r}: scheme {parts.scheme!r} is not supported; use http:// or https://"
        )
    if not parts.hostname:
        raise ValueError(f"{value!r} has no host: write http://HOST[:PORT]/PATH")


def _path_of(value: str) -> str:
    """``value`` as a path, for an example: ``health`` and ``/health`` both give ``/health``."""
    return value if value.startswith(("/", "?")) else "/" + value


def check_probe_url(value: str, *, placeholders: tuple[str, ...] = ("app",)) -> str:
    """A probe URL: ``{app}`` and a path, or an absolute http(s) URL."""
    if value.startswith("{app}"):
        rest = value.removeprefix("{app}")
        if rest and not rest.startswith(("/", "?", "#")):
            raise ValueError(f"{value!r}: '{{app}}' is the base URL alone: write {{app}}/{rest}")
        _check_placeholders(value, ("app", *placeholders), "{app}")
        return value
    if "{app}" in value:
        raise ValueError(
            f"{value!r}: '{{app}}' stands for the app's whole base URL (scheme, host and "
            "port): start the URL with it, as in {app}/health"
        )
    _check_placeholders(value, placeholders, "{app}")
    path = _path_of(value)
    _check_absolute(value, relative_hint=f"use {{app}}{path} or an absolute URL")
    return value


def check_marker_url(value: str) -> str:
    """A data probe's URL: a probe URL in which ``{marker}`` is the marker's id."""
    return check_probe_url(value, placeholders=("app", "marker"))


def check_health_url(value: str) -> str:
    """The app's health URL: absolute, with ``{port}`` standing for the port it is given."""
    rest = value.removeprefix("{app}")
    example = "http://127.0.0.1:{port}" + (rest if rest.startswith("/") else "/health")
    _check_placeholders(value, ("port",), example)
    _check_absolute(value, relative_hint=f"write the full URL, e.g. {example}")
    return value


ProbeUrl = Annotated[str, AfterValidator(check_probe_url)]
"""``{app}/path`` or an absolute http(s) URL."""
MarkerUrl = Annotated[str, AfterValidator(check_marker_url)]
"""A probe URL in which ``{marker}`` is replaced by each marker's id."""
HealthUrl = Annotated[str, AfterValidator(check_health_url)]
"""An absolute http(s) URL in which ``{port}`` is the app's port."""
