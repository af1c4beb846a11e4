"""Where the history lives: a SQLite file (one machine) or a PostgreSQL URL (a fleet).

``--store`` and ``GAMEDAY_STORE`` take either: ``postgresql://`` (or ``postgres://``) makes
it a PostgreSQL store, anything else is a path. A URL is shown only redacted: its password
(when it carries one, rather than leaving it to ``PGPASSWORD`` or ``.pgpass``) is remembered
as a secret of this process, so that it is redacted wherever it would appear.

>>> store_location("postgresql://drills:s3cret-pw@db:5432/gameday").shown
'postgresql://drills:[redacted]@db:5432/gameday'
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from gameday.errors import InvalidInputError
from gameday.redact import redact, remember_secret

DEFAULT_STORE = Path(".gameday/history.db")
POSTGRESQL_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """A history store: ``path`` for SQLite, ``url`` for PostgreSQL (exactly one is set)."""

    path: Path | None = None
    url: str | None = None

    @property
    def is_postgresql(self) -> bool:
        """Whether the store is a PostgreSQL database."""
        return self.url is not None

    @property
    def shown(self) -> str:
        """How the store is named in messages and logs: the path, or the redacted URL."""
        return redact(self.url) if self.url is not None else str(self.path)

    def __str__(self) -> str:
        return self.shown


def _postgresql(url: str) -> StoreLocation:
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
        query = urllib.parse.parse_qs(parts.query)
    except ValueError as error:
        raise InvalidInputError(
            f"--store: {redact(url)}: not a PostgreSQL URL: {error}",
            hint="give postgresql://USER@HOST:PORT/DATABASE (the password from PGPASSWORD or "
            "~/.pgpass)",
        ) from None
    # The redactor looks for the percent-encoded spelling of a secret as well.
    remember_secret(password and urllib.parse.unquote(password))
    for value in query.get("password", []):
        remember_secret(value)
    return StoreLocation(url=url)


def store_location(given: str | Path | StoreLocation | None = None) -> StoreLocation:
    """The store ``given`` (``--store``), else ``$GAMEDAY_STORE`` when set and not empty,
    else ``.gameday/history.db``."""
    if isinstance(given, StoreLocation):
        return given
    text = str(given) if given is not None else os.environ.get("GAMEDAY_STORE") or ""
    if not text:
        return StoreLocation(path=DEFAULT_STORE)
    scheme = text.partition("://")[0].lower() if "://" in text else ""
    if scheme in POSTGRESQL_SCHEMES:
        return _postgresql(text)
    if scheme:
        raise InvalidInputError(
            f"--store: {redact(text)}: {scheme}:// is not a history store",
            hint="give a file path (SQLite) or a postgresql:// URL",
        )
    if isinstance(given, Path):
        return StoreLocation(path=given)
    return StoreLocation(path=Path(text))
