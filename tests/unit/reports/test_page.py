"""The one page shell of the HTML reports: the drill report and the posture page carry the
same head, policy and base styles, so a fix to the shell reaches both."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from gameday.reports.html import render_html
from gameday.reports.page import BASE_STYLE, CSP, esc
from gameday.reports.posture import build_posture
from gameday.reports.posture_html import render_posture_html
from tests.unit.reports.runs import met_and_missed
from tests.unit.reports.test_html import Page

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HEAD = re.compile(r"\A(.*?)<title>.*?</title><style>(.*?)</style></head><body><main>", re.S)


def _pages() -> tuple[str, str]:
    posture = build_posture([], now=NOW, since=NOW - timedelta(days=90))
    title = "one <shell> & 'title'"
    return render_html([met_and_missed()], title=title), render_posture_html(posture, title)


def test_both_reports_share_the_head_policy_and_base_styles() -> None:
    drill, posture = _pages()
    heads = []
    for page in (drill, posture):
        head = HEAD.match(page)
        assert head is not None
        heads.append(head)
    assert heads[0].group(1) == heads[1].group(1)
    for page, head in zip((drill, posture), heads, strict=True):
        metas = Page(page).find("meta")
        assert [m["content"] for m in metas if m.get("http-equiv")] == [CSP]
        assert {m.get("charset") for m in metas} >= {"utf-8"}
        # The page's own styles come after the base, so they win where both say a thing.
        assert head.group(2).startswith(BASE_STYLE)
        assert len(head.group(2)) > len(BASE_STYLE)
        assert "<title>one &lt;shell&gt; &amp; &#x27;title&#x27;</title>" in page
        assert page.endswith("</main></body></html>\n")


def test_the_policy_lets_nothing_load_and_no_script_run() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives == {"default-src": "'none'", "style-src": "'unsafe-inline'"}


def test_escaping_covers_quotes_and_turns_control_characters_into_a_replacement() -> None:
    assert (
        esc("\x1b[31m<a href='x'>\"&\t\n")
        == "\ufffd[31m&lt;a href=&#x27;x&#x27;&gt;&quot;&amp;\t\n"
    )
    assert esc(12.5) == "12.5"
