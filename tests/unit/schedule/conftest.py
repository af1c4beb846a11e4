"""The scheduler's store tests run on a SQLite file and on a real PostgreSQL database."""

from tests.history_stores import where  # noqa: F401
