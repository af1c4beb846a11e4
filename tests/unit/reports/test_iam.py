"""The least-privilege report: used actions from every outcome, the policy document, and the
comparison with the app's role policy (wildcards, Deny, actions botocore does not name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gameday.errors import ScenarioError
from gameday.kinds import CallClass
from gameday.reports.iam import (
    NOTHING_SID,
    attempted_calls,
    least_privilege,
    render_iam,
    role_policy_path,
)
from gameday.reports.render import FILE_NAMES, ReportFormat, render, write_reports
from gameday.result import CallAudit, CallCount, GatewayTally, RunResult, ScenarioInfo
from tests.unit.reports.iam_policy import policy_problems
from tests.unit.reports.runs import met_and_missed

CALLS = [
    ("dynamodb", "PutItem", "forwarded", 10),
    ("dynamodb", "PutItem", "error", 4),
    ("dynamodb", "GetItem", "blackhole", 2),
    ("s3", "ListObjectsV2", "forwarded", 3),
    ("s3", "HeadObject", "upstream-error", 1),
    ("sts", "AssumeRoleWithWebIdentity", "forwarded", 1),
    ("sts", "GetCallerIdentity", "forwarded", 2),
    ("unclassified", "-", "refused", 1),
]


def _run(
    calls: list[tuple[str, str, str, int]] = CALLS,
    *,
    spec: dict[str, Any] | None = None,
    file: str = "drill.yaml",
    **overrides: Any,
) -> RunResult:
    base = met_and_missed()
    scenario = ScenarioInfo(name="least", file=file, spec=spec or {"metadata": {"name": "x"}})
    tally = GatewayTally(total=sum(c[3] for c in calls), calls=calls)
    return base.model_copy(update={"scenario": scenario, "gateway": tally, **overrides})


def _with_policy(tmp_path: Path, policy: dict[str, Any]) -> RunResult:
    (tmp_path / "role.json").write_text(json.dumps(policy, indent=2))
    spec = {"metadata": {"name": "x"}, "target": {"role_policy": "role.json"}}
    return _run(spec=spec, file=str(tmp_path / "drill.yaml"))


def test_every_outcome_counts_as_attempted() -> None:
    calls = {(c.service, c.operation): c.count for c in attempted_calls(_run())}
    assert calls[("dynamodb", "PutItem")] == 14
    assert calls[("dynamodb", "GetItem")] == 2
    assert calls[("s3", "HeadObject")] == 1


def test_the_policy_allows_the_used_actions_and_says_what_needs_none() -> None:
    report = least_privilege([_run()])
    assert policy_problems(report["policy"]) == []
    assert report["policy"]["Statement"][0]["Action"] == [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "s3:GetObject",
        "s3:ListBucket",
        "sts:GetCallerIdentity",
    ]
    assert {a["action"]: a["calls"] for a in report["actions"]}["dynamodb:PutItem"] == 14
    assert report["no_action"] == [
        {
            "service": "sts",
            "operation": "AssumeRoleWithWebIdentity",
            "calls": 1,
            "why": "sent unsigned (its model's auth is none): no IAM action",
        },
        {
            "service": "unclassified",
            "operation": "-",
            "calls": 1,
            "why": "botocore has no service model 'unclassified'",
        },
    ]


def test_a_run_without_calls_gets_a_policy_that_allows_nothing() -> None:
    report = least_privilege([_run([])])
    assert policy_problems(report["policy"]) == []
    assert report["policy"]["Statement"] == [
        {"Sid": NOTHING_SID, "Effect": "Deny", "Action": "*", "Resource": "*"}
    ]


def test_runs_whose_calls_were_not_seen_are_set_apart() -> None:
    aws = _run(environment="aws", run_id="aws-run")
    lost = _run(gateway=GatewayTally(read_error="could not read what it saw: refused"))
    assert least_privilege([aws])["policy"] is None
    report = least_privilege([aws, lost, _run()])
    assert report["unseen"] == [
        {
            "run_id": "aws-run",
            "why": "a drill in a real account runs through FIS: no gateway sees the app's calls",
        },
        {
            "run_id": lost.run_id,
            "why": "the gateway's record was lost: could not read what it saw: refused",
        },
    ]
    assert "dynamodb:PutItem" in report["policy"]["Statement"][0]["Action"]


def test_aws_probes_making_the_same_call_are_named() -> None:
    spec = {
        "metadata": {"name": "x"},
        "probes": [
            {"name": "whoami", "kind": "aws", "service": "sts", "call": "get_caller_identity"}
        ],
    }
    actions = {a["action"]: a["probes"] for a in least_privilege([_run(spec=spec)])["actions"]}
    assert actions["sts:GetCallerIdentity"] == ["whoami"]
    assert actions["dynamodb:PutItem"] == []


def test_granted_but_unused_expands_wildcards_and_respects_deny(tmp_path: Path) -> None:
    run = _with_policy(
        tmp_path,
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Orders", "Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
                {"Effect": "Allow", "Action": ["s3:Get*", "s3:ListBucket"], "Resource": "*"},
                {"Effect": "Allow", "Action": ["iam:PassRole", "sts:getcalleridentity"],
                 "Resource": "*"},
                {"Effect": "Deny", "Action": "dynamodb:Delete*", "Resource": "*"},
            ],
        },
    )  # fmt: skip
    (compared,) = least_privilege([run])["role_policies"]
    assert compared["file"] == str(tmp_path / "role.json")
    assert compared["used_not_granted"] == []
    unused = {e["granted"]: e for e in compared["granted_unused"]}
    assert set(unused) == {"dynamodb:*", "s3:Get*", "iam:PassRole"}
    dynamodb = unused["dynamodb:*"]
    assert (dynamodb["statement"], dynamodb["line"]) == ("Statement[0] (Sid Orders)", 4)
    assert dynamodb["used"] == ["dynamodb:GetItem", "dynamodb:PutItem"]
    assert {"dynamodb:Scan", "dynamodb:BatchWriteItem"} <= set(dynamodb["unused"])
    assert not {"dynamodb:GetItem", "dynamodb:DeleteTable"} & set(dynamodb["unused"])
    assert unused["s3:Get*"]["used"] == ["s3:GetObject"]
    assert "s3:GetBucketPolicy" in unused["s3:Get*"]["unused"]
    # Not an API operation, so botocore cannot expand it: the name itself, never used.
    assert unused["iam:PassRole"]["unused"] == ["iam:PassRole"]


def test_used_but_not_granted_names_the_deny(tmp_path: Path) -> None:
    run = _with_policy(
        tmp_path,
        {
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": "*",
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            ]
        },
    )  # fmt: skip
    (compared,) = least_privilege([run])["role_policies"]
    assert compared["used_not_granted"] == [
        {"action": "s3:GetObject", "why": "denied by Statement[1], line 8"},
        {"action": "s3:ListBucket", "why": "denied by Statement[1], line 8"},
    ]
    (everything,) = compared["granted_unused"]
    assert everything["granted"] == "*" and everything["unused"] is None
    assert compared["not_evaluated"] == [
        "Statement[2], line 13: a Deny limited by Resource or Condition"
    ]


def test_a_policy_gone_since_the_run_is_a_clear_error(tmp_path: Path) -> None:
    run = _with_policy(tmp_path, {"Statement": []})
    with pytest.raises(ScenarioError) as caught:
        render_iam([run])
    path = tmp_path / "role.json"
    assert caught.value.problems == [
        f"{path}:1: Statement: expected a statement or a non-empty list"
    ]
    assert caught.value.hint == (
        f"{tmp_path / 'drill.yaml'} names it in target.role_policy; fix or restore it"
    )


def test_a_relative_scenario_path_is_taken_from_the_current_folder() -> None:
    spec = {"target": {"role_policy": "policies/role.json"}}
    assert role_policy_path(_run(spec=spec, file="drills/x.yaml")) == Path(
        "drills/policies/role.json"
    )
    assert role_policy_path(_run()) is None


def test_the_iam_format_is_written_beside_the_other_reports(tmp_path: Path) -> None:
    assert FILE_NAMES[ReportFormat.IAM] == "least-privilege.json"
    (path,) = write_reports([_run()], tmp_path, [ReportFormat.IAM])
    assert path == tmp_path / "least-privilege.json"
    assert json.loads(path.read_text()) == json.loads(render([_run()], ReportFormat.IAM))


def _count(service: str, operation: str, outcome: str, count: int) -> CallCount:
    return CallCount(
        service=service,
        operation=operation,
        outcome=outcome,
        call_class=CallClass.READ,
        count=count,
    )


def test_counted_calls_are_the_apps_alone_and_the_probes_are_left_out() -> None:
    # The ring's tally holds every call the gateway saw, the probes' DescribeLogGroups too;
    # the counted calls say whose each was.
    audit = CallAudit(
        counted=True,
        counts=[_count("dynamodb", "GetItem", "forwarded", 3)],
        probe_counts=[_count("logs", "DescribeLogGroups", "forwarded", 9)],
    )
    ring = [("dynamodb", "GetItem", "forwarded", 3), ("logs", "DescribeLogGroups", "forwarded", 9)]
    result = _run(ring).model_copy(update={"calls": audit})
    assert [(c.service, c.operation, c.count) for c in attempted_calls(result)] == [
        ("dynamodb", "GetItem", 3)
    ]
    (statement,) = least_privilege([result])["policy"]["Statement"]
    assert statement["Action"] == ["dynamodb:GetItem"]
    # Counted even when the ring's tally could not be read.
    lost_ring = result.model_copy(update={"gateway": GatewayTally(read_error="refused")})
    assert least_privilege([lost_ring])["unseen"] == []
    assert [c.operation for c in attempted_calls(lost_ring)] == ["GetItem"]
