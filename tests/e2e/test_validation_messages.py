"""The installed `gameday validate` says, in the author's words, what to write instead:
exit 2, each fixture's message at its line and column, and never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

INVALID = Path(__file__).resolve().parents[1] / "fixtures" / "invalid"
IN_USERS_WORDS = [
    "health-url-without-scheme",
    "probe-url-without-app",
    "probe-url-port-placeholder",
    "command-as-text",
    "retries-as-number",
    "env-value-not-quoted",
    "availability-target-percent",
    "availability-target-above-one",
    "name-upper-case",
]


def test_validate_speaks_the_users_words() -> None:
    script = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert script, "the gameday console script is not installed next to this Python"
    paths = [INVALID / f"{name}.yaml" for name in IN_USERS_WORDS]
    done = subprocess.run(
        [script, "validate", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    for path in paths:
        expected = path.read_text().splitlines()[0].removeprefix("# expect: ")
        assert f"error: {path}:{expected}" in errors
    assert f"0 valid, {len(paths)} invalid" in done.stderr
