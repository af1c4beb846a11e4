"""The app's role policy: what is read, what is refused (file:line: field), and the scenario's
``target.role_policy`` checked by ``gameday validate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameday.errors import ScenarioError
from gameday.scenario.loader import load_scenario
from gameday.scenario.role_policy import (
    MAX_POLICY_BYTES,
    Effect,
    action_matches,
    read_role_policy,
)

POLICY = """{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Table", "Effect": "Allow", "Action": ["dynamodb:Get*", "dynamodb:PutItem"],
     "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/orders"},
    {"Effect": "Allow", "Action": "logs:*", "Resource": "*"},
    {"Effect": "Deny", "Action": "dynamodb:Delete*", "Resource": "*"},
    {"Effect": "Deny", "Action": "logs:DeleteLogGroup", "Resource": "*",
     "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}
  ]
}
"""


def _write(tmp_path: Path, text: str, name: str = "role.json") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        read_role_policy(path)
    return caught.value.problems


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("dynamodb:*", "dynamodb:GetItem", True),
        ("dynamodb:Get*", "dynamodb:GetItem", True),
        ("dynamodb:Get*", "dynamodb:PutItem", False),
        ("dynamodb:getitem", "dynamodb:GetItem", True),
        ("DynamoDB:GetItem", "dynamodb:GetItem", True),
        ("dynamodb:?etItem", "dynamodb:GetItem", True),
        ("dynamodb:?etItem", "dynamodb:BatchGetItem", False),
        ("*", "s3:GetObject", True),
        ("s3:Get*", "s3express:GetObject", False),
        ("dynamodb:Get.tem", "dynamodb:GetItem", False),
    ],
)
def test_actions_match_as_iam_matches_them(pattern: str, action: str, matches: bool) -> None:
    assert action_matches(pattern, action) is matches


def test_a_policy_is_read_with_its_statements_and_lines(tmp_path: Path) -> None:
    policy = read_role_policy(_write(tmp_path, POLICY))
    assert [(s.index, s.line, s.effect, s.sid) for s in policy.statements] == [
        (0, 4, Effect.ALLOW, "Table"),
        (1, 6, Effect.ALLOW, None),
        (2, 7, Effect.DENY, None),
        (3, 8, Effect.DENY, None),
    ]
    assert policy.allows("dynamodb:GetItem") and policy.allows("logs:PutLogEvents")
    assert not policy.allows("sts:GetCallerIdentity")
    assert policy.denied_by("dynamodb:DeleteTable") == policy.statements[2]
    # A Deny under a Condition applies only sometimes: not counted, listed as not evaluated.
    assert policy.denied_by("logs:DeleteLogGroup") is None
    assert policy.partial_denies() == [policy.statements[3]]
    assert policy.statements[0].label == "Statement[0] (Sid Table)"


def test_a_single_statement_object_is_a_policy(tmp_path: Path) -> None:
    text = json.dumps({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}})
    (statement,) = read_role_policy(_write(tmp_path, text)).statements
    assert statement.actions == ("s3:*",)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '{"Statement": [\n {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}',
            "2: Statement[0].NotAction: not supported: what it grants cannot be listed from "
            "the calls seen; write the statement with Action",
        ),
        (
            '{"Statement": [\n\n {"Effect": "Allow", "Action": "s3:*", "Resource": "*",'
            ' "Principal": "*"}]}',
            "3: Statement[0].Principal: a role's policy names no principal (Principal belongs "
            "in a trust or resource policy)",
        ),
        (
            '{"Statement": [{"Effect": "Alow", "Action": "s3:*", "Resource": "*"}]}',
            "1: Statement[0].Effect: expected Allow or Deny, got 'Alow'",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}',
            "1: Statement[0]: needs Resource or NotResource",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Action": "s3 GetObject", "Resource": "*"}]}',
            "1: Statement[0].Action: 's3 GetObject' is not '*' or 'service:Action'",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}',
            "1: Statement[0].Action: expected an action or a non-empty list of them",
        ),
        (
            '{"Version": "2012-10-18", "Statement": [\n'
            '{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}',
            "1: Version: '2012-10-18' is not one of 2012-10-17, 2008-10-17",
        ),
        ('{"Statement": []}', "1: Statement: expected a statement or a non-empty list"),
        ("[1, 2]", "1: expected a policy document (a JSON object with Statement)"),
        (
            '{\n  "Statement": [\n    {"Effect": "Allow",,}]}',
            "3:24: not JSON: Expecting property name enclosed in double quotes",
        ),
        (
            '{"Statement": [\n{"Effect": "Allow", "Effect": "Deny", "Action": "*"}]}',
            "2: Effect: given twice in the same object",
        ),
    ],
)
def test_what_is_not_supported_is_refused_at_its_line(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = _write(tmp_path, text)
    assert _problems(path)[0] == f"{path}:{problem}"


def test_a_huge_file_is_not_read(tmp_path: Path) -> None:
    path = _write(tmp_path, " " * (MAX_POLICY_BYTES + 1))
    assert _problems(path) == [f"{path}: larger than 128 KiB: not a role policy"]


SCENARIO = """apiVersion: gameday/v1
metadata: {{name: fixture}}
target:
  app: demo
  role_policy: {policy}
faults:
  - {{kind: api-fault, mode: throttle, services: [sts], start_after: 1s, duration: 2s}}
probes: [{{name: api, kind: http, url: "{{app}}/health", interval: 250ms}}]
objectives: [{{kind: rto, probe: api, target: 1s}}]
observe: {{max: 10s}}
"""


def test_the_scenario_names_a_policy_next_to_it(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    _write(tmp_path / "policies", POLICY)
    path = _write(tmp_path, SCENARIO.format(policy="policies/role.json"), "drill.yaml")
    assert load_scenario(path).scenario.target.role_policy == "policies/role.json"


def test_a_missing_policy_is_refused_at_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, SCENARIO.format(policy="nowhere.json"), "drill.yaml")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems == [
        f"{path}:5:16: target.role_policy: role policy 'nowhere.json' does not exist"
    ]


def test_a_bad_policy_is_refused_with_both_files_and_lines(tmp_path: Path) -> None:
    policy = _write(tmp_path, '{"Statement": [\n {"Effect": "Allow", "NotAction": "iam:*"}]}')
    path = _write(tmp_path, SCENARIO.format(policy="role.json"), "drill.yaml")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems == [
        f"{path}:5:16: target.role_policy: {policy}:2: Statement[0].NotAction: not supported: "
        "what it grants cannot be listed from the calls seen; write the statement with Action",
        f"{path}:5:16: target.role_policy: {policy}:2: Statement[0]: needs Resource or NotResource",
    ]
