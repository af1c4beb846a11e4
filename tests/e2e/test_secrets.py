"""No secret is kept (issue 14, finding 10; DESIGN.md "Safety" 6): canary values in every
credential variable and token gameday can see, in a probe URL, a probe header, a command
line and a command's output; after a drill, every report format and the history, none of
them is found in the report folder, the history store or anything the commands printed."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "fixtures" / "apps" / "truth_app.py"


def _script() -> str:
    found = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert found
    return found


def _canary(name: str) -> str:
    return f"CANARY{name}{secrets.token_hex(8)}"


ENV_CANARIES = {
    "AWS_ACCESS_KEY_ID": _canary("AKID"),
    "AWS_SECRET_ACCESS_KEY": _canary("SECRET"),
    "AWS_SESSION_TOKEN": _canary("SESSION"),
    "GAMEDAY_GATEWAY_TOKEN": _canary("GATEWAY"),
    "GAMEDAY_MARKS_TOKEN": _canary("MARKS"),
    "CANARY_HEADER": _canary("HEADER"),
}
URL_CANARY = _canary("URL")
ARGV_CANARY = _canary("ARGV")
OUTPUT_CANARY = _canary("OUTPUT")

# Prints what a careless script prints when it fails: its credentials, a bearer header as
# curl -v shows it, and a token it was given on its command line.
LEAKY = (
    "import os, sys; "
    "print(*(os.environ.get(n, '-') for n in ('AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', "
    "'AWS_ACCESS_KEY_ID', 'GAMEDAY_GATEWAY_TOKEN', 'GAMEDAY_MARKS_TOKEN')), file=sys.stderr); "
    "print('> Authorization: Bearer', sys.argv[2], file=sys.stderr); "
    "print('access_token=' + sys.argv[2], sys.argv[2]); "
    "sys.exit(1)"
)


def _scenario(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.yaml"
    python = sys.executable
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: canary}\n"
        "target:\n"
        f"  app: {{command: ['{python}', '{APP}'], env: {{MODE: ride-through}}, "
        "health_url: 'http://127.0.0.1:{port}/health', ready_timeout: 15s}\n"
        "faults: [{kind: identity-loss, start_after: 300ms, duration: 700ms}]\n"
        "probes:\n"
        "  - name: api\n"
        "    kind: http\n"
        "    url: '{app}/health'\n"
        "    headers: {Authorization: 'Bearer ${CANARY_HEADER}', X-Canary: '${CANARY_HEADER}'}\n"
        "    interval: 100ms\n"
        "  - name: tokened\n"
        "    kind: http\n"
        f"    url: '{{app}}/health?access_token={URL_CANARY}&page=1'\n"
        "    expect: {status: [200, 404]}\n"
        "    interval: 200ms\n"
        "  - name: cli\n"
        "    kind: command\n"
        f"    command: ['{python}', '-c', 'pass', '--token', '{ARGV_CANARY}']\n"
        "    interval: 300ms\n"
        "  - name: leaky\n"
        "    kind: command\n"
        f"    command: ['{python}', '-c', \"{LEAKY}\", '--token', '{OUTPUT_CANARY}']\n"
        "    interval: 300ms\n"
        "objectives:\n"
        "  - {kind: rto, probe: api, target: 5s}\n"
        "  - {kind: availability, probe: leaky, target: 0.5}\n"
        "observe: {max: 3s, recovery_window: 500ms}\n"
    )
    return path


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_script(), *args], capture_output=True, text=True, env=env, timeout=180, check=False
    )


def _found(canaries: list[str], where: Path) -> list[str]:
    """``grep -r`` for each canary under ``where`` (binary files too: the SQLite store)."""
    found = []
    for canary in canaries:
        done = subprocess.run(
            ["grep", "-r", "-a", "-l", canary, str(where)],
            capture_output=True,
            text=True,
            check=False,
        )
        found += [f"{canary} in {line}" for line in done.stdout.splitlines()]
    return found


def test_no_canary_reaches_a_report_the_history_or_the_output(tmp_path: Path) -> None:
    env = {**os.environ, **ENV_CANARIES, "NO_COLOR": "1"}
    out, store = tmp_path / "out", tmp_path / "history.db"
    scenario = _scenario(tmp_path)
    run = _run(
        [
            "run", str(scenario), "--report-dir", str(out),
            "--format", "html", "--format", "md", "--format", "json",
            "--junit", str(out / "junit.xml"), "--metrics-textfile", str(out / "gameday.prom"),
            "--store", str(store),
        ],
        env,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr  # leaky misses its availability
    printed = [run.stdout, run.stderr]
    for fmt in ("html", "md", "json", "junit", "prom"):
        report = _run(["report", str(out), "--format", fmt, "--store", str(store)], env)
        assert report.returncode == 0, report.stderr
        printed += [report.stdout, report.stderr]
    listed = _run(["history", "--store", str(store), "--format", "json"], env)
    assert listed.returncode == 0, listed.stderr
    printed += [listed.stdout, listed.stderr]
    (tmp_path / "printed.txt").write_text("\n".join(printed))

    canaries = [*ENV_CANARIES.values(), URL_CANARY, ARGV_CANARY, OUTPUT_CANARY]
    assert _found(canaries, out) == []
    assert _found(canaries, store) == []
    assert _found(canaries, tmp_path / "printed.txt") == []
    # The drill really ran with them: the leaky probe's failures are there, redacted, and the
    # header is stored as the reference it is.
    result = next(out.glob("*/result.json")).read_text()
    assert "[redacted]" in result
    assert "Bearer ${CANARY_HEADER}" in result
    assert "access_token=[redacted]&page=1" in result
    assert f'"{sys.executable}"' in result  # paths are not secrets (PWD, HOME)


def test_an_unset_header_variable_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "CANARY_HEADER"}

    run = _run(["run", str(scenario), "--report-dir", str(tmp_path / "out")], env)

    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == (
        f"error: {scenario}: probe 'api': headers.Authorization references ${{CANARY_HEADER}}, "
        "which is not set\n"
        f"{scenario}: probe 'api': headers.X-Canary references ${{CANARY_HEADER}}, which is "
        "not set\n"
        "hint: export each variable before gameday starts; its value is sent with the probe's "
        "requests and never stored\n"
    )
    assert not (tmp_path / "out").exists()
