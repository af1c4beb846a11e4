"""The dns probe: A and AAAA through the system resolver, CNAME from a tiny real DNS server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from gameday.probes import build_probe
from tests.integration.probes._support import context, spec

CNAMES = {"www.example.test.": "App.Example.Test."}


class _DnsServer(asyncio.DatagramProtocol):
    """Answers CNAME queries from ``CNAMES``; NXDOMAIN for any other name."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass DatagramTransport on 3.11.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        target = CNAMES.get(question.name.to_text())
        if target is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.CNAME:
            response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "CNAME", target))
        self.transport.sendto(response.to_wire(), addr)


@asynccontextmanager
async def dns_server() -> AsyncIterator[tuple[str, int]]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_DnsServer, local_addr=("127.0.0.1", 0))
    try:
        host, port = transport.get_extra_info("sockname")[:2]
        yield host, port
    finally:
        transport.close()


def test_a_and_aaaa_through_the_system_resolver() -> None:
    async def main() -> None:
        async with context() as ctx:

            async def sample(hostname: str, record_type: str, *answers: str) -> tuple[bool, str]:
                probe = build_probe(
                    spec(
                        "dns",
                        hostname=hostname,
                        record_type=record_type,
                        expect={"answers": list(answers)},
                    ),
                    ctx,
                )
                observation = await probe.sample()
                return observation.ok, observation.detail

            assert await sample("localhost", "A") == (True, "127.0.0.1")
            assert await sample("localhost", "A", "127.0.0.1") == (True, "127.0.0.1")
            assert await sample("localhost", "A", "10.0.0.1") == (
                False,
                "answers 127.0.0.1; missing 10.0.0.1",
            )
            assert await sample("::1", "AAAA", "0:0::1") == (True, "::1")

    asyncio.run(main())


def test_a_name_that_does_not_resolve_is_unhealthy() -> None:
    async def main() -> None:
        async with context() as ctx:
            probe = build_probe(spec("dns", hostname="gameday-probe.invalid"), ctx)
            observation = await probe.sample()
            assert not observation.ok
            assert observation.detail.startswith("gameday-probe.invalid A does not resolve: ")

    asyncio.run(main())


def test_cname_records_are_compared_without_case_or_final_dot() -> None:
    async def main() -> None:
        async with dns_server() as server, context(dns_server=server) as ctx:
            good = spec(
                "dns",
                hostname="www.example.test",
                record_type="CNAME",
                expect={"answers": ["app.example.test"]},
            )
            assert (await build_probe(good, ctx).sample()).detail == "app.example.test"
            assert (await build_probe(good, ctx).sample()).ok
            moved = spec(
                "dns",
                hostname="www.example.test",
                record_type="CNAME",
                expect={"answers": ["dr.example.test."]},
            )
            observation = await build_probe(moved, ctx).sample()
            assert (observation.ok, observation.detail) == (
                False,
                "answers app.example.test; missing dr.example.test",
            )
            gone = spec("dns", hostname="old.example.test", record_type="CNAME")
            observation = await build_probe(gone, ctx).sample()
            assert not observation.ok
            assert observation.detail.startswith("old.example.test CNAME does not resolve: ")

    asyncio.run(main())
