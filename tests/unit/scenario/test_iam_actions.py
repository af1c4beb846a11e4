"""The IAM action of each call: the signing-name rule, its reviewed exceptions, checked against
the installed botocore."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest

from gameday.faults.catalog import GLOBAL_SERVICES, KIND_SERVICES
from gameday.scenario.botocore_data import service_metadata, service_model_files
from gameday.scenario.iam_actions import (
    ACTION_EXCEPTIONS,
    BY_HTTP_METHOD,
    PREFIX_EXCEPTIONS,
    REGISTRY_ACTIONS,
    actions_for,
    iam_prefix,
    known_actions,
)
from gameday.scenario.service_names import REGISTRY_OPERATIONS
from tests.unit.reports.iam_policy import action_problem

SESSION = botocore.session.get_session()


@pytest.mark.parametrize(
    ("service", "operation", "actions"),
    [
        ("dynamodb", "PutItem", ("dynamodb:PutItem",)),
        ("dynamodbstreams", "GetRecords", ("dynamodb:GetRecords",)),
        ("logs", "PutLogEvents", ("logs:PutLogEvents",)),
        ("sts", "GetCallerIdentity", ("sts:GetCallerIdentity",)),
        ("cloudwatch", "PutMetricData", ("cloudwatch:PutMetricData",)),
        ("ses", "SendEmail", ("ses:SendEmail",)),
        ("sesv2", "SendEmail", ("ses:SendEmail",)),
        ("elbv2", "DescribeLoadBalancers", ("elasticloadbalancing:DescribeLoadBalancers",)),
        ("elb", "DescribeLoadBalancers", ("elasticloadbalancing:DescribeLoadBalancers",)),
        ("es", "ListDomainNames", ("es:ListDomainNames",)),
        ("opensearch", "ListDomainNames", ("es:ListDomainNames",)),
        ("sso-oidc", "CreateTokenWithIAM", ("sso-oauth:CreateTokenWithIAM",)),
        ("sso-admin", "ListInstances", ("sso:ListInstances",)),
        ("identitystore", "ListUsers", ("identitystore:ListUsers",)),
        ("ecr-public", "GetAuthorizationToken", ("ecr-public:GetAuthorizationToken",)),
        ("stepfunctions", "StartExecution", ("states:StartExecution",)),
        ("resourcegroupstaggingapi", "GetResources", ("tag:GetResources",)),
        ("iot-data", "Publish", ("iot:Publish",)),
        ("s3", "ListObjectsV2", ("s3:ListBucket",)),
        ("s3", "HeadObject", ("s3:GetObject",)),
        ("s3", "PutObject", ("s3:PutObject",)),
        ("s3", "CopyObject", ("s3:GetObject", "s3:PutObject")),
        ("lambda", "Invoke", ("lambda:InvokeFunction",)),
        ("apigatewaymanagementapi", "PostToConnection", ("execute-api:ManageConnections",)),
        ("apigateway", "GetRestApis", ("apigateway:GET",)),
        ("apigatewayv2", "CreateApi", ("apigateway:POST",)),
        ("registry", "GetManifest", ("ecr:BatchGetImage",)),
    ],
)
def test_tricky_services_get_their_iam_prefix(
    service: str, operation: str, actions: tuple[str, ...]
) -> None:
    assert actions_for(service, operation).actions == actions


@pytest.mark.parametrize(
    ("service", "operation"),
    [
        ("sts", "AssumeRoleWithWebIdentity"),
        ("sts", "AssumeRoleWithSAML"),
        ("sso", "GetRoleCredentials"),
        ("sso-oidc", "CreateToken"),
        ("cognito-identity", "GetId"),
    ],
)
def test_unsigned_operations_need_no_action(service: str, operation: str) -> None:
    mapping = actions_for(service, operation)
    assert mapping.actions == ()
    assert mapping.why_none == "sent unsigned (its model's auth is none): no IAM action"


def test_what_has_no_name_says_why() -> None:
    assert (
        actions_for("unclassified", "-").why_none == "botocore has no service model 'unclassified'"
    )
    assert actions_for("dynamodb", "PutItemz").why_none == (
        "'PutItemz' is not an operation of botocore's 'dynamodb'"
    )
    assert actions_for("registry", "Ping").why_none == (
        "no ECR action authorizes this registry endpoint"
    )


def test_every_prefix_exception_is_a_signing_name_of_an_installed_model() -> None:
    signing = {
        service_metadata(name).get("signingName") or service_metadata(name)["endpointPrefix"]
        for name in service_model_files()
    }
    assert set(PREFIX_EXCEPTIONS) <= signing


def test_every_action_exception_is_an_operation_of_its_model() -> None:
    for service, operation in ACTION_EXCEPTIONS:
        assert operation in SESSION.get_service_model(service).operation_names, operation
    for service in BY_HTTP_METHOD:
        assert SESSION.get_service_model(service).signing_name == "apigateway"


def test_registry_actions_are_ecr_operations() -> None:
    assert set(REGISTRY_ACTIONS) <= REGISTRY_OPERATIONS
    ecr = SESSION.get_service_model("ecr").operation_names
    for actions in REGISTRY_ACTIONS.values():
        assert all(a.startswith("ecr:") and a.removeprefix("ecr:") in ecr for a in actions)


def test_the_rule_names_real_actions_for_the_catalogue_and_common_services() -> None:
    # Every operation of the fault catalogue's services and of the services apps use most.
    services = {s for group in KIND_SERVICES.values() for s in group} | {*GLOBAL_SERVICES} | {
        "s3", "dynamodb", "ec2", "ecs", "eks", "lambda", "rds", "cloudformation", "sqs", "sns",
    }  # fmt: skip
    named = 0
    for service in sorted(services - {"registry"}):
        prefix = iam_prefix(service)
        assert prefix is not None, service
        for operation in SESSION.get_service_model(service).operation_names:
            for action in actions_for(service, operation).actions:
                assert action_problem(action) is None, (service, operation)
                named += 1
    assert named > 1000


def test_known_actions_are_what_wildcards_stand_for() -> None:
    dynamodb = known_actions("dynamodb")
    assert {"dynamodb:GetItem", "dynamodb:GetRecords", "dynamodb:DeleteTable"} <= dynamodb
    assert "s3:ListBucket" in known_actions("s3")
    assert "ecr:GetDownloadUrlForLayer" in known_actions("ecr")
    assert known_actions("cloudwatch") and not known_actions("monitoring")


def test_docs_list_every_prefix_exception() -> None:
    audit = (Path(__file__).resolve().parents[3] / "docs" / "audit.md").read_text()
    for signing, prefix in PREFIX_EXCEPTIONS.items():
        assert f"`{prefix}:Op`" in audit, prefix
        assert f"`{signing}`" in audit or signing == "IoTSecuredTunneling", signing
    assert "`execute-api:ManageConnections`" in audit and "`lambda:InvokeFunction`" in audit
