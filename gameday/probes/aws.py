"""The ``aws`` probe: one boto3 call, run in a worker thread; healthy when the outcome is expected.

- ``expect.error_code`` given: healthy when the call fails with exactly that error code.
- ``expect.success: false``: healthy when AWS refuses the call with any error code.
- otherwise (the default): healthy when the call succeeds.

A call that gets no answer at all (a refused connection, a socket timeout) is unhealthy in
every case: it is not an answer from AWS.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable

from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ParamValidationError,
    ProfileNotFound,
)
from botocore.validate import validate_parameters

from gameday.probes.base import Observation, ProbeContext, ProbeError, RetryPolicy, short
from gameday.scenario.probe_models import AwsProbe as AwsProbeSpec
from gameday.scenario.probe_models import ProbeCredentials


class AwsProbe:
    """``<service>.<call>(**params)`` against the context's endpoint, or AWS when it has none;
    signed with the context's dummy keys unless the spec says ``credentials: runner`` or
    names a ``profile`` (a setup user's long-term key: a break-glass path).

    >>> probe = AwsProbe(spec, ctx)  # spec: service=sts, call=get_caller_identity
    >>> await probe.sample()  # Observation(ok=True, latency_s=0.012, detail="ok")
    """

    def __init__(self, spec: AwsProbeSpec, ctx: ProbeContext) -> None:
        self.name = spec.name
        self.interval_s = spec.interval
        self.timeout_s = spec.timeout
        self.retries = RetryPolicy(spec.retries.attempts, spec.retries.backoff)
        self.region = spec.region or ctx.region
        self._spec = spec
        self._executor = ctx.executor
        # One client per probe, made now: creating a client costs tens of milliseconds, and
        # botocore clients are safe to share between threads once made.
        self._client = _client(spec, ctx, self.region)
        self._call = functools.partial(_method(self._client, spec), **spec.params)

    async def sample(self) -> Observation:
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        try:
            await loop.run_in_executor(self._executor, self._call)
        except ClientError as error:
            latency_s = time.perf_counter() - start
            code = str(error.response.get("Error", {}).get("Code", "Unknown"))
            return self._judge_error(code, latency_s, short(str(error)))
        except BotoCoreError as error:
            latency_s = time.perf_counter() - start
            return Observation(False, latency_s, short(f"no answer: {error}"))
        latency_s = time.perf_counter() - start
        if self._spec.expect.error_code is not None:
            return Observation(
                False, latency_s, f"succeeded, expected {self._spec.expect.error_code}"
            )
        if not self._spec.expect.success:
            return Observation(False, latency_s, "succeeded, expected an error")
        return Observation(True, latency_s, "ok")

    def _judge_error(self, code: str, latency_s: float, message: str) -> Observation:
        expected = self._spec.expect.error_code
        if expected is not None:
            if code == expected:
                return Observation(True, latency_s, code)
            return Observation(False, latency_s, f"{code}, expected {expected}: {message}")
        if not self._spec.expect.success:
            return Observation(True, latency_s, code)
        return Observation(False, latency_s, message)


def _method(client: BaseClient, spec: AwsProbeSpec) -> Callable[..., object]:
    """The bound boto3 method for ``spec.call``, its ``params`` checked against the model."""
    operation = client.meta.method_to_api_mapping.get(spec.call)
    method: Callable[..., object] | None = getattr(client, spec.call, None)
    if operation is None or method is None:
        raise ProbeError(
            f"probe {spec.name!r}: {spec.service} has no call {spec.call!r}",
            hint="'call' is the boto3 method name in snake_case, e.g. get_caller_identity",
        )
    # Checked now rather than by the first sample: a typo in params would otherwise show up
    # as a probe that is unhealthy for the whole drill, read as an outage.
    shape = client.meta.service_model.operation_model(operation).input_shape
    if shape is None:
        if spec.params:
            raise ProbeError(f"probe {spec.name!r}: {spec.service}.{spec.call} takes no params")
        return method
    try:
        validate_parameters(spec.params, shape)
    except ParamValidationError as error:
        message = " ".join(str(error).split())
        raise ProbeError(f"probe {spec.name!r}: {spec.service}.{spec.call}: {message}") from error
    return method


def _client(spec: AwsProbeSpec, ctx: ProbeContext, region: str) -> BaseClient:
    config = Config(
        # The probe's own timeout bounds the wait; these bound the worker thread, which a
        # cancelled await cannot stop.
        connect_timeout=max(spec.timeout, 0.1),
        read_timeout=max(spec.timeout, 0.1),
        # One try per attempt: retries are the probe's declared `retries`, not botocore's
        # hidden ones, so that a sample records what one call saw.
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    runner = spec.credentials is ProbeCredentials.RUNNER
    try:
        client = ctx.aws_client(
            spec.service, region=region, config=config, runner=runner, profile=spec.profile
        )
    except ProfileNotFound as error:
        raise ProbeError(
            f"probe {spec.name!r}: no profile {spec.profile!r}: {error}",
            hint="an embedded or localstack drill's profiles are its setup users' "
            "({kind: user, name: ..., profile: ...}); on aws, the runner's own",
        ) from error
    except BotoCoreError as error:
        raise ProbeError(
            f"probe {spec.name!r}: cannot make a {spec.service!r} client: {error}",
            hint="'service' is the boto3 client name, e.g. sts, logs, ecr",
        ) from error
    return client
