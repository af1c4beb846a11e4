"""The HTML page shell every HTML report shares: one self-contained document, no script,
nothing fetched.

The drill report (``html.py``) and the posture page (``posture_html.py``) differ only in their
body and in the few styles of their own; the doctype, the charset, the Content-Security-Policy,
the base stylesheet and the escaping are said here once, so that a fix to any of them (a
stricter policy, a dark mode, print styles) reaches every page.

The policy is ``default-src 'none'`` with inline styles allowed: were a string ever to slip
through unescaped, the browser would refuse to run it (and say so in its console, which the
Chromium tests watch). Every string from a scenario, a probe or the store goes through ``esc``
on its way into text or an attribute.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape

CSP = "default-src 'none'; style-src 'unsafe-inline'"
"""Nothing may load and no script may run; the pages draw with inline SVG, never ``<img>``."""

BASE_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2430;
background:#f6f7f9}
main{margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 4px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;margin:16px 0}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid #e5e8ec;padding:4px 10px;text-align:left}
th{background:#f0f2f5;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#5f6b7a}
.banner{background:#fff4e5;border-left:4px solid #ef6c00;padding:6px 10px;margin:8px 0}
.g-A{color:#2e7d32}.g-B{color:#558b2f}.g-C{color:#f9a825}.g-D{color:#ef6c00}.g-F{color:#c62828}
svg.trend{background:#fbfcfd}svg.trend polyline{fill:none;stroke:#1565c0;stroke-width:1.5}
svg.trend circle{fill:#1565c0}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
ul.rules{font-size:13px;color:#39424e}
"""
"""Styles of every page; a page's own styles follow it (so they win where both say a thing)."""

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def esc(text: object) -> str:
    """Escape for HTML text and quoted attributes alike.

    C0 control characters (a probe's output may carry terminal colour codes) become U+FFFD:
    HTML forbids them in text, and they would show as nothing at all.
    """
    return escape(_CONTROL.sub("\ufffd", str(text)), quote=True)


def td(text: object, num: bool = False) -> str:
    """One escaped cell; a numeric one is right-aligned in tabular figures."""
    return f'<td class="num">{esc(text)}</td>' if num else f"<td>{esc(text)}</td>"


def cells(values: Sequence[object], numeric: frozenset[int]) -> list[str]:
    """A row's cells, those at the ``numeric`` indexes as numbers."""
    return [td(value, num=i in numeric) for i, value in enumerate(values)]


def table(head: Sequence[str], rows: Iterable[str], css: str = "") -> str:
    """A table; ``head`` is escaped here, ``rows`` arrive as ready ``<tr>`` HTML."""
    heading = "".join(f"<th>{esc(h)}</th>" for h in head)
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}><thead><tr>{heading}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def rules_list(rules: Iterable[str]) -> str:
    """The scoring or posture rules, one item each, as the page's closing list."""
    return '<ul class="rules">' + "".join(f"<li>{esc(rule)}</li>" for rule in rules) + "</ul>"


def document(title: str, body: Iterable[str], style: str) -> str:
    """The whole page: the shell around ``body`` (ready HTML), ``style`` after the base."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{BASE_STYLE}{style}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )
