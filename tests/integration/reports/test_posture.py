"""The posture report from a seeded fleet history (10,000 runs, 50 scenarios, 5 owners, written
through the store's API): its figures against queries written here in plain SQL over the raw
rows, and its HTML in Debian's headless Chromium (no console error, no script, the tables and
inline SVG trends drawn)."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gameday.history import HistoryStore
from gameday.reports.posture import POSTURE_KINDS, build_posture
from gameday.reports.posture_render import PostureFormat, render_posture
from tests.integration.reports.chromium import CHROMIUM, visit_pages
from tests.unit.reports.posture_history import NOW, OWNERS, shared_history
from tests.unit.reports.runs import REPO

SINCE = NOW - timedelta(days=90)
DRILL = "('passed', 'failed', 'aborted')"
UNSCORED = "('error', 'not-steady', 'inconclusive')"
# A scored drill; an abort by a signal or a dead runner is a drill status with no score.
SCORED = f"status IN {DRILL} AND score IS NOT NULL"
CAPABILITIES = ("identity", "logging", "registry", "region")


def _iso(moment: Any) -> str:
    return str(moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_history(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def rendered(store: Path) -> dict[PostureFormat, str]:
    """What `gameday report --posture` renders: from the store's narrow read."""
    with HistoryStore(store, clock=lambda: NOW) as history:
        rows = history.finished_runs(POSTURE_KINDS)
    posture = build_posture(rows, now=NOW, since=SINCE)
    return {fmt: render_posture(posture, fmt) for fmt in PostureFormat}


