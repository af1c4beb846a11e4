"""``HOST:PORT`` for the servers gameday runs (gateway, scheduler metrics, marks API)."""

from __future__ import annotations

import ipaddress

from gameday.errors import InvalidInputError


def parse_listen(text: str, option: str, example: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` into its parts; InvalidInputError naming ``option``."""
    host, sep, port = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise InvalidInputError(
            f"{option}: cannot read {text!r} as HOST:PORT", hint=f"e.g. {option} {example}"
        )
    return host, int(port)


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
