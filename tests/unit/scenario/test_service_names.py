"""The names a fault may use are those the gateway's classifier gives requests: one list, read
from botocore's data without importing botocore, for validate and the gateway alike."""

from __future__ import annotations

import pytest

from gameday.gateway import _models
from gameday.scenario.service_names import (
    REGISTRY_SERVICE,
    name_problems,
    operations_of,
    problem_in,
    service_names,
)


def test_the_names_are_the_classifiers() -> None:
    index = _models.service_index()
    assert service_names() == (
        set(index.services) | set(index.by_signing_name) | {REGISTRY_SERVICE}
    )
    for signing_name, metas in index.by_signing_name.items():
        expected = frozenset().union(*(_models.operation_names(m.name) for m in metas))
        if signing_name in index.services:
            expected |= _models.operation_names(signing_name)
        assert operations_of(signing_name) == expected, signing_name


@pytest.mark.parametrize(
    ("services", "operations", "expected"),
    [
        (("monitoring",), ("PutMetricData",), []),  # a signing name
        (("dynamodb",), ("GetRecords",), []),  # dynamodbstreams is signed as dynamodb
        (("registry",), ("GetManifest",), []),
        (("dynamo", "iamm"), ("Nope",), [
            ("services", 0, "unknown service 'dynamo' (did you mean dynamodb?)"),
            ("services", 1, "unknown service 'iamm' (did you mean iam?)"),
        ]),
        (("sts",), ("AssumeRole", "GetCallerIdentty"), [
            ("operations", 1, "no service of this fault (sts) has an operation "
             "'GetCallerIdentty' (did you mean GetCallerIdentity or GetWebIdentityToken?)"),
        ]),
        (("zzzzzz",), (), [
            ("services", 0, "unknown service 'zzzzzz' (no close match among botocore's names)"),
        ]),
    ],
)  # fmt: skip
def test_every_problem_is_named_with_its_place(
    services: tuple[str, ...], operations: tuple[str, ...], expected: list[tuple[str, int, str]]
) -> None:
    found = name_problems(services, operations)
    assert [(p.field, p.index, p.message) for p in found] == expected


def test_the_gateways_fields_name_the_first_problem() -> None:
    assert problem_in(("sts",), ("iamm",), (), field="match") == (
        "match.exclude_services.0",
        "unknown service 'iamm' (did you mean iam?)",
    )
    assert problem_in(("dynamodb",), (), ("PutItemz",), field="3", singular=True) == (
        "3.operation",
        "no service of this fault (dynamodb) has an operation 'PutItemz' "
        "(did you mean PutItem, UpdateItem or GetItem?)",
    )
    assert problem_in(("sts",), (), ("AssumeRole",), field="match") is None
