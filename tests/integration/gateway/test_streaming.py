"""A 100 MB object up and down through a gateway in its own process, whose peak memory is read
from /proc: bodies must stream, never be held whole."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway_process import gateway_process as start_gateway
from tests.integration.gateway.helpers import aws

SIZE = 100 * 1024 * 1024
MAX_GROWTH_KB = 30 * 1024
ROOT = Path(__file__).resolve().parents[3]


def peak_rss_kb(pid: int) -> int:
    """VmHWM: the process's peak resident set size so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for process {pid}")


@pytest.fixture(scope="module")
def gateway_process(moto_url: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``python -m gameday.gateway.process`` on a free port; stopped with SIGTERM."""
    command = ("-m", "gameday.gateway.process")
    with start_gateway(moto_url, command=command) as gateway:
        yield gateway.url, gateway.process


def test_100_mb_up_and_down_with_flat_memory(
    gateway_process: tuple[str, subprocess.Popen[str]], tmp_path: Path
) -> None:
    url, process = gateway_process
    s3 = aws("s3", url, read_timeout_s=60)
    s3.create_bucket(Bucket="streaming")  # also builds the S3 route table before measuring
    source = tmp_path / "object.bin"
    digest = hashlib.sha256()
    with source.open("wb") as out:
        for _ in range(SIZE // (1024 * 1024)):
            block = os.urandom(1024 * 1024)
            digest.update(block)
            out.write(block)
    before_kb = peak_rss_kb(process.pid)

    with source.open("rb") as body:
        s3.put_object(Bucket="streaming", Key="big", Body=body)
    received = hashlib.sha256()
    response = s3.get_object(Bucket="streaming", Key="big")
    for chunk in response["Body"].iter_chunks(1024 * 1024):
        received.update(chunk)

    after_kb = peak_rss_kb(process.pid)
    assert received.hexdigest() == digest.hexdigest()
    assert response["ContentLength"] == SIZE
    print(f"gateway peak RSS {before_kb} kB before, {after_kb} kB after")
    assert after_kb - before_kb < MAX_GROWTH_KB


def test_sigterm_stops_the_gateway_cleanly(moto_url: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "gameday.gateway.process", "--upstream", moto_url,
         "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert process.stdout is not None
    url = process.stdout.readline().split()[4].rstrip(",")
    aws("sts", url).get_caller_identity()

    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=10)

    assert (process.returncode, stdout, stderr) == (0, "", "")


def test_listening_beyond_loopback_without_a_token_is_refused(moto_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GAMEDAY_GATEWAY_TOKEN"}
    process = subprocess.run(
        [sys.executable, "-m", "gameday.gateway.process", "--upstream", moto_url,
         "--listen", "0.0.0.0:0"],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        timeout=30,
    )  # fmt: skip

    assert (process.returncode, process.stdout) == (2, "")
    assert process.stderr == (
        "error: --listen 0.0.0.0:0: the gateway would listen beyond this machine (0.0.0.0) "
        "without a token, and anyone who reaches it could inject faults\n"
        "hint: set GAMEDAY_GATEWAY_TOKEN (or --token), listen on 127.0.0.1, or add "
        "--allow-unauthenticated if that is really meant\n"
    )


def test_listening_beyond_loopback_unauthenticated_when_asked_warns(moto_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GAMEDAY_GATEWAY_TOKEN"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gameday.gateway.process", "--upstream", moto_url,
         "--listen", "0.0.0.0:0", "--allow-unauthenticated"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert process.stdout is not None
    process.stdout.readline()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=10)

    assert process.returncode == 0
    assert stderr == (
        "warning: the gateway listens on 0.0.0.0, beyond this machine: anyone who reaches it "
        "can inject faults (--allow-unauthenticated)\n"
    )
