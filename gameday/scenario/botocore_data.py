"""Facts from botocore's bundled data, read without importing botocore.

Importing botocore costs about 0.2 s; ``gameday validate`` needs only a few facts from its
data files (the region list, the service models, their operation names and signing names), so
it reads them directly. Models are found as botocore's own loader finds them (the folders of
``AWS_DATA_PATH``, then ``~/.aws/models``, then the package's data), so the gateway, which
classifies requests with botocore's loader, sees the same services.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Mapping
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

_HEAD_BYTES = 16384
"""service-2.json starts with ``version`` and ``metadata``: the first bytes hold the metadata."""


def _data_dir() -> Path:
    spec = find_spec("botocore")
    if spec is None or spec.origin is None:
        raise RuntimeError("botocore is not installed")
    return Path(spec.origin).parent / "data"


def _search_paths() -> list[Path]:
    # botocore.loaders.create_loader and Loader.__init__: AWS_DATA_PATH's folders first.
    extra = os.environ.get("AWS_DATA_PATH") or ""
    paths = [Path(os.path.expanduser(os.path.expandvars(p))) for p in extra.split(os.pathsep) if p]
    return [*paths, Path.home() / ".aws" / "models", _data_dir()]


_SERVICE_FILES = ("service-2.json", "service-2.json.gz")


@cache
def service_model_files() -> Mapping[str, Path]:
    """Each service model's newest ``service-2`` file, by botocore model name: the newest API
    version in any search folder, from the first folder that has it (botocore's own choice)."""
    versions: dict[str, dict[str, Path]] = {}
    for base in _search_paths():
        for service in _folders(base):
            for version in _folders(Path(service.path)):
                for name in _SERVICE_FILES:
                    path = Path(version.path, name)
                    if path.is_file():
                        by_version = versions.setdefault(service.name, {})
                        by_version.setdefault(version.name, path)
                        break
    return {name: by_version[max(by_version)] for name, by_version in sorted(versions.items())}


def _folders(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as entries:
            return [entry for entry in entries if entry.is_dir()]
    except OSError:
        return []


def _load(path: Path) -> Any:
    raw = path.read_bytes()
    return json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)


@cache
def service_metadata(service: str) -> Mapping[str, Any]:
    """A service model's ``metadata``, read from the first bytes of its file (the whole of
    ~440 models takes seconds to parse; their metadata, tens of milliseconds)."""
    path = service_model_files()[service]
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            head = stream.read(_HEAD_BYTES).decode("utf-8", "replace")
        start = head.find('"metadata"')
        brace = head.find("{", start) if start >= 0 else -1
        if brace >= 0:
            metadata, _ = json.JSONDecoder().raw_decode(head, brace)
            if isinstance(metadata, dict) and "protocol" in metadata:
                return metadata
    except (OSError, EOFError, ValueError):
        pass
    return dict(_load(path)["metadata"])


@cache
def known_regions() -> frozenset[str]:
    """Every region of every partition botocore knows (``aws-global`` pseudo-regions excluded)."""
    data = json.loads((_data_dir() / "partitions.json").read_text())
    return frozenset(
        region
        for partition in data["partitions"]
        for region in partition["regions"]
        if not region.endswith("-global")
    )


@cache
def service_operations(service: str) -> frozenset[str] | None:
    """The operation names of a botocore service model, or None when botocore has no such model."""
    path = service_model_files().get(service)
    if path is None:
        return None
    return frozenset(_load(path)["operations"])
