"""ISO 8601 durations as FIS reads and writes them (``PT1M``, ``PT1H30M``, ``PT20S``).

"In the AWS FIS API, the value is a string in ISO 8601 format. For example, PT1M represents one
minute." (https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html)
"""

from __future__ import annotations

import math
import re

_ISO = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def iso_duration(seconds: float) -> str:
    """``seconds`` as an ISO 8601 duration, rounded up to whole seconds (FIS has no fractions)."""
    whole = max(0, math.ceil(seconds - 1e-9))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if v]
    return "PT" + ("".join(parts) or "0S")


def parse_iso_duration(text: str) -> float:
    """The seconds in an ISO 8601 duration such as ``PT5M``; ``ValueError`` when it is not one."""
    match = _ISO.match(text.strip())
    if match is None or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT5M")
    return sum(float(v) * _UNIT_S[k] for k, v in match.groupdict().items() if v is not None)
