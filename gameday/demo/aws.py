"""boto3 the way many production services use it: sync clients called from worker threads.

Clients are made once. Those acting as the service sign every request with the credentials
the keeper holds *at that moment* (as botocore's own refreshable credentials do), so a refresh
never rebuilds a client or its connection pool. The STS client signs with the environment's
credentials: the identity that assumes the role.

>>> clients = AwsClients(config, current=keeper.current, executor=DaemonExecutor(16))
>>> item = await clients.call(clients.dynamodb("us-east-1").get_item, TableName="orders", ...)
"""

from __future__ import annotations

import asyncio
import functools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, cast

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    Credentials,
    ReadOnlyCredentials,
)
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from gameday.demo.config import DemoConfig

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_sts import STSClient

_P = ParamSpec("_P")
_T = TypeVar("_T")

AWS_ERRORS = (BotoCoreError, ClientError)
"""What a boto3 call raises when AWS (or the way to it) fails: catch these, nothing wider."""

WORKERS = 16
"""Threads for AWS calls; a blackholed endpoint holds one per call for about two timeouts."""


class DaemonExecutor(Executor):
    """A fixed pool of daemon threads.

    ThreadPoolExecutor joins its threads at interpreter exit, so one AWS call stuck on a
    blackholed endpoint would hold the process seconds past SIGTERM. These threads die with it.
    """

    def __init__(self, workers: int = WORKERS, name: str = "aws") -> None:
        # Any: each item pairs a future with the call whose result type it carries.
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None]
        self._queue = queue.SimpleQueue()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{index}", daemon=True)
            for index in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        if self._closed:
            raise RuntimeError("the executor is shut down")
        future: Future[_T] = Future()
        self._queue.put((future, functools.partial(fn, *args, **kwargs)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join()

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, call = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = call()
            except BaseException as error:  # handed to the awaiting coroutine, not swallowed
                future.set_exception(error)
            else:
                future.set_result(result)


class SnsClient(Protocol):
    """The SNS calls the alert path makes: boto3's SNS client, typed here because the project
    installs no SNS stubs."""

    def subscribe(
        self, *, TopicArn: str, Protocol: str, Endpoint: str, ReturnSubscriptionArn: bool
    ) -> dict[str, Any]: ...

    def publish(self, *, TopicArn: str, Message: str, Subject: str) -> dict[str, Any]: ...


class LiveCredentials(Credentials):
    """Credentials read afresh for each signature from ``current``; none there: no call."""

    def __init__(self, current: Callable[[], ReadOnlyCredentials | None]) -> None:
        super().__init__(access_key="", secret_key="", method="gameday-demo-assumed-role")
        self._current = current

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        credentials = self._current()
        if credentials is None:
            # Raised while signing, before anything goes on the wire.
            raise NoCredentialsError()
        return credentials


class _LiveProvider(CredentialProvider):
    METHOD = "gameday-demo-assumed-role"
    CANONICAL_NAME = "custom-gameday-demo"

    def __init__(self, credentials: LiveCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> LiveCredentials:
        return self._credentials


class AwsClients:
    """The service's boto3 clients and the executor their calls run in."""

    def __init__(
        self,
        config: DemoConfig,
        current: Callable[[], ReadOnlyCredentials | None],
        executor: Executor,
    ) -> None:
        self._executor = executor
        client_config = Config(
            connect_timeout=config.sdk_timeout_s,
            read_timeout=config.sdk_timeout_s,
            # Two attempts in all. botocore reads the dict's "max_attempts" as *retries* (it
            # adds one), which would make a blackholed call cost three timeouts, not two.
            retries={"mode": "standard", "total_max_attempts": 2},
            max_pool_connections=WORKERS,
        )
        home = config.home_region
        # boto3 reads AWS_ENDPOINT_URL (the gateway) by itself: no endpoint is set here.
        self.sts: STSClient = boto3.session.Session().client(
            "sts", region_name=home, config=client_config
        )
        core = botocore.session.Session()
        provider = _LiveProvider(LiveCredentials(current))
        core.register_component("credential_provider", CredentialResolver([provider]))
        assumed = boto3.session.Session(botocore_session=core)
        regions = [home] + ([config.failover_region] if config.failover_region else [])
        self._dynamodb: dict[str, DynamoDBClient] = {
            region: assumed.client("dynamodb", region_name=region, config=client_config)
            for region in regions
        }
        self.logs: CloudWatchLogsClient = assumed.client(
            "logs", region_name=home, config=client_config
        )
        self.ecr: ECRClient = assumed.client("ecr", region_name=home, config=client_config)
        sns = assumed.client("sns", region_name=home, config=client_config)
        self.sns = cast(SnsClient, sns)

    def dynamodb(self, region: str) -> DynamoDBClient:
        return self._dynamodb[region]

    async def call(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run one blocking boto3 call in a worker thread."""
        call = functools.partial(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)


def error_code(error: BaseException) -> str | None:
    """The AWS error code of a ClientError (``ThrottlingException``), else None."""
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code")
    return None


def describe_error(error: BaseException) -> str:
    """A short, credential-free description of why an AWS call failed."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = (details.get("Message") or "").strip()[:160]
        text = f"{details.get('Code', 'error')} (HTTP {status})"
        return f"{text}: {message}" if message else text
    if isinstance(error, NoCredentialsError):
        return "no credentials: AssumeRole has not succeeded"
    for kind, text in (
        (ReadTimeoutError, "read timeout"),
        (ConnectTimeoutError, "connect timeout"),
        (EndpointConnectionError, "cannot connect to the endpoint"),
        (ConnectionClosedError, "connection closed by the endpoint"),
    ):
        if isinstance(error, kind):
            return text
    return f"{type(error).__name__}: {error}"[:200]
