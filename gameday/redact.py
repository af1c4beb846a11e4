"""Credentials never reach a result, report, history row, metric or log (DESIGN.md "Safety" 6).

One ``Redactor`` replaces what looks like a credential with ``[redacted]``, in free text
(probe failure details, command output, events, log lines), in argv lists and in JSON-shaped
data (the scenario copy in a result), before anything is written:

- values of names that say they are credentials (``access_token=...``, ``X-Amz-Signature=``,
  ``"password": "..."``, ``X-Api-Key: ...``): names containing token, secret, password,
  passwd, signature, session, credential, auth (not author), cookie, or api/access/private/...
  key (a bare ``key`` is an S3 object or DynamoDB key, not a secret);
- ``Authorization:`` and ``Cookie:`` header values, ``Bearer <token>``;
- AWS access key ids (``AKIA``/``ASIA`` and 16 more); the password in ``https://user:pw@host``;
- ``--token VALUE`` / ``--password=VALUE`` in a command line;
- the run's known secrets wherever they appear: the values of the runner's environment
  variables named like credentials, and what gameday was told to hold (``remember_secret``:
  resolved probe header values, tokens given on the command line).

A reference to an environment variable (``${PAGER_TOKEN}``) is kept: it is what a scenario
stores instead of the value. The standard library only: every layer may use it.

>>> redact("GET https://api/x?access_token=abc123&page=2")
'GET https://api/x?access_token=[redacted]&page=2'
"""

from __future__ import annotations

import os
import re
import threading
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

REDACTED = "[redacted]"
MIN_ENV_SECRET_LEN = 8
"""Shorter values of credential-named variables are not looked for (``XDG_SESSION_ID=2``)."""
MIN_KNOWN_SECRET_LEN = 4
"""Shorter remembered values are not looked for: they would redact common words."""

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""``${NAME}``: a value read from the runner's environment at run time, stored as written."""

_SECRET_NAME = re.compile(
    r"token|secret|passw(?:or)?d|signature|session|credential|cookie"
    r"|(?<!un)auth(?!or(?:s|ity|ities)?(?![a-z])|enticat)"
    r"|(?:api|access|private|client|account|signing|encryption|master|subscription)[-_]?keys?"
    r"|^sig$",
    re.IGNORECASE,
)
_WHOLE_LINE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_COLON_NAMES = frozenset(
    {"token", "secret", "password", "passwd", "apikey", "signature", "credential", "credentials"}
)
_HARMLESS_HEADERS = frozenset(
    {"accept", "accept-encoding", "accept-language", "cache-control", "content-type", "user-agent"}
)
_SCHEME_WORDS = r"(?:Bearer|Basic|Digest|Token|AWS4-HMAC-SHA256)"
_SCHEMES = re.compile(rf"^{_SCHEME_WORDS}\s+", re.IGNORECASE)
_SCHEME = re.compile(_SCHEME_WORDS, re.IGNORECASE)
_PLAIN_WORD = re.compile(r"[a-z][a-z-]{0,19}")
"""A setting's word under a credential-named key (``credentials: runner``), kept."""

_NAME = r"[\w.-]{1,100}"
_VALUE = r"[^\s&\"',;<>)`]+"
_HEADER_LINE = re.compile(
    r"(?<![\w-])(?P<name>(?:proxy-)?authorization|(?:set-)?cookie)"
    r"(?P<sep>[\"']?\s*[:=]\s*[\"']?)(?P<value>[^\"'\r\n]+)",
    re.IGNORECASE,
)
_KEY_EQUALS = re.compile(
    rf"(?<![\w.-])(?P<name>{_NAME})(?P<sep>[\"']?\s*=\s*[\"']?)(?P<value>{_VALUE})"
)
_QUOTED_KEY = re.compile(
    rf"(?P<name>\"{_NAME}\"|'{_NAME}')(?P<sep>\s*:\s*[\"']?)(?P<value>{_VALUE})"
)
_KEY_COLON = re.compile(rf"(?<![\w.-])(?P<name>{_NAME})(?P<sep>:[ \t]+)(?P<value>{_VALUE})")
_OPTION = re.compile(rf"(?<!\S)(?P<name>--?{_NAME})(?P<sep>[ \t]+)(?P<value>[^\s\-\"'][^\s\"']*)")
_BEARER = re.compile(
    r"\b(?P<name>bearer)(?P<sep>\s+)(?P<value>(?=[\w\-.~+/]*\d)[\w\-.~+/]{8,}=*)", re.IGNORECASE
)
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_USERINFO = re.compile(
    r"(?P<name>\b[a-z][a-z0-9+.-]*://[^/\s:@]*)(?P<sep>:)(?P<value>[^/\s@]+)(?=@)"
)


def secret_name(name: str) -> bool:
    """Whether a parameter, header, option or variable of this name holds a credential."""
    return bool(_SECRET_NAME.search(name.strip("\"'-")))


def _mask(value: str) -> str:
    """``value`` with everything but ``${NAME}`` references and auth schemes redacted."""
    if value == REDACTED:
        return value
    pieces = REFERENCE.split(value)
    out: list[str] = []
    for index, piece in enumerate(pieces):
        if index % 2:
            out.append("${" + piece + "}")
            continue
        scheme = _SCHEMES.match(piece)
        kept = scheme.group(0) if scheme else ""
        rest = piece[len(kept) :]
        stripped = rest.strip()
        if not stripped or stripped == REDACTED or _SCHEME.fullmatch(stripped):
            out.append(kept + rest)
        else:
            out.append(kept + rest[: len(rest) - len(rest.lstrip())] + REDACTED)
            out.append(rest[len(rest.rstrip()) :])
    return "".join(out)


