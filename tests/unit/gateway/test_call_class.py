"""The call-class rule over botocore's own models (issue 17, docs/audit.md).

Every operation of the services the fault catalogue names, plus the services apps most often
destroy things in, gets a class; the rule's verbs and methods hold for all of them, and the
reviewed exceptions are exactly those of tests/fixtures/call_exceptions.tsv.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from gameday.faults.catalog import KIND_SERVICES
from gameday.gateway import _models
from gameday.gateway.call_class import DESTRUCTIVE_VERBS, READ_VERBS, class_of, verb
from gameday.gateway.call_exceptions import BLIND_SPOTS, EXCEPTIONS, exception_table
from gameday.kinds import CallClass
from gameday.scenario.service_names import REGISTRY_SERVICE

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "call_exceptions.tsv"

SERVICES = sorted(
    {s for services in KIND_SERVICES.values() for s in services if s != REGISTRY_SERVICE}
    | {"s3", "dynamodb", "ec2", "ecs", "eks", "lambda", "rds", "cloudformation"}
)


def _operations() -> list[tuple[str, str, str]]:
    found = []
    for service in SERVICES:
        for name, operation in _models.load_model(service)["operations"].items():
            found.append((service, name, str(operation.get("http", {}).get("method", "POST"))))
    return found


OPERATIONS = _operations()
D, R, W = CallClass.DESTRUCTIVE, CallClass.READ, CallClass.WRITE


def _classes() -> dict[tuple[str, str], CallClass]:
    return {(s, o): class_of(s, o, m) for s, o, m in OPERATIONS}


def test_every_operation_of_the_catalogue_services_has_a_class() -> None:
    classes = _classes()
    counts = Counter(classes.values())
    # Each class is well represented: a rule that put everything in one class would fail.
    assert len(classes) > 2000, len(classes)
    assert counts[D] > 300 and counts[R] > 700 and counts[W] > 700, counts
    assert sum(counts.values()) == len(OPERATIONS)


def test_the_rule_holds_for_every_operation_outside_the_exceptions() -> None:
    table = exception_table()
    wrong = []
    for service, operation, method in OPERATIONS:
        if (service, operation) in table:
            continue
        got = class_of(service, operation, method)
        word = verb(operation)
        if word in DESTRUCTIVE_VERBS:
            expected = D
        elif word in READ_VERBS:
            expected = R
        elif method == "DELETE" and word != "Untag":
            expected = D
        elif method in ("GET", "HEAD"):
            expected = R
        else:
            expected = W
        if got is not expected:
            wrong.append((service, operation, method, got, expected))
    assert wrong == []


@pytest.mark.parametrize(
    ("service", "operation", "expected"),
    [
        ("dynamodb", "DeleteTable", D),
        ("dynamodb", "DeleteItem", D),
        ("dynamodb", "GetItem", R),
        ("dynamodb", "TransactGetItems", R),
        ("dynamodb", "BatchWriteItem", W),
        ("dynamodb", "PutItem", W),
        ("ec2", "TerminateInstances", D),
        ("ec2", "RevokeSecurityGroupIngress", D),
        ("ec2", "DisassociateAddress", D),
        ("ec2", "ReleaseAddress", D),
        ("ec2", "DescribeInstances", R),
        ("ec2", "RunInstances", W),
        ("ec2", "StopInstances", W),
        ("cloudformation", "DeleteStack", D),
        ("cloudformation", "UpdateStack", W),
        ("lambda", "DeleteFunction", D),
        ("lambda", "UntagResource", W),
        ("s3", "DeleteBucket", D),
        ("s3", "DeleteObjects", D),
        ("s3", "AbortMultipartUpload", W),
        ("s3", "HeadObject", R),
        ("ecr", "BatchDeleteImage", D),
        ("ecr", "BatchGetImage", R),
        ("iam", "DetachRolePolicy", D),
        ("iam", "DeactivateMFADevice", D),
        ("logs", "DeleteLogGroup", D),
        ("logs", "DeleteRetentionPolicy", W),
        ("cloudtrail", "StopLogging", D),
        ("sts", "GetCallerIdentity", R),
        ("sts", "AssumeRole", W),
        ("eks", "DeleteNodegroup", D),
        ("rds", "DeleteDBInstance", D),
        ("ecs", "DeregisterTaskDefinition", D),
    ],
)
def test_known_operations(service: str, operation: str, expected: CallClass) -> None:
    method = dict(((s, o), m) for s, o, m in OPERATIONS).get((service, operation), "POST")
    assert class_of(service, operation, method) is expected


def test_calls_outside_the_catalogue_services() -> None:
    assert class_of("sqs", "DeleteMessage", "POST") is W  # how a queue is read
    assert class_of("sqs", "PurgeQueue", "POST") is D
    assert class_of("kms", "ScheduleKeyDeletion", "POST") is D
    # Registry (v2 API) requests have no model: their own method decides.
    assert class_of(REGISTRY_SERVICE, "DeleteManifest", "DELETE") is D
    assert class_of(REGISTRY_SERVICE, "GetManifest", "GET") is R
    assert class_of(REGISTRY_SERVICE, "PutManifest", "PUT") is W


def test_a_call_the_gateway_could_not_name_is_classed_by_its_method() -> None:
    assert class_of(None, None, "DELETE") is D
    assert class_of(None, None, "get") is R
    assert class_of(None, None, "POST") is W
    assert class_of("s3", None, "HEAD") is R


@pytest.mark.parametrize(
    ("operation", "word"),
    [
        ("DeleteTable", "Delete"),
        ("BatchDeleteImage", "Delete"),
        ("TransactGetItems", "Get"),
        ("Batch", "Batch"),
        ("DBInstanceThing", "DB"),
        ("GetIDs", "Get"),
        ("", ""),
    ],
)
def test_verb(operation: str, word: str) -> None:
    assert verb(operation) == word


def test_the_exceptions_are_the_reviewed_fixture() -> None:
    lines = [
        line.split("\t")
        for line in FIXTURE.read_text().splitlines()
        if line and not line.startswith("#")
    ]
    listed = [(e.service, e.operation, e.call_class.value, e.why) for e in EXCEPTIONS]
    assert listed == [tuple(fields) for fields in lines]


def test_every_exception_and_blind_spot_names_a_real_operation() -> None:
    named = [(e.service, e.operation) for e in EXCEPTIONS]
    named += [(b.service, b.operation) for b in BLIND_SPOTS]
    missing = [
        (service, operation)
        for service, operation in named
        if operation not in _models.operation_names(service)
    ]
    assert missing == []
    assert len(set(named[: len(EXCEPTIONS)])) == len(EXCEPTIONS)  # no entry twice


def test_every_exception_changes_the_rules_answer() -> None:
    # An exception that agrees with the rule is noise in a reviewed table.
    for entry in EXCEPTIONS:
        model = _models.load_model(entry.service)["operations"][entry.operation]
        method = str(model.get("http", {}).get("method", "POST"))
        word = verb(entry.operation)
        by_rule = (
            D
            if word in DESTRUCTIVE_VERBS
            else R
            if word in READ_VERBS
            else D
            if method == "DELETE"
            else R
            if method in ("GET", "HEAD")
            else W
        )
        assert by_rule is not entry.call_class, entry
