"""Prometheus text exposition of results: the registry of ``gameday.metrics``, as text.

The series and their meaning are documented once, in ``gameday.metrics``; label values are
escaped by prometheus-client's own exposition code.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import generate_latest

from gameday.metrics import RunCounts, results_registry
from gameday.result import RunResult


def render_prom(results: Sequence[RunResult], run_counts: RunCounts | None = None) -> str:
    """The text format (version 0.0.4) that Prometheus scrapes and node_exporter reads."""
    return generate_latest(results_registry(results, run_counts)).decode("utf-8")
