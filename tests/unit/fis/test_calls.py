"""Which FIS call failures are worth another try, and which may have taken effect."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from gameday.fis.calls import error_code, is_ambiguous, is_transient

URL = "http://127.0.0.1:9"


def answer(code: str, status: int) -> ClientError:
    """The error botocore raises for an answer with this code and HTTP status."""
    response = {
        "Error": {"Code": code, "Message": f"{code} from the test"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "StopExperiment")


@pytest.mark.parametrize(
    "error",
    [
        answer("ThrottlingException", 400),
        answer("Throttling", 400),
        answer("TooManyRequestsException", 429),
        answer("RequestLimitExceeded", 503),
        answer("InternalServerException", 500),
        answer("ServiceUnavailable", 503),
        answer("Whatever", 502),
        EndpointConnectionError(endpoint_url=URL),
        ConnectTimeoutError(endpoint_url=URL),
        ConnectionClosedError(endpoint_url=URL),
        ReadTimeoutError(endpoint_url=URL),
    ],
    ids=error_code,
)
def test_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        answer("ExpiredToken", 400),
        answer("ExpiredTokenException", 403),
        answer("AccessDeniedException", 403),
        answer("ValidationException", 400),
        answer("ResourceNotFoundException", 404),
        answer("ConflictException", 409),
        NoCredentialsError(),
    ],
    ids=error_code,
)
def test_not_transient(error: BaseException) -> None:
    assert not is_transient(error)


def test_only_what_may_have_reached_fis_is_ambiguous() -> None:
    assert is_ambiguous(ReadTimeoutError(endpoint_url=URL))
    assert is_ambiguous(ConnectionClosedError(endpoint_url=URL))
    assert is_ambiguous(answer("InternalFailure", 500))
    assert not is_ambiguous(EndpointConnectionError(endpoint_url=URL))  # never sent
    assert not is_ambiguous(ConnectTimeoutError(endpoint_url=URL))
    assert not is_ambiguous(answer("ThrottlingException", 400))  # refused before acting


def test_the_code_is_the_aws_one_or_the_exception_name() -> None:
    assert error_code(answer("AccessDeniedException", 403)) == "AccessDeniedException"
    assert error_code(ReadTimeoutError(endpoint_url=URL)) == "ReadTimeoutError"
