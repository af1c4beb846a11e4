"""Benchmark: what the fault gateway adds, direct vs through it, in one run.

Upstreams: moto's server, and a trivial aiohttp server that answers every request with a fixed
small body, so that the gateway's own cost shows apart from the emulator's. Every server runs
in its own process; the load generator is an aiohttp client in this one (boto3 would cost more
than everything it measures). Calls are signed once with botocore's SigV4 signer and replayed:
neither upstream checks signatures, and the gateway classifies them as the real calls they are.

    .venv/bin/python bench/gateway.py [--calls 5000] [--rounds 3] [--upstream both|trivial|moto]
    .venv/bin/python bench/gateway.py --compare HEAD [--upstream trivial]

``--compare REF`` runs the gateway as committed at REF (``git archive``, read only) next to the
working tree's, in one run against the same upstreams, and prints their ratios: what a change
to the gateway costs.

Prints a table: requests/s and latency percentiles direct and through the gateway, the
latency the gateway adds (p50/p99 of gateway minus direct), the throughput ratio, and the
1-minute load average when the cell ended (other work on the machine shows there). Each cell
is the best of ``--rounds`` runs, direct and gateway runs interleaved: on a small shared
machine a single run can lose half its throughput to scheduling, which says nothing about the
gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import aiohttp
import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGION = "us-east-1"
CREDENTIALS = Credentials("AKIDBENCHMARK", "secret-benchmark")

_TRIVIAL_UPSTREAM = """
import asyncio, sys
from aiohttp import web
XML = (b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
       b'<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/bench</Arn>'
       b'<UserId>AKIDBENCHMARK</UserId><Account>123456789012</Account>'
       b'</GetCallerIdentityResult></GetCallerIdentityResponse>')
JSON = b'{"nextSequenceToken":"49590302"}'
async def handle(request):
    await request.read()
    xml = request.headers.get("Content-Type", "").startswith("application/x-www-form")
    return web.Response(body=XML if xml else JSON,
                        content_type="text/xml" if xml else "application/x-amz-json-1.1")
async def main():
    runner = web.ServerRunner(web.Server(handle, access_log=None))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print("http://127.0.0.1:%d" % runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""

_MOTO = """
import signal, threading
from gameday.environments.emulator import running_emulator
with running_emulator() as emulator:
    print(emulator.url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
"""


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Result:
    calls: int
    seconds: float
    latencies_s: list[float]

    @property
    def rps(self) -> float:
        return self.calls / self.seconds

    def pct_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def signed(url: str, service: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    SigV4Auth(CREDENTIALS, service, REGION).add_auth(request)
    return {key: value for key, value in request.headers.items() if key.lower() != "host"}


def calls(url: str) -> list[Call]:
    sts_body = b"Action=GetCallerIdentity&Version=2011-06-15"
    sts = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    event = {"timestamp": int(time.time() * 1000), "message": "benchmark"}
    logs_body = json.dumps(
        {"logGroupName": "bench", "logStreamName": "bench", "logEvents": [event]}
    ).encode()
    logs = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "Logs_20140328.PutLogEvents",
    }
    return [
        Call("sts GetCallerIdentity", "POST", "/", signed(url, "sts", sts, sts_body), sts_body),
        Call("logs PutLogEvents", "POST", "/", signed(url, "logs", logs, logs_body), logs_body),
    ]


async def load(url: str, call: Call, total: int, concurrency: int) -> Result:
    """``total`` calls over ``concurrency`` keep-alive connections; every answer must be 200."""
    latencies: list[float] = []
    remaining = total
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                async with session.request(
                    call.method, url + call.path, headers=call.headers, data=call.body
                ) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{call.name}: {response.status} from {url}")
                latencies.append(time.perf_counter() - started)

        # Warm the pool and the gateway's model indexes before timing.
        for _ in range(min(200, total)):
            async with session.request(
                call.method, url + call.path, headers=call.headers, data=call.body
            ) as response:
                await response.read()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Result(total, seconds, latencies)


@contextmanager
def process(code: list[str], pythonpath: str = ROOT) -> Iterator[str]:
    """Run a server process that prints its URL on its first line; stop it afterwards."""
    env = {**os.environ, "PYTHONPATH": pythonpath}
    child = subprocess.Popen(code, stdout=subprocess.PIPE, text=True, env=env, cwd=pythonpath)
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        url = line.split()[4].rstrip(",") if line.startswith("gameday gateway") else line
        if not url.startswith("http://"):
            raise RuntimeError(f"server did not start: {line!r}")
        yield url
    finally:
        child.terminate()
        child.wait(10)


def gateway(upstream: str) -> list[str]:
    return [sys.executable, "-m", "gameday", "gateway", "--upstream", upstream,
            "--listen", "127.0.0.1:0"]  # fmt: skip


def prepare_moto(url: str) -> None:
    logs = boto3.client(
        "logs",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS.access_key,
        aws_secret_access_key=CREDENTIALS.secret_key,
    )
    logs.create_log_group(logGroupName="bench")
    logs.create_log_stream(logGroupName="bench", logStreamName="bench")


def best_of(
    rounds: int, direct_url: str, gateway_url: str, call: Call, total: int, concurrency: int
) -> tuple[Result, Result]:
    """The fastest of ``rounds`` runs each way, direct and gateway runs taking turns."""
    direct: list[Result] = []
    via: list[Result] = []
    for _ in range(rounds):
        direct.append(asyncio.run(load(direct_url, call, total, concurrency)))
        via.append(asyncio.run(load(gateway_url, call, total, concurrency)))
    return max(direct, key=lambda r: r.rps), max(via, key=lambda r: r.rps)


def row(upstream: str, call: str, conc: int, direct: Result, through: Result) -> str:
    added_p50 = through.pct_ms(0.50) - direct.pct_ms(0.50)
    added_p99 = through.pct_ms(0.99) - direct.pct_ms(0.99)
    return (
        f"| {upstream} | {call} | {conc} | {direct.rps:,.0f} | {through.rps:,.0f} "
        f"| {through.rps / direct.rps:.2f} | {direct.pct_ms(0.5):.2f} / {direct.pct_ms(0.99):.2f} "
        f"| {through.pct_ms(0.5):.2f} / {through.pct_ms(0.99):.2f} "
        f"| {added_p50:+.2f} | {added_p99:+.2f} | {os.getloadavg()[0]:.1f} |"
    )


@contextmanager
def checkout(ref: str) -> Iterator[str]:
    """The ``gameday`` package as committed at ``ref``, in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as folder:
        archive = subprocess.run(
            ["git", "archive", ref, "gameday"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        yield folder


def compare_row(upstream: str, call: str, conc: int, base: Result, new: Result) -> str:
    added_p50 = new.pct_ms(0.5) - base.pct_ms(0.5)
    added_p99 = new.pct_ms(0.99) - base.pct_ms(0.99)
    return (
        f"| {upstream} | {call} | {conc} | {base.rps:,.0f} | {new.rps:,.0f} "
        f"| {new.rps / base.rps:.2f} | {base.pct_ms(0.5):.2f} / {base.pct_ms(0.99):.2f} "
        f"| {new.pct_ms(0.5):.2f} / {new.pct_ms(0.99):.2f} "
        f"| {added_p50:+.2f} | {added_p99:+.2f} "
        f"| {os.getloadavg()[0]:.1f} |"
    )


def compare(ref: str, which: str, total: int, rounds: int) -> None:
    """The gateway at ``ref`` and the working tree's, best of ``rounds`` each, taking turns."""
    print(
        f"| upstream | call | concurrency | {ref} req/s | working tree req/s | ratio "
        f"| {ref} p50 / p99 ms | working tree p50 / p99 ms | added p50 ms | added p99 ms | load |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    with ExitStack() as stack:
        upstreams = []
        if which in ("both", "trivial"):
            trivial = stack.enter_context(process([sys.executable, "-c", _TRIVIAL_UPSTREAM]))
            upstreams.append(("trivial", trivial, [1, 16, 32]))
        if which in ("both", "moto"):
            moto = stack.enter_context(process([sys.executable, "-c", _MOTO]))
            prepare_moto(moto)
            upstreams.append(("moto", moto, [1, 32]))
        old_tree = stack.enter_context(checkout(ref))
        for name, upstream, levels in upstreams:
            old = stack.enter_context(process(gateway(upstream), pythonpath=old_tree))
            new = stack.enter_context(process(gateway(upstream)))
            for call in calls(upstream):
                for concurrency in levels:
                    base, hardened = best_of(rounds, old, new, call, total, concurrency)
                    print(compare_row(name, call.name, concurrency, base, hardened), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--upstream", choices=["both", "trivial", "moto"], default="both")
    parser.add_argument("--quick", action="store_true", help="500 calls, trivial upstream only")
    parser.add_argument("--compare", metavar="REF", help="the gateway at this git ref vs now")
    args = parser.parse_args()
    total = 500 if args.quick else args.calls
    which = "trivial" if args.quick else args.upstream
    print(f"python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}, "
          f"{os.cpu_count()} cpus, {total} calls per run, best of {args.rounds} runs, "
          f"load average at start {os.getloadavg()[0]:.2f}")  # fmt: skip
    if args.compare:
        compare(args.compare, which, total, args.rounds)
        print(f"load average at end {os.getloadavg()[0]:.2f}")
        return
    header = (
        "| upstream | call | concurrency | direct req/s | gateway req/s | ratio "
        "| direct p50 / p99 ms | gateway p50 / p99 ms | added p50 ms | added p99 ms | load |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    print(header)
    with ExitStack() as stack:
        upstreams = []
        if which in ("both", "trivial"):
            trivial = stack.enter_context(process([sys.executable, "-c", _TRIVIAL_UPSTREAM]))
            upstreams.append(("trivial", trivial, [1, 16, 32]))
        if which in ("both", "moto"):
            moto = stack.enter_context(process([sys.executable, "-c", _MOTO]))
            prepare_moto(moto)
            upstreams.append(("moto", moto, [1, 32]))
        for name, upstream, levels in upstreams:
            through = stack.enter_context(process(gateway(upstream)))
            for call in calls(upstream):
                for concurrency in levels:
                    direct, via = best_of(args.rounds, upstream, through, call, total, concurrency)
                    print(row(name, call.name, concurrency, direct, via), flush=True)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
