"""``gameday history copy``: a store's history into another, of either kind (docs/fleet.md).

A laptop's SQLite history goes into the fleet's PostgreSQL store, or a fleet's history comes
down into a file, with one command that can be run again: what the target has already is
skipped (``gameday.history.transfer``).
"""

from __future__ import annotations

from pathlib import Path

from gameday.errors import InvalidInputError
from gameday.history.location import store_location
from gameday.history.store import HistoryStore
from gameday.history.transfer import CopyCounts


def copy_history(source: str | Path | None, target: str | Path) -> CopyCounts:
    """Copy the finished runs and skipped fire times of ``source`` (default
    ``store_location()``) into ``target``, both created or migrated to the latest schema."""
    origin, destination = store_location(source), store_location(target)
    if origin.path is not None and not origin.path.is_file():
        raise InvalidInputError(
            f"--from: {origin} does not exist", hint="give the history store to copy from"
        )
    same_file = (
        origin.path is not None
        and destination.path is not None
        and destination.path.exists()
        and origin.path.samefile(destination.path)
    )
    if same_file or (origin.url is not None and origin.url == destination.url):
        raise InvalidInputError(
            f"--from and --to are the same store ({origin})",
            hint="give the store to copy into with --to",
        )
    with HistoryStore(origin) as reading, HistoryStore(destination) as writing:
        return writing.restore(reading.archive())
