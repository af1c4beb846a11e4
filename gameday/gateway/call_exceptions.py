"""The reviewed exceptions to the call-class rule (``call_class``), and what the rule cannot see.

Every entry names a real botocore operation and says why the rule's answer is wrong for it.
A test compares this table with tests/fixtures/call_exceptions.txt, so a change here is a
change someone reviews (docs/audit.md "Exceptions").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gameday.kinds import CallClass


@dataclass(frozen=True, slots=True)
class CallException:
    """One operation whose class is not the rule's, and why."""

    service: str
    """botocore service model name."""
    operation: str
    call_class: CallClass
    why: str


_D, _W = CallClass.DESTRUCTIVE, CallClass.WRITE

EXCEPTIONS: tuple[CallException, ...] = (
    # Additions: they destroy, and their names do not say so.
    CallException("kms", "ScheduleKeyDeletion", _D, "the key and all it encrypts are lost"),
    CallException("cloudtrail", "StopLogging", _D, "the audit trail stops: what follows is unseen"),
    CallException("kinesis", "DecreaseStreamRetentionPeriod", _D, "older records are gone"),
    CallException("organizations", "CloseAccount", _D, "the whole account is closed"),
    CallException("organizations", "LeaveOrganization", _D, "the account leaves its guardrails"),
    # Not destructive, though named or sent like a deletion.
    CallException("sqs", "DeleteMessage", _W, "acknowledges a received message"),
    CallException("sqs", "DeleteMessageBatch", _W, "acknowledges received messages"),
    CallException("s3", "AbortMultipartUpload", _W, "drops an unfinished upload's parts"),
    CallException("s3", "CreateSession", _W, "a GET that issues session credentials"),
    CallException("logs", "DeleteRetentionPolicy", _W, "keeps log events forever: nothing is lost"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BlindSpot:
    """A call the rule classes ``write`` that can destroy, depending on what it asks for."""

    service: str
    operation: str
    when: str


BLIND_SPOTS: tuple[BlindSpot, ...] = (
    BlindSpot("cloudformation", "UpdateStack", "an update that replaces or removes resources"),
    BlindSpot("cloudformation", "ExecuteChangeSet", "it replaces or removes resources"),
    BlindSpot("dynamodb", "BatchWriteItem", "it carries DeleteRequest items"),
    BlindSpot("dynamodb", "TransactWriteItems", "it carries Delete actions"),
    BlindSpot("dynamodb", "ExecuteStatement", "a PartiQL DELETE"),
    BlindSpot("dynamodb", "UpdateTable", "it removes a replica region"),
    BlindSpot("route53", "ChangeResourceRecordSets", "a DELETE change"),
    BlindSpot("s3", "PutBucketLifecycleConfiguration", "a rule that expires objects"),
    BlindSpot("ecr", "PutLifecyclePolicy", "a rule that expires images"),
    BlindSpot("logs", "PutRetentionPolicy", "a shorter retention expires older events"),
    BlindSpot("s3", "PutObject", "it overwrites an object in an unversioned bucket"),
    BlindSpot("ecs", "UpdateService", "a desired count of 0"),
    BlindSpot("autoscaling", "SetDesiredCapacity", "a capacity of 0"),
    BlindSpot("lambda", "PutFunctionConcurrency", "a reserved concurrency of 0"),
    BlindSpot("iam", "PutRolePolicy", "a policy that denies what the role needs"),
    BlindSpot("rds-data", "ExecuteStatement", "DROP, DELETE or TRUNCATE in its SQL"),
)  # fmt: skip
"""Seen only in a request's body, which the rule does not read (docs/audit.md "Blind spots")."""


def exception_table() -> Mapping[tuple[str, str], CallClass]:
    """(service, operation) -> class, for the classifier."""
    return {(e.service, e.operation): e.call_class for e in EXCEPTIONS}
