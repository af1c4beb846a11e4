"""Whether a call reads, writes or destroys (DESIGN.md "Safety" 8; docs/audit.md).

The rule reads what botocore's service models say of an operation: its name and its HTTP
method. The gateway runs it on every request with the request's own method, which for the
REST protocols is the model's (the route was matched by it) and for the others is POST.

1. the reviewed table of exceptions (``call_exceptions``) first;
2. a destructive verb (the operation's first word: ``DeleteTable``, ``TerminateInstances``;
   after ``Batch`` or ``Transact``, the next one: ``BatchDeleteImage``) is ``destructive``;
3. a read verb (``Get``, ``List``, ``Describe``...) is ``read``;
4. an HTTP DELETE is ``destructive``, except ``Untag*`` (tags only);
5. an HTTP GET or HEAD is ``read``;
6. anything else is ``write``.

>>> class_of("dynamodb", "DeleteTable", "POST")
<CallClass.DESTRUCTIVE: 'destructive'>
"""

from __future__ import annotations

import functools
import re

from gameday.gateway.call_exceptions import exception_table
from gameday.kinds import CallClass

DESTRUCTIVE_VERBS = frozenset(
    {"Delete", "Terminate", "Remove", "Deregister", "Detach", "Disable", "Deactivate", "Revoke",
     "Purge", "Disassociate", "Unassign", "Unlink", "Release", "Deprovision", "Destroy", "Drop"}
)  # fmt: skip
"""Verbs of operations after which something is gone or cut off."""

READ_VERBS = frozenset(
    {"Get", "List", "Describe", "Head", "Search", "Query", "Scan", "Select", "Lookup", "Filter",
     "Check", "Validate", "Estimate", "Simulate", "Download", "Decode", "Discover", "Is",
     "Verify", "Test"}
)  # fmt: skip
"""Verbs of operations that change nothing."""

_COMPOUND = frozenset({"Batch", "Transact"})
"""Prefixes whose next word is the verb: ``BatchDeleteImage`` deletes, ``BatchGetItem`` reads."""

_TAGS_ONLY = "Untag"
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z]|$)|[A-Z][a-z0-9]*|[a-z0-9]+")


def verb(operation: str) -> str:
    """The operation's verb: its first word, or its second after ``Batch``/``Transact``."""
    words: list[str] = _WORD.findall(operation)
    if not words:
        return ""
    if words[0] in _COMPOUND and len(words) > 1:
        return words[1]
    return words[0]


@functools.lru_cache(maxsize=4096)
def class_of(service: str | None, operation: str | None, method: str) -> CallClass:
    """The class of one call; ``method`` is the HTTP method (the request's, or the model's).

    A call the gateway could not name (``operation`` None) is classed by its method alone.
    """
    method = method.upper()
    if service is not None and operation is not None:
        known = exception_table().get((service, operation))
        if known is not None:
            return known
    word = verb(operation) if operation else ""
    if word in DESTRUCTIVE_VERBS:
        return CallClass.DESTRUCTIVE
    if word in READ_VERBS:
        return CallClass.READ
    if method == "DELETE" and word != _TAGS_ONLY:
        return CallClass.DESTRUCTIVE
    if method in ("GET", "HEAD"):
        return CallClass.READ
    return CallClass.WRITE
