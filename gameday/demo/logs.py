"""Structured log lines on stderr: one JSON object per line, for people and log pipelines.

>>> log.warning("audit lines dropped", extra=fields(count=3, reason="ThrottlingException"))
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# Libraries that log each request or retry at INFO would bury the service's own state changes.
_QUIET = ("botocore", "boto3", "urllib3", "aiohttp.access")


def fields(**values: object) -> dict[str, object]:
    """``extra=`` for a log call: key/value pairs that become fields of the JSON line."""
    return {"fields": values}


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...fields}``; exceptions as one ``error`` field."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            line.update(extra)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """Send every log record to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