def _masked_value(match: re.Match[str]) -> str:
    return match.group("name") + match.group("sep") + _mask(match.group("value"))


def _if_secret_name(match: re.Match[str]) -> str:
    return _masked_value(match) if secret_name(match.group("name")) else match.group(0)


def _if_colon_name(match: re.Match[str]) -> str:
    name = match.group("name")
    if not secret_name(name):
        return match.group(0)
    header_like = "-" in name or "_" in name or name.lower() in _COLON_NAMES
    return _masked_value(match) if header_like else match.group(0)


@dataclass(frozen=True)
class Redactor:
    """Redacts credentials by their look and ``secrets`` (exact values) wherever they are.

    >>> Redactor(frozenset({"s3cr3t-value"})).text("echo s3cr3t-value")
    'echo [redacted]'
    """

    secrets: frozenset[str] = frozenset()
    _ordered: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        variants = {v for s in self.secrets for v in (s, urllib.parse.quote(s, safe=""))}
        # Longest first: a secret that contains another is replaced whole.
        ordered = tuple(sorted(variants, key=len, reverse=True))
        object.__setattr__(self, "_ordered", ordered)

    def text(self, text: str) -> str:
        """``text`` with every credential replaced by ``[redacted]``."""
        for secret in self._ordered:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _HEADER_LINE.sub(_masked_value, text)
        text = _BEARER.sub(_masked_value, text)
        text = _ACCESS_KEY_ID.sub(REDACTED, text)
        if "://" in text:
            text = _USERINFO.sub(_masked_value, text)
        if "=" in text:
            text = _KEY_EQUALS.sub(_if_secret_name, text)
        if ":" in text:
            text = _QUOTED_KEY.sub(_if_secret_name, text)
            text = _KEY_COLON.sub(_if_colon_name, text)
        if "-" in text:
            text = _OPTION.sub(_if_secret_name, text)
        return text

    def argv(self, words: Sequence[str]) -> list[str]:
        """A command line: each word as text, and the word after ``--token``-like options."""
        out: list[str] = []
        hide_next = False
        for word in words:
            if hide_next and not word.startswith("-"):
                out.append(_mask(word))
                hide_next = False
                continue
            hide_next = word.startswith("-") and "=" not in word and secret_name(word)
            out.append(self.text(word))
        return out

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Header values: kept for harmless headers and ``${NAME}`` references, else redacted."""
        return {
            name: self.text(value) if name.lower() in _HARMLESS_HEADERS else _mask(value)
            for name, value in headers.items()
        }

    def data(self, value: object, key: str = "") -> object:
        """JSON-shaped ``value`` (dicts, lists, strings, numbers) with credentials redacted:
        strings as text, lists of strings as argv, the values of credential-named keys and of
        a ``headers`` mapping whole."""
        if isinstance(value, str):
            if key and secret_name(key) and not _PLAIN_WORD.fullmatch(value):
                return _mask(value)
            return self.text(value)
        if isinstance(value, Mapping):
            if key == "headers" and all(isinstance(v, str) for v in value.values()):
                return self.headers({str(k): str(v) for k, v in value.items()})
            return {k: self.data(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            if value and all(isinstance(v, str) for v in value):
                return self.argv([str(v) for v in value])
            return [self.data(v) for v in value]
        return value


_remembered: set[str] = set()
_remembered_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Hold ``value`` as a secret of this process: redacted wherever it appears from now on
    (a resolved probe header, a token given on the command line)."""
    if value and len(value) >= MIN_KNOWN_SECRET_LEN:
        with _remembered_lock:
            _remembered.add(value)


def environment_secrets(environ: Mapping[str, str]) -> frozenset[str]:
    """The values of variables named like credentials (``AWS_SECRET_ACCESS_KEY``,
    ``GAMEDAY_GATEWAY_TOKEN``), paths to files and sockets aside."""
    return frozenset(
        value
        for name, value in environ.items()
        if len(value) >= MIN_ENV_SECRET_LEN
        and secret_name(name)
        and not name.upper().endswith(("_FILE", "_PATH", "_DIR", "_SOCK"))
    )


def current_redactor(environ: Mapping[str, str] | None = None) -> Redactor:
    """The redactor of this process now: the environment's secrets and remembered ones."""
    with _remembered_lock:
        remembered = frozenset(_remembered)
    return Redactor(environment_secrets(os.environ if environ is None else environ) | remembered)


def redact(text: str) -> str:
    """``text`` through the ``current_redactor``: for a log line, an event, a warning."""
    return current_redactor().text(text)


def references(text: str) -> list[str]:
    """The variable names ``text`` references as ``${NAME}``."""
    return REFERENCE.findall(text)


def resolve_references(text: str, environ: Mapping[str, str]) -> str:
    """``text`` with each ``${NAME}`` replaced by its value; KeyError naming an unset one."""

    def value(match: re.Match[str]) -> str:
        found = environ.get(match.group(1))
        if not found:
            raise KeyError(match.group(1))
        return found

    return REFERENCE.sub(value, text)


def unset_references(texts: Iterable[str], environ: Mapping[str, str]) -> list[str]:
    """The referenced variable names that ``environ`` does not set (or sets empty), in order."""
    names = [name for text in texts for name in references(text)]
    return [name for name in dict.fromkeys(names) if not environ.get(name)]
