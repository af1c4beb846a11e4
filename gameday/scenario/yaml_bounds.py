"""Bounds on YAML input: its size, its nesting depth and what its aliases expand to.

DESIGN.md "Safety" 7: hostile input never crashes gameday. Scenario and environment files are
a few KiB, nested about six levels, and use an alias or two if any; a hostile one can be
nested 50,000 levels (ruamel's C composer recurses once per level and crashes the process) or
be a "billion laughs" document (ten anchors, each aliased ten times by the next: 1 KiB of text,
10^9 nodes). Both are refused here, on the parser's *event stream*, before any node or Python
object is built: the event parsers (libyaml's and ruamel's pure one) keep their state on the
heap, and the check stops at the first event past a bound, so it neither recurses nor expands.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gameday.errors import InvalidInputError, ScenarioError

MAX_BYTES = 1024 * 1024
"""A YAML file gameday reads is at most 1 MiB (the shipped scenarios are under 5 KiB; AWS caps
a CloudFormation template at 1 MB). Beyond it, even a valid file takes seconds to locate."""
MAX_DEPTH = 64
"""Lists and mappings inside one another, aliases expanded; a scenario needs about six."""
MAX_ALIAS_NODES = 10_000
"""Nodes that aliases may add to a document in all, counting what each alias repeats."""

_LIMIT = f"{MAX_BYTES // (1024 * 1024)} MiB"
_CAP = MAX_ALIAS_NODES + 1  # node counts saturate here: the numbers stay small


def read_bounded(path: Path) -> bytes:
    """The bytes of ``path``, refused past ``MAX_BYTES`` without reading further."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_BYTES + 1)
            size = os.fstat(stream.fileno()).st_size
    except OSError as error:
        raise InvalidInputError(f"{path}: cannot read: {error.strerror or error}") from None
    if len(raw) > MAX_BYTES:
        given = f"{size:,} bytes" if size > MAX_BYTES else f"more than {MAX_BYTES:,} bytes"
        raise InvalidInputError(
            f"{path}: {given}, over the {_LIMIT} limit on a YAML file gameday reads "
            "(scenarios and environment files are a few KiB): not read; trim it"
        )
    return raw


def check_yaml_bounds(path: Path, text: str) -> None:
    """Refuse ``text`` if it is too large, nested too deep, or expands too much through its
    aliases; each refusal names ``path``, the line and column, and the bound.

    A syntax error ends the check where it is: the loader reports it there, and builds
    nothing past it. The C parser's events are checked first (fast); when it stops at an
    error, the pure parser's are checked too, since that is the one the loader then uses to
    place the error, and it may read further.
    """
    if len(text) > MAX_BYTES:
        raise InvalidInputError(
            f"{path}: {len(text):,} characters, over the {_LIMIT} limit on a YAML document"
        )
    from ruamel.yaml.error import YAMLError  # noqa: PLC0415 (lazy, as in the loader)

    stopped = (YAMLError, ValueError, ArithmeticError)  # a syntax error, reported by the loader
    try:
        _check_events(path, _c_events(text))
        return
    except stopped:
        pass
    with contextlib.suppress(*stopped):
        _check_events(path, _pure_events(text))


def _c_events(text: str) -> Iterator[Any]:
    try:
        from _ruamel_yaml import CParser  # type: ignore[import-not-found]  # noqa: PLC0415
    except ImportError:  # ruamel.yaml.clib missing: the loader is the pure one too
        yield from _pure_events(text)
        return
    parser = CParser(text)
    try:
        while (event := parser.get_event()) is not None:
            yield event
    finally:
        parser.dispose()


def _pure_events(text: str) -> Iterator[Any]:
    from ruamel.yaml import YAML  # noqa: PLC0415

    yield from YAML(typ="rt", pure=True).parse(text)


def _check_events(path: Path, events: Iterable[Any]) -> None:
    """Walk the events once, keeping per open collection [nodes, height, anchor]: the nodes it
    holds with aliases expanded, its height in collections, and its anchor. A closed anchored
    collection leaves its (nodes, height) for the aliases to it; an alias adds its anchor's
    nodes to the document's budget and its height to the depth where it stands."""
    from ruamel.yaml.events import (  # noqa: PLC0415
        AliasEvent,
        MappingEndEvent,
        MappingStartEvent,
        ScalarEvent,
        SequenceEndEvent,
        SequenceStartEvent,
    )

    starts = (SequenceStartEvent, MappingStartEvent)
    ends = (SequenceEndEvent, MappingEndEvent)
    open_: list[list[Any]] = []
    anchors: dict[str, tuple[int, int] | list[Any]] = {}
    added = 0
    for event in events:
        kind = type(event)
        if kind is ScalarEvent:
            nodes, height = 1, 0
            if event.anchor:
                anchors[event.anchor] = (1, 0)
        elif kind in starts:
            if len(open_) >= MAX_DEPTH:
                raise _refuse(
                    path,
                    event,
                    f"nested more than {MAX_DEPTH} levels deep (lists and mappings inside one "
                    "another; gameday's files need about six): flatten it",
                )
            frame = [1, 0, event.anchor]
            if event.anchor:
                anchors[event.anchor] = frame
            open_.append(frame)
            continue
        elif kind in ends:
            frame = open_.pop()
            nodes, height = frame[0], frame[1] + 1
            if frame[2] and anchors.get(frame[2]) is frame:
                anchors[frame[2]] = (nodes, height)
        elif kind is AliasEvent:
            target = anchors.get(event.anchor)
            if isinstance(target, list):
                raise _refuse(
                    path,
                    event,
                    f"the alias *{event.anchor} is inside the anchor &{event.anchor} it repeats: "
                    "a document that contains itself",
                )
            nodes, height = target or (1, 0)  # an undefined alias: the loader reports it
            added += nodes
            if added > MAX_ALIAS_NODES:
                raise _refuse(
                    path,
                    event,
                    f"aliases expand the document by more than {MAX_ALIAS_NODES:,} nodes (at "
                    f"*{event.anchor}); gameday refuses documents that multiply themselves "
                    "through aliases: write the repeated values out",
                )
            if len(open_) + height > MAX_DEPTH:
                raise _refuse(
                    path,
                    event,
                    f"the alias *{event.anchor} nests its anchor's content more than "
                    f"{MAX_DEPTH} levels deep",
                )
        else:
            continue
        if open_:
            top = open_[-1]
            top[0] = min(top[0] + nodes, _CAP)
            top[1] = max(top[1], height)


def _refuse(path: Path, event: Any, message: str) -> ScenarioError:
    mark = event.start_mark
    return ScenarioError([f"{path}:{mark.line + 1}:{mark.column + 1}: YAML refused: {message}"])
