"""Every history test runs on a SQLite file and on a real PostgreSQL database."""

from tests.history_stores import where  # noqa: F401
from tests.integration.history.cluster import own_postgresql  # noqa: F401
