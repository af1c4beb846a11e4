"""Benchmark: what the egress proxy adds to an AWS call, direct TLS vs through it, in one run.

Not a timed test: run it by hand (`.venv/bin/python bench/egress.py`) and read the figures.
One upstream, one client, three ways to reach it:

- direct: the client's TLS straight to the upstream (no proxy);
- proxy blind: through `gameday egress` (a subprocess, ``--route`` to the upstream) with no
  fault: the CONNECT is a blind tunnel, bytes copied both ways;
- proxy decrypted: the same, with a fault on the same service but another operation (s3
  DeleteBucket): the CONNECT is decrypted with a leaf from the run's CA (minted once, then
  cached), each request classified and matched, then forwarded on the proxy's own kept-alive
  connection to the upstream.

The upstream is a plain aiohttp TLS server in its own process, not moto behind
tests/egress_support.TlsUpstream: moto's milliseconds per call, and TlsUpstream reading whole
bodies into memory, would drown what the proxy costs. It answers a 512-byte body, streams N
bytes for ``GET /bench/N``, and counts the bytes of a ``PUT``. Its certificate is
tests/egress_support.upstream_cert's (``*.us-east-1.amazonaws.com``); every case dials with
SNI ``s3.us-east-1.amazonaws.com`` and the same client SSL context (the proxy's bundle plus
that certificate, as ``AWS_CA_BUNDLE`` would hold).

The client is urllib3, botocore's own transport (the proxied cases use urllib3's
ProxyManager, which is what botocore builds from ``HTTPS_PROXY``), in this process: botocore's
serializers and parsers would add the same milliseconds to every case and shrink the ratios.
Requests carry a SigV4 Authorization signed once and replayed, so the proxy classifies them as
the S3 GetObject / PutObject calls they are; the upstream checks no signature.

For each case: small-request latency p50/p90/p99 over ``--requests`` calls on one kept-alive
connection, and with a new connection each time (CONNECT and the TLS handshake included); MB/s
(10^6 bytes) for a ``--download-mb`` download and a ``--upload-mb`` upload (Content-Length,
1 MiB writes) on a warm connection. Each case is warmed up first; then ``--rounds`` rounds
run the cases in turn (latency samples pooled; throughput the best round, the worst shown
beside it). The proxy's request ring proves each proxied case was what it claims: no request
recorded in a blind round, every one in a decrypted round.

Everything runs on 127.0.0.1 and on the same cores: through the proxy, three processes share
the machine instead of two, and that contention is part of what is measured. Other work on the
machine stretches every figure: the load average is printed next to them.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import IO

import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gameday.gateway.client import GatewayClient  # noqa: E402
from gameday.gateway.models import FaultSpec  # noqa: E402
from tests.egress_support import upstream_cert  # noqa: E402

HOST = "s3.us-east-1.amazonaws.com"
SMALL_BYTES = 512
WRITE_BYTES = 1 << 20
MB = 1_000_000
CREDENTIALS = Credentials("AKIDBENCHMARK", "secret-benchmark")
OTHER_OPERATION = FaultSpec.model_validate(
    {
        "id": "bench-other-operation",
        "match": {"services": ["s3"], "operations": ["DeleteBucket"]},
        "effect": {"mode": "throttle"},
        "ttl_seconds": 3600,
    }
)

_UPSTREAM = """
import asyncio, ssl, sys
from aiohttp import web
SMALL = b"s" * int(sys.argv[3])
BLOCK = bytes(256 * 1024)
async def handle(request):
    if request.method == "PUT":
        received = 0
        async for chunk in request.content.iter_any():
            received += len(chunk)
        return web.Response(headers={"ETag": '"bench"', "x-bench-received": str(received)})
    await request.read()
    key = request.path.rsplit("/", 1)[-1]
    if not key.isdigit():
        return web.Response(body=SMALL, content_type="application/octet-stream")
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = left = int(key)
    await response.prepare(request)
    while left > 0:
        block = BLOCK if left >= len(BLOCK) else BLOCK[:left]
        await response.write(block)
        left -= len(block)
    await response.write_eof()
    return response
