"""Bounds on JSON input: how deep its arrays and objects nest, found before it is parsed.

DESIGN.md "Safety" 7: hostile input never crashes gameday. Python's JSON parser recurses once
per level, so a 100,000-deep document is a RecursionError: a 500 from the gateway's admin API,
a traceback from ``gameday import fis``. Both hold a JSON text to a depth first, with the one
check here (the gateway for admin bodies, the FIS import for template files); sizes are bounded
where the text is read.

>>> json_depth_over(b'{"a": [[1]]}', 2)
True
"""

from __future__ import annotations

import re
from pathlib import Path

from gameday.errors import ScenarioError

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_INNERMOST = re.compile(rb"\[\]|\{\}")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def json_depth_over(body: bytes, limit: int) -> bool:
    """Whether a JSON text nests arrays and objects more than ``limit`` deep, found without
    parsing it. Strings are cut out, then one level of empty pairs is removed per pass, at C
    speed."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    for level in range(limit):
        if not brackets:
            return False
        fewer = _INNERMOST.sub(b"", brackets)
        if len(fewer) == len(brackets):
            # Unbalanced: every opening bracket left could still be one more level.
            return level + brackets.count(b"[") + brackets.count(b"{") > limit
        brackets = fewer
    return bool(brackets)


def _first_past(body: bytes, limit: int) -> int:
    """The offset of the first bracket that opens level ``limit + 1`` (0 if none does)."""
    depth = 0
    for token in _TOKEN.finditer(body):
        mark = token.group()
        if mark in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return token.start()
        elif mark in (b"]", b"}"):
            depth -= 1
    return 0


def check_json_depth(path: Path, text: str, limit: int, *, needs: str) -> None:
    """Refuse ``text`` if it nests deeper than ``limit``, naming ``path``, the line and column
    of the first bracket past it, and the bound; ``needs`` says how deep such a file goes."""
    body = text.encode("utf-8", "surrogatepass")
    if not json_depth_over(body, limit):
        return
    before = body[: _first_past(body, limit)].decode("utf-8", "surrogatepass")
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    raise ScenarioError(
        [
            f"{path}:{line}:{column}: JSON refused: nested more than {limit} levels deep "
            f"(arrays and objects inside one another; {needs}): flatten it"
        ]
    )
