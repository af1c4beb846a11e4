"""Every FIS call gameday makes, retried while its failure is transient and named when it fails.

``FisCalls`` runs one boto3 call through ``gameday.retrying.retry_call``: throttling, 5xx and
connection errors are retried with backoff within a deadline; anything else, or a transient
failure that outlasts the deadline, becomes a ``FisCallError`` naming the FIS operation, the
ids it was about and the AWS error code. No botocore exception leaves this module.

>>> calls = FisCalls(Backoff(deadline_s=30))
>>> calls("StopExperiment", lambda: fis.stop_experiment(id=eid), about=f"experiment {eid}")
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    HTTPClientError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from gameday.errors import InjectorError
from gameday.retrying import Backoff, retry_call

T = TypeVar("T")

FIS_BACKOFF = Backoff(deadline_s=30.0, first_delay_s=0.5, max_delay_s=8.0)
"""Each FIS call gets 30 s of retries: FIS's API rate quotas are low (a few calls a second),
and a drill polls once a second, so a burst of throttling is the common transient failure."""

THROTTLING_CODES = frozenset(
    {
        # botocore's own list of throttling codes (botocore/retries/standard.py,
        # ThrottledRetryableChecker._THROTTLED_ERROR_CODES), which its standard mode retries.
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset(
    # botocore/retries/standard.py, TransientRetryableChecker._TRANSIENT_ERROR_CODES.
    {"RequestTimeout", "RequestTimeoutException", "InternalFailure", "InternalError"}
    | {"ServiceUnavailable", "ServiceUnavailableException"}
)
# Not transient, on purpose: ExpiredToken / ExpiredTokenException / RequestExpired. Another
# try sends the same expired credentials; only a refresh (a person, or the credential chain
# on its next client) fixes them, and botocore's standard mode does not retry them either.
# AccessDenied and validation errors would only be repeated too.

NOT_FOUND = "ResourceNotFoundException"
CONFLICT = "ConflictException"


def error_code(error: BaseException) -> str:
    """The AWS error code of a failed call, or the botocore exception's name when no answer
    came back (``EndpointConnectionError``, ``ReadTimeoutError``...)."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code")
        if code:
            return str(code)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"HTTP {status}" if status else "ClientError"
    return type(error).__name__


def _status(error: ClientError) -> int:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if isinstance(status, int) else 0


def is_transient(error: BaseException) -> bool:
    """Worth another try: throttling, a 5xx, a connection error or a timeout."""
    if isinstance(error, ClientError):
        code = error_code(error)
        return code in THROTTLING_CODES or code in TRANSIENT_CODES or _status(error) >= 500
    # ConnectionError: EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError;
    # HTTPClientError: ConnectionClosedError, ReadTimeoutError (botocore's own two classes of
    # retryable exceptions, TransientRetryableChecker._TRANSIENT_EXCEPTION_CLS).
    return isinstance(error, BotoConnectionError | HTTPClientError)


def is_ambiguous(error: BaseException) -> bool:
    """The request may have reached FIS and taken effect although no answer says so: the
    connection broke or timed out after it was sent, or a 5xx came back."""
    if isinstance(error, ClientError):
        return _status(error) >= 500
    return isinstance(error, ReadTimeoutError | ConnectionClosedError)


class FisCallError(InjectorError):
    """One FIS call failed for good: not transient, or still failing at its deadline."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        operation: str,
        code: str,
        transient: bool,
        ambiguous: bool,
    ) -> None:
        super().__init__(message, hint)
        self.operation = operation
        self.code = code
        self.transient = transient
        """The last failure was transient: the retries ran out, it may pass later."""
        self.ambiguous = ambiguous
        """Some attempt may have taken effect (a timeout, a broken connection, a 5xx)."""


def _hint(operation: str, code: str) -> str | None:
    if "AccessDenied" in code or code == "UnauthorizedOperation":
        return f"the runner's role needs fis:{operation} on the template and experiment"
    if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
        return "the runner's AWS credentials expired: refresh them (aws sso login, ...)"
    return None


@dataclass
class FisCalls:
    """Runs FIS calls with retries; keeps a line per failed attempt for the result."""

    backoff: Backoff = FIS_BACKOFF
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random | None = None
    failures: list[str] = field(default_factory=list)
    """A line per failed attempt: ``"StopExperiment (experiment EXP...): ThrottlingException
    (attempt 1, retried after 0.31 s)"``."""

    def __call__(self, operation: str, call: Callable[[], T], *, about: str) -> T:
        """``call()`` with retries; ``FisCallError`` naming ``operation`` and ``about``."""
        seen: list[BaseException] = []
        started = self.clock()

        def retried(error: BaseException, attempt: int, delay_s: float) -> None:
            seen.append(error)
            self.failures.append(
                f"{operation} ({about}): {error_code(error)} "
                f"(attempt {attempt}, retried after {delay_s:.2f} s)"
            )

        try:
            return retry_call(
                call,
                transient=is_transient,
                backoff=self.backoff,
                sleep=self.sleep,
                clock=self.clock,
                rng=self.rng,
                on_retry=retried,
            )
        except (BotoCoreError, ClientError) as error:
            seen.append(error)
            code = error_code(error)
            transient = is_transient(error)
            attempts = len(seen)
            ending = "gave up" if transient else "not retried"
            self.failures.append(f"{operation} ({about}): {code} (attempt {attempts}, {ending})")
            after = (
                f" after {attempts} attempts in {self.clock() - started:.1f} s"
                if attempts > 1
                else ""
            )
            detail = (
                error.response.get("Error", {}).get("Message")
                if isinstance(error, ClientError)
                else str(error)
            )
            raise FisCallError(
                f"FIS {operation} failed for {about}{after}: {code}"
                + (f": {detail}" if detail else ""),
                _hint(operation, code),
                operation=operation,
                code=code,
                transient=transient,
                ambiguous=any(is_ambiguous(e) for e in seen),
            ) from error