async def main():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[1], sys.argv[2])
    runner = web.ServerRunner(web.Server(handle, access_log=None))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


@dataclass(frozen=True)
class Case:
    name: str
    base: str
    """The scheme and authority the client dials (through the proxy: the AWS host)."""
    proxy: str | None
    decrypted: bool


@dataclass
class Cell:
    """One case's figures, over every round."""

    kept_s: list[float] = field(default_factory=list)
    fresh_s: list[float] = field(default_factory=list)
    down_mbps: list[float] = field(default_factory=list)
    up_mbps: list[float] = field(default_factory=list)


def pct_ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else platform.processor() or "unknown CPU"


@contextmanager
def child(argv: list[str], stderr: IO[str]) -> Iterator[str]:
    """A server process whose first stdout line says where it listens; stopped afterwards."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=ROOT)
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def servers(base: Path) -> Iterator[tuple[int, str, Path]]:
    """The upstream and the egress proxy routed to it: (upstream port, proxy URL, bundle)."""
    cert, key = upstream_cert(base)
    ca_dir = base / "ca"
    upstream = [sys.executable, "-c", _UPSTREAM, str(cert), str(key), str(SMALL_BYTES)]
    with (
        (base / "servers.stderr").open("w") as errors,
        child(upstream, errors) as port_line,
    ):
        if not port_line.isdigit():
            raise SystemExit(f"upstream did not start: {port_line!r}\n{_tail(base)}")
        port = int(port_line)
        argv = [sys.executable, "-m", "gameday", "egress", "--listen", "127.0.0.1:0"]
        argv += ["--ca-dir", str(ca_dir), "--route-ca", str(cert)]
        argv += ["--route", f"*.amazonaws.com=https://127.0.0.1:{port}"]
        with child(argv, errors) as line:
            found = re.search(r"listening on (http://\S+);", line)
            if found is None:
                errors.flush()
                raise SystemExit(f"no listening line: {line!r}\n{_tail(base)}")
            # The gameday bundle (system roots + the run's CA) plus the upstream's own
            # certificate, which stands in for AWS's.
            bundle = base / "client-bundle.pem"
            bundle.write_bytes((ca_dir / "ca-bundle.pem").read_bytes() + cert.read_bytes())
            yield port, found.group(1), bundle


def _tail(base: Path) -> str:
    return (base / "servers.stderr").read_text()[-2000:]


def signed(method: str, path: str) -> dict[str, str]:
    """Headers of an S3 call to HOST signed once (payload unsigned, as over TLS SDKs may)."""
    headers = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    request = AWSRequest(method=method, url=f"https://{HOST}{path}", headers=headers)
    SigV4Auth(CREDENTIALS, "s3", "us-east-1").add_auth(request)
    return {"Host": HOST, **dict(request.headers.items())}


def upload_body(size: int) -> Iterator[bytes]:
    block = bytes(WRITE_BYTES)
    left = size
    while left > 0:
        yield block if left >= len(block) else block[:left]
        left -= len(block)


class Bench:
    """The client side: one SSL context and signed header set for every case."""

    def __init__(self, context: ssl.SSLContext, admin: GatewayClient, args: argparse.Namespace):
        self.context = context
        self.admin = admin
        self.down_bytes = int(args.download_mb * MB)
        self.up_bytes = int(args.upload_mb * MB)
        self.small = signed("GET", "/bench/small")
        self.down = signed("GET", f"/bench/{self.down_bytes}")
        self.up = {**signed("PUT", "/bench/upload"), "Content-Length": str(self.up_bytes)}
        self.seq = 0

    def pool(self, case: Case) -> urllib3.PoolManager:
        if case.proxy is None:
            return urllib3.PoolManager(maxsize=1, ssl_context=self.context, server_hostname=HOST)
        return urllib3.ProxyManager(case.proxy, maxsize=1, ssl_context=self.context)

    def arrange(self, case: Case) -> None:
        """The fault that makes the proxy decrypt the host, or none; take the ring's end."""
        if case.decrypted:
            self.admin.add(OTHER_OPERATION)
        else:
            self.admin.clear()
        self.seq = self.admin.requests(since=self.seq).last_seq

    def check(self, case: Case, sent: int) -> None:
        """The proxy recorded every request of a decrypted round, none of a blind one."""
        page = self.admin.requests(since=self.seq)
        seen, self.seq = len(page.requests) + page.dropped, page.last_seq
        if case.proxy is None:
            return
        expected = sent if case.decrypted else 0
        if seen != expected:
            raise SystemExit(f"{case.name}: the proxy recorded {seen} requests, not {expected}")
        if case.decrypted and any(r.operation not in ("GetObject", "PutObject") or
                                  r.fault_id is not None for r in page.requests):  # fmt: skip
            raise SystemExit(f"{case.name}: a request was not forwarded as GetObject/PutObject")

    def call(self, pool: urllib3.PoolManager, case: Case) -> float:
        """One small GET's seconds; its answer must be whole."""
        started = time.perf_counter()
        answer = pool.request("GET", f"{case.base}/bench/small", headers=self.small, retries=False)
        elapsed = time.perf_counter() - started
        if answer.status != 200 or len(answer.data) != SMALL_BYTES:
            raise SystemExit(f"{case.name}: small GET answered {answer.status}")
        return elapsed

    def kept_alive(self, case: Case, count: int) -> list[float]:
        pool = self.pool(case)
        try:
            self.call(pool, case)  # opens the connection: not a kept-alive sample
            return [self.call(pool, case) for _ in range(count)]
        finally:
            pool.clear()

    def fresh(self, case: Case, count: int) -> list[float]:
        samples = []
        for _ in range(count):
            pool = self.pool(case)
            samples.append(self.call(pool, case))
            pool.clear()
        return samples

    def download(self, case: Case) -> float:
        pool = self.pool(case)
        try:
            self.call(pool, case)  # connection and handshake out of the timing
            url = f"{case.base}/bench/{self.down_bytes}"
            started = time.perf_counter()
            answer = pool.request(
                "GET", url, headers=self.down, preload_content=False, retries=False
            )
            got = sum(len(chunk) for chunk in answer.stream(WRITE_BYTES, decode_content=False))
            seconds = time.perf_counter() - started
            answer.release_conn()
        finally:
            pool.clear()
        if answer.status != 200 or got != self.down_bytes:
            raise SystemExit(f"{case.name}: download got {got} bytes, status {answer.status}")
        return self.down_bytes / MB / seconds

    def upload(self, case: Case) -> float:
        pool = self.pool(case)
        try:
            self.call(pool, case)
            body = upload_body(self.up_bytes)
            started = time.perf_counter()
            answer = pool.request(
                "PUT", f"{case.base}/bench/upload", body=body, headers=self.up, retries=False
            )
            seconds = time.perf_counter() - started
        finally:
            pool.clear()
        received = answer.headers.get("x-bench-received")
        if answer.status != 200 or received != str(self.up_bytes):
            raise SystemExit(f"{case.name}: upload: {answer.status}, {received} bytes arrived")
        return self.up_bytes / MB / seconds

    def warm(self, case: Case, count: int) -> None:
        """Connections, the proxy's leaf and upstream pool, both sides' code paths."""
        self.arrange(case)
        self.kept_alive(case, count)
        self.fresh(case, max(1, count // 10))
        self.download(case)
        self.upload(case)
        self.check(case, count + max(1, count // 10) + 2 + 2 + 1)

    def measure(self, case: Case, cell: Cell, count: int) -> None:
        self.arrange(case)
        cell.kept_s += self.kept_alive(case, count)
        cell.fresh_s += self.fresh(case, count)
        cell.down_mbps.append(self.download(case))
        cell.up_mbps.append(self.upload(case))
        self.check(case, 2 * count + 1 + 4)


def run(args: argparse.Namespace) -> dict[str, Cell]:
    with (
        tempfile.TemporaryDirectory(prefix="gameday-bench-egress-") as folder,
        servers(Path(folder)) as (port, proxy_url, bundle),
    ):
        cases = [
            Case("direct", f"https://127.0.0.1:{port}", None, False),
            Case("proxy blind", f"https://{HOST}", proxy_url, False),
            Case("proxy decrypted", f"https://{HOST}", proxy_url, True),
        ]
        admin = GatewayClient(proxy_url)
        bench = Bench(ssl.create_default_context(cafile=str(bundle)), admin, args)
        for case in cases:
            bench.warm(case, args.warmup)
        cells = {case.name: Cell() for case in cases}
        per_round = max(1, args.requests // args.rounds)
        for _ in range(args.rounds):
            for case in cases:
                bench.measure(case, cells[case.name], per_round)
        admin.clear()
    return cells


def report(cells: Mapping[str, Cell]) -> None:
    print(f"\n{'':<16} {'kept-alive ms p50/p90/p99':>26} {'new connection ms p50/p90/p99':>30}"
          f" {'down MB/s best/worst':>21} {'up MB/s best/worst':>19}")  # fmt: skip
    for name, cell in cells.items():
        kept = "/".join(f"{pct_ms(cell.kept_s, q):.2f}" for q in (0.5, 0.9, 0.99))
        fresh = "/".join(f"{pct_ms(cell.fresh_s, q):.2f}" for q in (0.5, 0.9, 0.99))
        downs = f"{max(cell.down_mbps):.0f}/{min(cell.down_mbps):.0f}"
        ups = f"{max(cell.up_mbps):.0f}/{min(cell.up_mbps):.0f}"
        print(f"{name:<16} {kept:>26} {fresh:>30} {downs:>21} {ups:>19}")
    direct = cells["direct"]
    print(f"\n{'proxy / direct':<16} {'kept p50':>9} {'kept p99':>9} {'new p50':>9} "
          f"{'new p99':>9} {'down':>6} {'up':>6}   added p50 ms kept / new")  # fmt: skip
    for name, cell in cells.items():
        if name == "direct":
            continue
        ratios = [pct_ms(cell.kept_s, q) / pct_ms(direct.kept_s, q) for q in (0.5, 0.99)]
        ratios += [pct_ms(cell.fresh_s, q) / pct_ms(direct.fresh_s, q) for q in (0.5, 0.99)]
        down = max(cell.down_mbps) / max(direct.down_mbps)
        up = max(cell.up_mbps) / max(direct.up_mbps)
        added = [pct_ms(mine, 0.5) - pct_ms(theirs, 0.5) for mine, theirs in
                 ((cell.kept_s, direct.kept_s), (cell.fresh_s, direct.fresh_s))]  # fmt: skip
        print(f"{name:<16} " + " ".join(f"{r:>8.2f}x" for r in ratios) +
              f" {down:>5.2f}x {up:>5.2f}x   {added[0]:+.2f} / {added[1]:+.2f}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=1500,
        help="small requests per case and connection mode (all rounds)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=100, help="warm-up requests per case")
    parser.add_argument("--download-mb", type=float, default=100.0)
    parser.add_argument("--upload-mb", type=float, default=100.0)
    args = parser.parse_args()  # fmt: skip
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"command: {shlex.join(sys.orig_argv)}")
    print(f"machine: {os.cpu_count()} cores ({cores} usable), {cpu_model()}, "
          f"{platform.platform()}; Python {platform.python_version()}, urllib3 "
          f"{version('urllib3')}")  # fmt: skip
    print(
        "upstream: plain aiohttp TLS server (own process); client: urllib3 in this process; "
        "proxy: gameday egress (own process); all on 127.0.0.1"
    )
    print(f"load average at start {load()}")
    started = time.perf_counter()
    cells = run(args)
    report(cells)
    print(
        f"\n{time.perf_counter() - started:.1f} s; load average at end {load()} "
        "(a shared machine: other work stretches every figure)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
