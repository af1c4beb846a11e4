"""`gameday explain SOURCE` resolves SOURCE as `gameday report` does: a result.json, a folder
of them, or a run id in the history store; and `gameday run`'s report options."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gameday.cli import app
from gameday.history import HistoryStore
from gameday.reports.explain import render_explanation
from gameday.result import RunResult, write_result
from tests.unit.reports.runs import demo_suite, met_and_missed

runner = CliRunner()


def _folder(tmp_path: Path, results: list[RunResult]) -> Path:
    folder = tmp_path / "gameday-reports"
    for result in results:
        write_result(result, folder / result.run_id / "result.json")
    return folder


def test_explain_a_result_file_a_folder_and_a_run_id_alike(tmp_path: Path) -> None:
    result = met_and_missed()
    folder = _folder(tmp_path, [result])
    store = tmp_path / "history.db"
    with HistoryStore(store) as history:
        history.finish_run(result)
    expected = render_explanation([result])
    for source in (
        [str(folder / result.run_id / "result.json")],
        [str(folder)],
        [result.run_id, "--store", str(store)],
    ):
        done = runner.invoke(app, ["explain", *source])
        assert done.exit_code == 0, done.output
        assert done.stdout == expected
    assert "credit" in expected and "scoring rules" in expected


def test_explain_a_suite_folder(tmp_path: Path) -> None:
    results = demo_suite()
    done = runner.invoke(app, ["explain", str(_folder(tmp_path, results))])
    assert done.exit_code == 0, done.output
    assert "\nsuite score " in done.stdout
    assert "\nper capability, the mean of the scenarios covering it:\n" in done.stdout


def test_explain_what_does_not_exist_exits_2_naming_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = runner.invoke(app, ["explain", str(empty)])
    assert done.exit_code == 2
    assert f"error: {empty}: no result.json in this folder" in done.stderr
    unknown = runner.invoke(app, ["explain", "no-such-run", "--store", str(tmp_path / "h.db")])
    assert unknown.exit_code == 2 and "Traceback" not in unknown.output


def test_run_refuses_no_report_with_a_format(tmp_path: Path) -> None:
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "identity-loss.yaml"
    done = runner.invoke(
        app, ["run", str(scenario), "--no-report", "--format", "md", "--report-dir", str(tmp_path)]
    )
    assert done.exit_code == 2
    assert "error: --no-report and --format were both given" in done.stderr
    assert not any(tmp_path.iterdir())
