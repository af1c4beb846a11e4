"""npm packages for tests, installed once per lock file: the JavaScript SDK v3 with a proxy
agent (tests/fixtures/js-sdk/) and AWS CLI v2 as npm serves it (tests/fixtures/js-sdk/awscli-v2/).

Each fixture is installed with ``npm ci`` from its committed lock file into
``~/.cache/gameday/<name>-<hash of the lock>``: once, under a file lock, so parallel pytest runs
wait for one install instead of racing; a changed lock file is a new folder.

>>> node_modules = js_sdk_modules()          # skips the test when node/npm are missing
>>> aws = awscli_v2()                        # .../dist/aws, version 2.x
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "js-sdk"
JS_SDK = FIXTURES
AWSCLI_V2 = FIXTURES / "awscli-v2"
REQUIRE_ENV = "GAMEDAY_REQUIRE_NODE"
"""Set (as CI may) to make a missing node or npm fail the tests instead of skipping them."""
_COPIED = ("package.json", "package-lock.json", ".npmrc")
_INSTALL_TIMEOUT_S = 600.0


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gameday"


def require_node() -> str:
    """The path of ``node``; skips the test when node or npm is missing, unless
    ``GAMEDAY_REQUIRE_NODE`` is set, where it fails."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if not path)
        message = f"{missing} not found on PATH"
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{message}, and {REQUIRE_ENV} is set")
        pytest.skip(message)
    return node


def installed(fixture: Path, prefix: str, after: Callable[[Path], None] | None = None) -> Path:
    """The folder where ``fixture``'s lock file is installed (its ``node_modules`` inside).

    ``after`` runs on the fresh install before it is published (unpacking an archive, say):
    the folder appears complete or not at all.
    """
    digest = hashlib.sha256()
    for name in _COPIED:
        path = fixture / name
        if path.exists():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    root = cache_root()
    target = root / f"{prefix}-{digest.hexdigest()[:16]}"
    if target.is_dir():
        return target
    require_node()  # npm installs; what is installed may run without it (AWS CLI v2)
    root.mkdir(parents=True, exist_ok=True)
    with (root / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if target.is_dir():  # another run installed it while this one waited
            return target
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
        try:
            for name in _COPIED:
                if (fixture / name).exists():
                    shutil.copy2(fixture / name, work / name)
            _npm_ci(work)
            if after is not None:
                after(work)
            work.rename(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def _npm_ci(folder: Path) -> None:
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=_INSTALL_TIMEOUT_S,
    )
    if result.returncode != 0:
        pytest.fail(f"npm ci in {folder} failed ({result.returncode}):\n{result.stderr[-3000:]}")


def js_sdk_modules() -> Path:
    """The installed JS SDK fixture (its scripts run from ``js_sdk_script``)."""
    require_node()
    return installed(JS_SDK, "js-sdk")


def awscli_v2() -> Path:
    """The ``aws`` executable of AWS CLI v2: the official build that AWS CDK's Lambda-layer
    asset (``@aws-cdk/asset-awscli-v2``) ships as ``lib/layer.zip``."""
    folder = installed(AWSCLI_V2, "awscli-v2", _unpack_layer)
    [aws] = sorted(folder.glob("layer/awscli/v2/2.*/dist/aws"))
    return aws


def _unpack_layer(folder: Path) -> None:
    layer = folder / "node_modules" / "@aws-cdk" / "asset-awscli-v2" / "lib" / "layer.zip"
    target = folder / "layer"
    with zipfile.ZipFile(layer) as archive:
        for member in archive.infolist():
            _extract(archive, member, target)


def _extract(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path) -> None:
    """One member, keeping what zipfile drops: symbolic links and the executable bit (the
    layer is a PyInstaller build, its libraries found through links)."""
    path = target / member.filename
    if not path.resolve().is_relative_to(target.resolve()):
        raise ValueError(f"{member.filename!r} leaves the folder it is unpacked into")
    mode = member.external_attr >> 16
    if member.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if stat.S_ISLNK(mode):
        os.symlink(archive.read(member).decode(), path)
        return
    with archive.open(member) as source, path.open("wb") as sink:
        shutil.copyfileobj(source, sink, 1 << 20)
    if mode & 0o111:
        path.chmod(0o755)


def js_sdk_script(name: str, work: Path) -> Path:
    """``tests/fixtures/js-sdk/<name>`` copied into ``work`` beside a link to the installed
    ``node_modules``: node resolves a module's imports from the module's own folder."""
    modules = js_sdk_modules() / "node_modules"
    work.mkdir(parents=True, exist_ok=True)
    link = work / "node_modules"
    if not link.exists():
        link.symlink_to(modules, target_is_directory=True)
    script = work / name
    shutil.copy2(JS_SDK / name, script)
    return script
