"""Bounded input: YAML size, depth and alias expansion, and the duration floors (issue 14,
findings 4 and 11; DESIGN.md "Safety" 7). The process-level cases (a depth that crashed the
interpreter) are in tests/e2e/test_hostile_yaml.py, through the real `gameday validate`."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import ExitCode, InvalidInputError, ScenarioError
from gameday.fis.aws_config import load_aws_environment, parse_aws_environment
from gameday.scenario.durations import (
    FAULT_DURATION,
    FLOORS,
    OBSERVE_MAX,
    PROBE_INTERVAL,
    PROBE_TIMEOUT,
    format_duration,
)
from gameday.scenario.loader import load_scenario, parse_scenario
from gameday.scenario.yaml_bounds import (
    MAX_ALIAS_NODES,
    MAX_BYTES,
    MAX_DEPTH,
    check_yaml_bounds,
    read_bounded,
)

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "scenarios" / "identity-loss.yaml"
HERE = Path("s.yaml")


def _problem(text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(HERE, text)
    assert caught.value.exit_code is ExitCode.INVALID_INPUT
    return caught.value.problems[0]


def _nested_flow(depth: int) -> str:
    """A document of ``depth`` collections: the root mapping and ``depth - 1`` lists."""
    return "x: " + "[" * (depth - 1) + "]" * (depth - 1) + "\n"


def _nested_block(depth: int) -> str:
    """The same in block style: compact nested sequences, two characters a level."""
    return "x:\n  " + "- " * (depth - 1) + "leaf\n"


@pytest.mark.parametrize("shape", [_nested_flow, _nested_block], ids=["flow", "block"])
def test_depth_up_to_the_bound_is_read(shape: object) -> None:
    check_yaml_bounds(HERE, shape(MAX_DEPTH))  # type: ignore[operator]


@pytest.mark.parametrize("shape", [_nested_flow, _nested_block], ids=["flow", "block"])
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 5_000])
def test_deeper_is_refused_with_its_place(shape: object, depth: int) -> None:
    problem = _problem(shape(depth))  # type: ignore[operator]
    line = 1 if shape is _nested_flow else 2
    assert problem.startswith(f"s.yaml:{line}:")
    assert problem.endswith(
        "YAML refused: nested more than 64 levels deep (lists and mappings inside one "
        "another; gameday's files need about six): flatten it"
    )


def test_depth_is_refused_before_a_later_syntax_error() -> None:
    text = "x: " + "[" * 500 + "]" * 500 + "\ny: z: w\n"
    assert "nested more than 64 levels deep" in _problem(text)


def test_a_syntax_error_before_deep_nesting_is_reported_as_such() -> None:
    text = "x: [}\ny: " + "[" * 5_000 + "]" * 5_000 + "\n"
    assert "invalid YAML" in _problem(text)


def _laughs(levels: int, width: int = 10) -> str:
    text = "l0: &l0 [" + ", ".join(["lol"] * width) + "]\n"
    for i in range(1, levels):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]\n"
    return text


def test_billion_laughs_is_refused_at_the_alias_that_crosses_the_budget() -> None:
    problem = _problem(_laughs(10))
    assert problem == (
        "s.yaml:4:45: YAML refused: aliases expand the document by more than 10,000 nodes "
        "(at *l2); gameday refuses documents that multiply themselves through aliases: write "
        "the repeated values out"
    )


def test_a_long_laugh_of_a_hundred_levels_is_refused_just_as_fast() -> None:
    # Node counts saturate at the budget: 2**100 is never computed.
    assert "more than 10,000 nodes" in _problem(_laughs(100, width=2))


def test_aliases_within_the_budget_are_read() -> None:
    check_yaml_bounds(HERE, _laughs(3))  # 10 + 10 * 11 + 10 * 111 nodes added by aliases
    text = "base: &b {interval: 1s, timeout: 2s}\n" + "".join(
        f"p{i}: {{<<: *b, name: p{i}}}\n" for i in range(MAX_ALIAS_NODES // 5)
    )
    check_yaml_bounds(HERE, text)  # each *b adds 5 nodes: exactly the budget
    with pytest.raises(ScenarioError, match="more than 10,000 nodes"):
        check_yaml_bounds(HERE, text + "last: *b\n")


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    # The safe loader builds a list that contains itself; walking it never ended.
    assert _problem("x: &a [1, *a]\n") == (
        "s.yaml:1:11: YAML refused: the alias *a is inside the anchor &a it repeats: a "
        "document that contains itself"
    )


def test_an_anchor_redefined_inside_itself_is_not_a_loop() -> None:
    check_yaml_bounds(HERE, "x: &a [&a [1], *a]\n")


def test_aliases_cannot_stack_depth() -> None:
    text = "a0: &a0 " + "[" * 40 + "1" + "]" * 40 + "\n"
    text += "a1: &a1 " + "[" * 30 + "*a0" + "]" * 30 + "\n"
    assert _problem(text) == (
        "s.yaml:2:39: YAML refused: the alias *a0 nests its anchor's content more than 64 "
        "levels deep"
    )


def test_an_undefined_alias_is_left_to_the_loader() -> None:
    assert "found undefined alias" in _problem("x: *nope\n")


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(SHIPPED.read_bytes() + b"#" * MAX_BYTES)
    with pytest.raises(InvalidInputError) as caught:
        load_scenario(path)
    size = path.stat().st_size
    assert caught.value.message == (
        f"{path}: {size:,} bytes, over the 1 MiB limit on a YAML file gameday reads (scenarios "
        "and environment files are a few KiB): not read; trim it"
    )
    assert caught.value.exit_code is ExitCode.INVALID_INPUT


def test_a_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "padded.yaml"
    shipped = SHIPPED.read_bytes()
    path.write_bytes(shipped + b"#" * (MAX_BYTES - len(shipped)))
    assert len(read_bounded(path)) == MAX_BYTES


def test_an_endless_file_is_read_no_further_than_the_limit() -> None:
    with pytest.raises(InvalidInputError, match=r"more than 1,048,576 bytes, over the 1 MiB"):
        read_bounded(Path("/dev/zero"))


def test_text_over_the_limit_is_refused_however_it_came() -> None:
    with pytest.raises(InvalidInputError, match="over the 1 MiB limit on a YAML document"):
        check_yaml_bounds(HERE, "#" * (MAX_BYTES + 1))


ENV = "apiVersion: gameday/v1\nkind: AwsEnvironment\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ENV + "tags: " + "[" * 500 + "]" * 500 + "\n", "nested more than 64 levels deep"),
        (ENV + _laughs(10), "more than 10,000 nodes"),
        (ENV + "tags: &t {a: *t}\n", "inside the anchor &t it repeats"),
    ],
    ids=["deep", "laughs", "loop"],
)
def test_the_aws_environment_file_has_the_same_bounds(text: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_aws_environment(Path("env.yaml"), text)
    assert caught.value.problems[0].startswith("env.yaml:")
    assert expected in caught.value.problems[0]


def test_an_oversized_aws_environment_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "env.yaml"
    path.write_text(ENV + "#" * MAX_BYTES)
    with pytest.raises(InvalidInputError, match="over the 1 MiB limit"):
        load_aws_environment(path)


# Duration floors (finding 11: `interval: 0.001ms` passed validate, then filled memory).

SCENARIO = """\
apiVersion: gameday/v1
metadata: {{name: floors}}
target: {{regions: [us-east-1], app: demo}}
faults: [{{kind: identity-loss, duration: {duration}}}]
probes: [{{name: api, kind: http, url: '{{app}}/health', interval: {interval}, timeout: {timeout}}}]
objectives: [{{kind: rto, probe: api, target: 1s}}]
observe: {{max: {observe}}}
"""
AT_FLOORS = {"duration": "100ms", "interval": "10ms", "timeout": "10ms", "observe": "1s"}


def test_every_floor_is_itself_accepted() -> None:
    scenario = parse_scenario(HERE, SCENARIO.format(**AT_FLOORS))
    probe = scenario.probes[0]
    assert (probe.interval, probe.timeout) == (PROBE_INTERVAL.seconds, PROBE_TIMEOUT.seconds)
    assert scenario.faults[0].duration == FAULT_DURATION.seconds
    assert scenario.observe.max == OBSERVE_MAX.seconds


@pytest.mark.parametrize(
    ("field", "value", "where", "floor"),
    [
        ("interval", "0.001ms", "5:65: probes[0].interval", PROBE_INTERVAL),
        ("interval", "0s", "5:65: probes[0].interval", PROBE_INTERVAL),
        ("timeout", "9ms", "5:80: probes[0].timeout", PROBE_TIMEOUT),
        ("duration", "99ms", "4:42: faults[0].duration", FAULT_DURATION),
        ("observe", "999ms", "7:16: observe.max", OBSERVE_MAX),
    ],
)
def test_below_a_floor_is_refused_with_the_value_as_written(
    field: str, value: str, where: str, floor: object
) -> None:
    problem = _problem(SCENARIO.format(**{**AT_FLOORS, field: value}))
    shown = format_duration(floor.seconds)  # type: ignore[attr-defined]
    assert problem.startswith(f"s.yaml:{where}: {value} is below the {shown} floor for ")
    assert problem.endswith(f"; use {shown} or more")


def test_a_zero_fault_duration_keeps_its_own_message() -> None:
    problem = _problem(SCENARIO.format(**{**AT_FLOORS, "duration": "0s"}))
    assert problem == "s.yaml:4:42: faults[0].duration: a fault needs a duration above zero"


def test_the_floors_are_all_positive_and_named() -> None:
    assert all(f.seconds > 0 and f.what and f.why for f in FLOORS)
