"""A PostgreSQL cluster a scheduler test may stop and start again."""

from tests.integration.history.cluster import own_postgresql  # noqa: F401
