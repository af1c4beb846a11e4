"""Facts from botocore's bundled data, read without importing botocore.

Importing botocore costs about 0.2 s; ``gameday validate`` needs only two small facts from its
data files (the region list, the operation names of a service), so it reads them directly.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib.util import find_spec
from pathlib import Path


def _data_dir() -> Path:
    spec = find_spec("botocore")
    if spec is None or spec.origin is None:
        raise RuntimeError("botocore is not installed")
    return Path(spec.origin).parent / "data"


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
    folder = _data_dir() / service
    if not folder.is_dir():
        return None
    versions = sorted(p for p in folder.iterdir() if p.is_dir())
    if not versions:
        return None
    model_dir = versions[-1]
    gz, plain = model_dir / "service-2.json.gz", model_dir / "service-2.json"
    if gz.exists():
        model = json.loads(gzip.decompress(gz.read_bytes()))
    elif plain.exists():
        model = json.loads(plain.read_text())
    else:
        return None
    return frozenset(model["operations"])
