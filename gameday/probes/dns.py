"""The ``dns`` probe: a name resolves, and its answers include every expected one.

A and AAAA go through the loop's ``getaddrinfo``: the system resolver, ``/etc/hosts``
included, which is what the app's own connections use. CNAME needs the record itself, which
``getaddrinfo`` does not give, so it is asked for with dnspython (from the system's resolver
configuration, or the context's ``dns_server``). ``expect.answers`` is a subset check: a name
with more addresses than listed still passes; with no answers listed, any answer passes.

dnspython is imported only when a CNAME probe is built, so that the other kinds, and every
other probe, work without it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from typing import TYPE_CHECKING

from gameday.probes.base import Observation, ProbeContext, ProbeError, RetryPolicy, short
from gameday.scenario.probe_models import DnsProbe as DnsProbeSpec

if TYPE_CHECKING:
    import dns.asyncresolver

_FAMILY = {"A": socket.AF_INET, "AAAA": socket.AF_INET6}


class _Unresolved(Exception):
    """The name has no answer of the asked type: the resolver's own words."""


class DnsProbe:
    """Resolve ``hostname`` as ``record_type``.

    >>> await DnsProbe(spec, ctx).sample()  # Observation(ok=True, ..., detail="127.0.0.1")
    """

    def __init__(self, spec: DnsProbeSpec, ctx: ProbeContext) -> None:
        self.name = spec.name
        self.interval_s = spec.interval
        self.timeout_s = spec.timeout
        self.retries = RetryPolicy(spec.retries.attempts, spec.retries.backoff)
        self.hostname = spec.hostname
        self.record_type = spec.record_type
        self._expected = frozenset(_normal(a, spec.record_type) for a in spec.expect.answers)
        self._resolver = _cname_resolver(spec, ctx) if spec.record_type == "CNAME" else None

    async def sample(self) -> Observation:
        start = time.perf_counter()
        try:
            if self._resolver is not None:
                answers = await _cname_answers(self._resolver, self.hostname)
            else:
                answers = await self._addresses()
        except _Unresolved as error:
            latency_s = time.perf_counter() - start
            detail = f"{self.hostname} {self.record_type} does not resolve: {error}"
            return Observation(False, latency_s, short(detail))
        latency_s = time.perf_counter() - start
        listed = ", ".join(sorted(answers))
        missing = self._expected - answers
        if missing:
            detail = f"answers {listed}; missing {', '.join(sorted(missing))}"
            return Observation(False, latency_s, short(detail))
        return Observation(True, latency_s, short(listed))

    async def _addresses(self) -> frozenset[str]:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                self.hostname, None, family=_FAMILY[self.record_type], type=socket.SOCK_STREAM
            )
        except OSError as error:
            raise _Unresolved(str(error)) from error
        return frozenset(_normal(str(info[4][0]), self.record_type) for info in infos)


async def _cname_answers(resolver: dns.asyncresolver.Resolver, hostname: str) -> frozenset[str]:
    # Lazy: dnspython is optional, for CNAME probes only (see the module docstring).
    import dns.exception  # noqa: PLC0415

    try:
        answer = await resolver.resolve(hostname, "CNAME", search=False)
    except dns.exception.DNSException as error:
        raise _Unresolved(str(error)) from error
    return frozenset(_normal(rdata.to_text(), "CNAME") for rdata in answer)


def _normal(answer: str, record_type: str) -> str:
    """One spelling per answer: canonical IP text, or a lower-case name without the final dot."""
    if record_type == "CNAME":
        return answer.lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(answer.split("%", 1)[0]))
    except ValueError:
        return answer


def _cname_resolver(spec: DnsProbeSpec, ctx: ProbeContext) -> dns.asyncresolver.Resolver:
    try:  # Lazy: dnspython is optional, for CNAME probes only (see the module docstring).
        import dns.asyncresolver  # noqa: PLC0415
        import dns.nameserver  # noqa: PLC0415
        import dns.resolver  # noqa: PLC0415
    except ImportError as error:
        raise ProbeError(
            f"probe {spec.name!r}: CNAME lookups need dnspython, which is not installed",
            hint="pip install dnspython, or check an A/AAAA record instead",
        ) from error
    if ctx.dns_server is not None:
        resolver = dns.asyncresolver.Resolver(configure=False)
        host, port = ctx.dns_server
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port)]
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration as error:
            raise ProbeError(
                f"probe {spec.name!r}: no DNS resolver configured for CNAME lookups: {error}",
                hint="CNAME probes read /etc/resolv.conf; check the machine's DNS set-up",
            ) from error
    # dnspython gives up on its own at the probe's timeout, not only when it is cancelled.
    resolver.lifetime = max(spec.timeout, 0.1)
    # Each sample asks afresh: a cached answer would hide the change a drill looks for.
    resolver.cache = None
    return resolver