@pytest.fixture(scope="module")
def db(store: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    yield connection
    connection.close()


def _labels(db: sqlite3.Connection, column: str) -> dict[str, str]:
    """Each scenario's owner or capabilities: those of its newest run that names them."""
    rows = db.execute(
        f"SELECT r.scenario, r.{column} FROM runs AS r WHERE r.{column} != '' AND NOT EXISTS ("
        f"SELECT 1 FROM runs AS p WHERE p.scenario = r.scenario AND p.{column} != '' "
        "AND p.started_at > r.started_at)"
    )
    return dict(rows.fetchall())


def _groups(db: sqlite3.Connection) -> dict[str, dict[str, list[str]]]:
    owners, capabilities = _labels(db, "owner"), _labels(db, "capabilities")
    return {
        "owners": {o: sorted(s for s, so in owners.items() if so == o) for o in OWNERS},
        "capabilities": {
            c: sorted(s for s, cs in capabilities.items() if c in cs.split(","))
            for c in CAPABILITIES
        },
    }


def _in(scenarios: list[str]) -> str:
    return "(" + ", ".join(f"'{s}'" for s in scenarios) + ")"


def _expected(db: sqlite3.Connection, scenarios: list[str]) -> dict[str, Any]:
    """A group's figures, from the raw rows, without the report's code."""
    where = f"scenario IN {_in(scenarios)}"
    since = _iso(SINCE)
    middle = _iso(SINCE + (NOW - SINCE) / 2)
    one = lambda sql, *args: db.execute(sql, args).fetchone()  # noqa: E731
    (last,) = one(f"SELECT MAX(started_at) FROM runs WHERE {SCORED} AND {where}")
    (drills,) = one(
        f"SELECT COUNT(*) FROM runs WHERE {SCORED} AND {where} AND started_at >= ?", since
    )
    (unscored,) = one(
        f"SELECT COUNT(*) FROM runs WHERE (status IN {UNSCORED} OR (status IN {DRILL} AND "
        f"score IS NULL)) AND {where} AND started_at >= ?",
        since,
    )
    latest = db.execute(
        f"SELECT r.score, r.started_at FROM runs AS r WHERE r.{SCORED} AND r.{where} "
        f"AND NOT EXISTS (SELECT 1 FROM runs AS p WHERE p.scenario = r.scenario "
        f"AND p.status IN {DRILL} AND p.score IS NOT NULL AND p.started_at > r.started_at)"
    ).fetchall()
    postures = []
    for score, started in latest:
        age_days = (NOW - _parse(started)) / timedelta(days=1)
        postures.append(score * min(1.0, max(0.0, 2.0 - age_days / 30.0)))
    (first,) = one(
        f"SELECT AVG(score) FROM runs WHERE {SCORED} AND {where} AND started_at >= ? "
        "AND started_at < ?",
        since,
        middle,
    )
    (second,) = one(
        f"SELECT AVG(score) FROM runs WHERE {SCORED} AND {where} AND started_at >= ?",
        middle,
    )
    kinds = {}
    for kind in ("rto", "rpo", "ttd"):
        join = (
            f"FROM measurements AS m JOIN runs AS r ON r.run_id = m.run_id WHERE m.kind = ? "
            f"AND r.{SCORED} AND r.{where} AND r.started_at >= ?"
        )
        count, met, measured, mean, best = one(
            f"SELECT COUNT(*), SUM(m.met), COUNT(m.measured), AVG(m.measured), "
            f"MIN(m.measured - m.target) {join}",
            kind,
            since,
        )
        (newest,) = one(f"SELECT r.run_id {join} ORDER BY r.started_at DESC LIMIT 1", kind, since)
        values = db.execute(
            "SELECT measured, target FROM measurements WHERE run_id = ? AND kind = ?",
            (newest, kind),
        ).fetchall()
        worst = None if any(v is None for v, _ in values) else max(v - t for v, t in values)
        kinds[kind] = {"count": count, "met": met, "not_measured": count - measured,
                       "mean_s": mean, "best": best, "newest": newest, "worst": worst}  # fmt: skip
    return {
        "last_drill": last,
        "drills": drills,
        "unscored": unscored,
        "posture": sum(postures) / len(scenarios),
        "score": sum(s for s, _ in latest) / len(latest),
        "trend": None if first is None or second is None else second - first,
        "kinds": kinds,
    }


def _parse(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)


def _excess(figure: dict[str, Any] | None) -> float | None:
    if figure is None or figure["objective"]["measured"] is None:
        return None
    objective = figure["objective"]
    return float(objective["measured"] - objective["target"])


def test_the_seed_is_the_fleet_the_issue_describes(db: sqlite3.Connection) -> None:
    (runs, scenarios) = db.execute("SELECT COUNT(*), COUNT(DISTINCT scenario) FROM runs").fetchone()
    owners = db.execute("SELECT COUNT(DISTINCT owner) FROM runs WHERE owner != ''").fetchone()[0]
    assert (runs, scenarios) == (10_000, 50)
    assert owners == 5 + 1  # and the former owner of drill-07


def test_the_figures_match_an_independent_query(
    db: sqlite3.Connection, rendered: dict[PostureFormat, str]
) -> None:
    document = json.loads(rendered[PostureFormat.JSON])
    assert document["runs"] == 10_000
    groups = _groups(db)
    for view in ("capabilities", "owners"):
        reported = {g["name"]: g for g in document[view]}
        assert sorted(reported) == sorted(groups[view])
        for name, scenarios in groups[view].items():
            group, expected = reported[name], _expected(db, scenarios)
            assert group["scenarios"] == scenarios, name
            assert group["last_drill"] == expected["last_drill"], name
            assert (group["drills"], group["unscored"]) == (
                expected["drills"],
                expected["unscored"],
            ), name
            assert group["score"] == pytest.approx(expected["score"]), name
            assert group["posture"] == pytest.approx(expected["posture"]), name
            assert group["trend"]["delta"] == pytest.approx(expected["trend"]), name
            for kind, figures in group["objectives"].items():
                want = expected["kinds"][kind]
                assert (figures["count"], figures["met"], figures["not_measured"]) == (
                    want["count"],
                    want["met"],
                    want["not_measured"],
                ), (name, kind)
                assert figures["mean_s"] == pytest.approx(want["mean_s"]), (name, kind)
                assert _excess(figures["best"]) == pytest.approx(want["best"]), (name, kind)
                assert figures["latest"]["run_id"] == want["newest"], (name, kind)
                assert _excess(figures["latest"]) == pytest.approx(want["worst"]), (name, kind)


def test_the_narrow_read_and_the_full_rows_give_the_same_posture(
    store: Path, rendered: dict[PostureFormat, str]
) -> None:
    with HistoryStore(store, clock=lambda: NOW) as history:
        rows = history.runs()
    full = render_posture(build_posture(rows, now=NOW, since=SINCE), PostureFormat.JSON)
    assert json.loads(full)["runs"] == 10_000
    assert full == rendered[PostureFormat.JSON]


def test_region_went_stale_and_its_posture_decayed(rendered: dict[PostureFormat, str]) -> None:
    document = json.loads(rendered[PostureFormat.JSON])
    stale = {g["name"]: g["stale"] for g in document["capabilities"]}
    assert stale == {"identity": False, "logging": False, "registry": False, "region": True}
    region = document["capabilities"][3]
    assert 45 * 86400 <= region["age_s"] < 46 * 86400
    assert region["posture"] < 0.6 * region["score"]
    assert region["trend"]["direction"] == "unknown"  # no drill in the second half


def test_the_markdown_and_html_print_the_json_figures(rendered: dict[PostureFormat, str]) -> None:
    from gameday.grading import display_score

    document = json.loads(rendered[PostureFormat.JSON])
    for group in document["capabilities"] + document["owners"]:
        cells = f"| {group['drills']} | {group['unscored']} | {display_score(group['score'])} | "
        cells += f"{display_score(group['posture'])} | {group['grade']} |"
        assert cells in rendered[PostureFormat.MARKDOWN], group["name"]
        assert f'data-name="{group["name"]}"' in rendered[PostureFormat.HTML]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_the_html_opens_in_chromium_without_console_errors(
    rendered: dict[PostureFormat, str], tmp_path: Path
) -> None:
    page = tmp_path / "posture.html"
    page.write_text(rendered[PostureFormat.HTML], encoding="utf-8")
    script = """(() => {
      const all = (s) => Array.from(document.querySelectorAll(s));
      return {
        scripts: all('script').length,
        capabilities: all('table.groups.capabilities tbody tr').map(tr =>
          [tr.dataset.name, tr.dataset.stale]),
        owners: all('table.groups.owners tbody tr').length,
        scenarios: all('table.scenarios tbody tr').length,
        trends: all('svg.trend').map(svg => [svg.querySelectorAll('circle').length,
          svg.getBoundingClientRect().width]),
        staleBackground: getComputedStyle(document.querySelector('tr.stale td'))
          .backgroundColor,
        text: document.body.innerText,
      };
    })()"""
    visit = visit_pages({page: math.inf}, script)[page]
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    assert visit.png is not None
    (artifacts / "posture.png").write_bytes(visit.png)
    assert visit.console_errors == [] and visit.dialogs == []
    dom = visit.dom
    assert dom["scripts"] == 0
    assert dom["capabilities"] == [
        ["identity", "false"],
        ["logging", "false"],
        ["registry", "false"],
        ["region", "true"],
    ]
    assert (dom["owners"], dom["scenarios"]) == (5, 50)
    # one trend per capability and owner, each a drawn line of weekly points
    assert len(dom["trends"]) == 4 + 5
    assert all(points >= 6 and width > 150 for points, width in dom["trends"])
    assert dom["staleBackground"] == "rgb(255, 244, 229)"
    assert "How the posture is computed" in dom["text"]
    assert "decay = 1 up to 30d" in dom["text"]
