"""The aws probe against a real moto server over HTTP."""

from __future__ import annotations

import asyncio
import socket

import pytest

from gameday.probes import ProbeError, build_probe
from gameday.probes.aws import AwsProbe
from tests.integration.probes._support import context, spec


def test_a_successful_call_is_healthy(moto_url: str) -> None:
    async def main() -> None:
        async with context(aws_endpoint_url=moto_url) as ctx:
            sts = build_probe(spec("aws", service="sts", call="get_caller_identity"), ctx)
            observation = await sts.sample()
            assert (observation.ok, observation.detail) == (True, "ok")
            logs = build_probe(
                spec("aws", service="logs", call="describe_log_groups", params={"limit": 5}),
                ctx,
            )
            assert (await logs.sample()).ok

    asyncio.run(main())


def test_an_expected_error_code_is_healthy_and_a_different_outcome_is_not(moto_url: str) -> None:
    missing = {"logGroupName": "/gameday/does-not-exist"}

    async def main() -> None:
        async with context(aws_endpoint_url=moto_url) as ctx:
            expected = spec(
                "aws",
                service="logs",
                call="describe_log_streams",
                params=missing,
                expect={"error_code": "ResourceNotFoundException"},
            )
            observation = await build_probe(expected, ctx).sample()
            assert (observation.ok, observation.detail) == (True, "ResourceNotFoundException")

            plain = spec("aws", service="logs", call="describe_log_streams", params=missing)
            observation = await build_probe(plain, ctx).sample()
            assert not observation.ok
            assert "ResourceNotFoundException" in observation.detail

            wrong = spec(
                "aws",
                service="logs",
                call="describe_log_streams",
                params=missing,
                expect={"error_code": "AccessDeniedException"},
            )
            observation = await build_probe(wrong, ctx).sample()
            assert not observation.ok
            assert observation.detail.startswith(
                "ResourceNotFoundException, expected AccessDeniedException: "
            )

    asyncio.run(main())


def test_expecting_failure_accepts_any_error_code_and_rejects_success(moto_url: str) -> None:
    missing = {"logGroupName": "/gameday/does-not-exist"}

    async def main() -> None:
        async with context(aws_endpoint_url=moto_url) as ctx:
            any_error = spec(
                "aws",
                service="logs",
                call="describe_log_streams",
                params=missing,
                expect={"success": False},
            )
            assert (await build_probe(any_error, ctx).sample()).ok

            succeeded = spec(
                "aws",
                service="sts",
                call="get_caller_identity",
                expect={"error_code": "ExpiredToken"},
            )
            observation = await build_probe(succeeded, ctx).sample()
            assert (observation.ok, observation.detail) == (
                False,
                "succeeded, expected ExpiredToken",
            )

    asyncio.run(main())


def test_the_region_comes_from_the_spec_or_else_the_context(moto_url: str) -> None:
    async def main() -> None:
        async with context(aws_endpoint_url=moto_url, region="eu-west-1") as ctx:
            own = spec("aws", service="sts", call="get_caller_identity", region="ap-south-1")
            inherited = spec("aws", service="sts", call="get_caller_identity")
            probes = [build_probe(own, ctx), build_probe(inherited, ctx)]
            assert all(isinstance(p, AwsProbe) for p in probes)
            assert [p.region for p in probes if isinstance(p, AwsProbe)] == [
                "ap-south-1",
                "eu-west-1",
            ]
            assert [(await p.sample()).ok for p in probes] == [True, True]

    asyncio.run(main())


def test_no_answer_from_the_endpoint_is_unhealthy() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]

        async def main() -> None:
            async with context(aws_endpoint_url=f"http://127.0.0.1:{port}") as ctx:
                probe = build_probe(spec("aws", service="sts", call="get_caller_identity"), ctx)
                observation = await probe.sample()
                assert not observation.ok
                assert observation.detail.startswith("no answer: Could not connect")

        asyncio.run(main())


def test_an_unknown_call_is_a_probe_error(moto_url: str) -> None:
    async def main() -> None:
        async with context(aws_endpoint_url=moto_url) as ctx:
            with pytest.raises(ProbeError) as raised:
                build_probe(spec("aws", name="who", service="sts", call="who_am_i"), ctx)
            assert str(raised.value) == "probe 'who': sts has no call 'who_am_i'"

    asyncio.run(main())


def test_params_that_do_not_fit_the_call_are_a_probe_error(moto_url: str) -> None:
    async def main() -> None:
        async with context(aws_endpoint_url=moto_url) as ctx:
            typo = spec(
                "aws",
                name="groups",
                service="logs",
                call="describe_log_groups",
                params={"limitt": 5},
            )
            with pytest.raises(ProbeError) as raised:
                build_probe(typo, ctx)
            assert str(raised.value).startswith(
                "probe 'groups': logs.describe_log_groups: Parameter validation failed: "
                'Unknown parameter in input: "limitt", must be one of: '
            )

    asyncio.run(main())


def test_params_for_a_call_that_takes_none_are_a_probe_error(moto_url: str) -> None:
    async def main() -> None:
        async with context(aws_endpoint_url=moto_url) as ctx:
            summary = spec("aws", name="iam", service="iam", call="get_account_summary")
            assert (await build_probe(summary, ctx).sample()).ok
            with pytest.raises(ProbeError) as raised:
                build_probe(
                    spec(
                        "aws",
                        name="iam",
                        service="iam",
                        call="get_account_summary",
                        params={"x": 1},
                    ),
                    ctx,
                )
            assert str(raised.value) == "probe 'iam': iam.get_account_summary takes no params"

    asyncio.run(main())
