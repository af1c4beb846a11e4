"""The "What the app did" section (issue 17): calls by class, each destructive call, what was
refused; in every format, escaped like any string a request can carry, and absent from a
result where nobody counted the app's calls (an older result, a real account)."""

from __future__ import annotations

from xml.etree import ElementTree

from gameday.grading import grade_objective
from gameday.kinds import CallClass, ObjectiveKind
from gameday.reports.html import render_html
from gameday.reports.junit import render_junit
from gameday.reports.markdown import render_markdown
from gameday.reports.prom import render_prom
from gameday.reports.suite import miss_message
from gameday.reports.terminal import format_measured, format_target, render_result
from gameday.result import CallAudit, CallCount, DestructiveCall, RunResult, read_result
from tests.unit.reports.runs import RECORDED, met_and_missed

HOSTILE_TABLE = "<script>alert(1)</script>|x"


def _audited() -> RunResult:
    calls = CallAudit(
        counted=True,
        counts=[
            CallCount(
                service="dynamodb",
                operation="GetItem",
                outcome="forwarded",
                call_class=CallClass.READ,
                count=40,
            ),
            CallCount(
                service="dynamodb",
                operation="PutItem",
                outcome="error",
                call_class=CallClass.WRITE,
                count=3,
            ),
            CallCount(
                service="dynamodb",
                operation="DeleteTable",
                outcome="denied",
                call_class=CallClass.DESTRUCTIVE,
                count=2,
            ),
        ],
        destructive=[
            DestructiveCall(
                at=12.5,
                service="dynamodb",
                operation="DeleteTable",
                resource="orders",
                outcome="denied",
                region="us-east-1",
            ),
            DestructiveCall(
                at=13.0,
                service="dynamodb",
                operation="DeleteTable",
                resource=HOSTILE_TABLE,
                outcome="denied",
            ),
        ],
        deny_destructive=True,
    )
    objective = grade_objective(
        "no-destruction",
        ObjectiveKind.DESTRUCTIVE_CALLS,
        "",
        0.0,
        2.0,
        detail="2 destructive call(s) from the first injection to the end of observation",
    )
    base = met_and_missed()
    return base.model_copy(update={"calls": calls, "objectives": [*base.objectives, objective]})


SUMMARY = "45 call(s): 40 read, 3 write, 2 destructive (2 refused by deny_destructive)"


def test_every_format_shows_what_the_app_did() -> None:
    result = _audited()
    terminal = render_result(result)
    assert f"  what the app did: {SUMMARY}\n" in terminal
    assert "    destructive: 12.50s dynamodb DeleteTable orders (denied)\n" in terminal
    markdown = render_markdown([result])
    assert f"### What the app did\n\n{SUMMARY.replace('_', chr(92) + '_')}.\n" in markdown
    assert "| 12.50s | dynamodb DeleteTable | orders | denied |" in markdown
    html = render_html([result])
    assert f"<h3>What the app did</h3><p>{SUMMARY}</p>" in html
    assert "<td>dynamodb DeleteTable</td><td>orders</td><td>denied</td>" in html
    junit = ElementTree.fromstring(render_junit([result]))
    (case,) = [c for c in junit.iter("testcase") if c.get("name") == "no-destruction"]
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    assert "12.50s dynamodb DeleteTable orders (denied)" in failure.text
    assert failure.get("message") == "destructive_calls 2 call(s) > target 0 call(s)"
    prom = render_prom([result])
    name = result.scenario.name
    for call_class, count in (("read", 40), ("write", 3), ("destructive", 2)):
        assert f'gameday_app_calls{{class="{call_class}",scenario="{name}"}} {count:.1f}' in prom
    assert f'gameday_app_destructive_calls{{outcome="denied",scenario="{name}"}} 2.0' in prom
    # A count is neither seconds nor a ratio: only met and credit carry it.
    families = {
        line.split("{")[0]
        for line in prom.splitlines()
        if 'objective="no-destruction"' in line and not line.startswith("#")
    }
    assert families == {
        "gameday_objective_met",
        "gameday_objective_credit",
        "gameday_objective_weight",
        "gameday_objective_critical",
    }


def test_a_resource_name_is_shown_as_text() -> None:
    result = _audited()
    html = render_html([result])
    assert HOSTILE_TABLE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;|x" in html
    markdown = render_markdown([result])
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown


def test_the_objective_reads_as_a_count() -> None:
    (objective,) = [o for o in _audited().objectives if o.kind is ObjectiveKind.DESTRUCTIVE_CALLS]
    assert (format_target(objective), format_measured(objective)) == ("<= 0 call(s)", "2 call(s)")
    assert not objective.met and objective.credit == 0.0
    uncounted = grade_objective("x", ObjectiveKind.DESTRUCTIVE_CALLS, "", 0.0, None)
    assert format_measured(uncounted) == "not counted"
    assert miss_message(uncounted) == "destructive_calls not counted (target 0 call(s))"


def test_an_older_result_has_no_calls_to_show_and_still_reads() -> None:
    for path in sorted(RECORDED.glob("*.json")):
        old = read_result(path)
        assert old.calls == CallAudit() and not old.calls.counted
        assert "what the app did" not in render_result(old)
        assert "What the app did" not in render_markdown([old])
        assert "What the app did" not in render_html([old])
        assert "gameday_app_calls{" not in render_prom([old])


def _with_probe_calls() -> RunResult:
    result = _audited()
    probe_counts = [
        CallCount(
            service="sts",
            operation="GetCallerIdentity",
            outcome="forwarded",
            call_class=CallClass.READ,
            count=20,
        ),
        CallCount(
            service="dynamodb",
            operation="DeleteTable",
            outcome="denied",
            call_class=CallClass.DESTRUCTIVE,
            count=1,
        ),
    ]
    calls = result.calls.model_copy(update={"probe_counts": probe_counts})
    return result.model_copy(update={"calls": calls})


PROBES = (
    "gameday's own probes made 21 call(s): 20 read, 0 write, 1 destructive "
    "(1 refused by deny_destructive), not counted as the app's"
)


def test_the_probes_calls_are_shown_apart_and_not_as_the_apps() -> None:
    result = _with_probe_calls()
    # The app's summary, metrics and objective are the same as without the probes' calls.
    assert result.calls.by_class() == _audited().calls.by_class()
    terminal = render_result(result)
    assert f"  what the app did: {SUMMARY}\n" in terminal
    assert f"    {PROBES}\n" in terminal
    markdown = render_markdown([result])
    assert PROBES.replace("_", chr(92) + "_") + ".\n" in markdown
    assert f"<p>{PROBES.replace(chr(39), '&#x27;')}</p>" in render_html([result])
    assert render_prom([result]) == render_prom([_audited()])
    # None made: no line at all.
    assert "gameday's own probes" not in render_result(_audited())
    assert "gameday&#x27;s own probes" not in render_html([_audited()])
