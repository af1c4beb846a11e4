"""A probe may take at most MAX_SAMPLES_PER_PROBE samples in a drill (guardrails.max_duration
over its interval): every sample is kept to the end of the run, so a 10 ms probe over a long
max_duration held millions of them (issue 14, finding 11, beyond the interval floor)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import ScenarioError
from gameday.scenario.durations import MAX_SAMPLES_PER_PROBE, parse_duration, too_many_samples
from gameday.scenario.loader import parse_scenario

HERE = Path("s.yaml")
SCENARIO = """\
apiVersion: gameday/v1
metadata: {{name: samples}}
target: {{regions: [us-east-1], app: demo}}
faults: [{{kind: identity-loss, duration: 1s}}]
probes:
  - {{name: api, kind: http, url: '{{app}}/health', interval: {interval}, timeout: 1s}}
  - {{name: pager, kind: alert, interval: 10ms}}
objectives: [{{kind: rto, probe: api, target: 1s}}]
observe: {{max: 10s}}
{guardrails}"""


def _scenario(interval: str, max_duration: str | None) -> str:
    rails = f"guardrails: {{max_duration: {max_duration}}}\n" if max_duration else ""
    return SCENARIO.format(interval=interval, guardrails=rails)


@pytest.mark.parametrize(
    ("interval", "max_duration"),
    [("10ms", None), ("10ms", "1000s"), ("1s", "27h"), ("36ms", "1h")],
)
def test_up_to_the_cap_is_accepted(interval: str, max_duration: str | None) -> None:
    parse_scenario(HERE, _scenario(interval, max_duration))


def test_past_the_cap_is_refused_with_the_numbers_and_what_to_write() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(HERE, _scenario("10ms", "1h"))
    # The alert probe (a webhook sink, no samples) is not counted, however short its interval.
    assert caught.value.problems == [
        "s.yaml:6:60: probes[0].interval: interval 10ms over guardrails.max_duration (1h) is "
        f"360,000 samples, over the limit of {MAX_SAMPLES_PER_PROBE:,} per probe (each is kept "
        "to the end of the run: memory grows with them); use interval: 36ms or more, or "
        "guardrails.max_duration: 1000s or less"
    ]


@pytest.mark.parametrize(
    ("interval_s", "max_duration_s", "interval", "max_duration"),
    [(0.01, 1000.001, "11ms", "1000s"), (0.25, 86_400.0, "864ms", "25000s"),
     (0.013, 3600.0, "36ms", "1300s")],
)  # fmt: skip
def test_what_to_write_instead_fits_the_cap(
    interval_s: float, max_duration_s: float, interval: str, max_duration: str
) -> None:
    message = too_many_samples(interval_s, max_duration_s)
    assert message is not None
    assert message.endswith(
        f"use interval: {interval} or more, or guardrails.max_duration: {max_duration} or less"
    )
    assert too_many_samples(parse_duration(interval), max_duration_s) is None
    assert too_many_samples(interval_s, parse_duration(max_duration)) is None
