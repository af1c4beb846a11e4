"""``gameday schedule list`` and the folder it reads: what is scheduled, what is not, and why."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gameday.errors import InvalidInputError, ScenarioError
from gameday.scenario.loader import find_scenario_files
from gameday.schedule.catalog import read_catalog
from gameday.schedule.listing import list_schedule
from gameday.schedule.models import Blackout
from tests.unit.schedule.scenarios import write_scenario

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)  # a Sunday


def test_next_times_in_the_scenarios_timezone_and_in_utc(tmp_path: Path) -> None:
    write_scenario(tmp_path, "berlin", "{cron: '0 2 * * 2', timezone: Europe/Berlin, jitter: 5m}")
    write_scenario(tmp_path, "plain", None)
    assert list_schedule(tmp_path, 2, now=NOW) == (
        f"berlin  ({tmp_path / 'berlin.yaml'})\n"
        '  cron "0 2 * * 2" in Europe/Berlin; each drill starts up to 5m after its time\n'
        "  Tue 2026-11-24 02:00:00 CET  =  2026-11-24 01:00:00 UTC\n"
        "  Tue 2026-12-01 02:00:00 CET  =  2026-12-01 01:00:00 UTC\n"
        "\n"
        "1 scenario(s) without a schedule: block\n"
    )


def test_blackout_windows_are_shown_and_applied(tmp_path: Path) -> None:
    write_scenario(tmp_path, "weekly", "{cron: '0 2 * * 2'}")
    freeze = Blackout.model_validate(
        {"start": "2026-11-23", "end": "2026-11-25", "reason": "freeze"}
    )
    text = list_schedule(tmp_path, 1, now=NOW, blackouts=[freeze])
    assert "  blackout: 2026-11-23 00:00 .. 2026-11-25 00:00 (freeze)\n" in text
    assert "  Tue 2026-12-01 02:00:00 UTC  =  2026-12-01 02:00:00 UTC\n" in text


def test_a_schedule_that_never_fires_says_so(tmp_path: Path) -> None:
    write_scenario(tmp_path, "feb30", "{cron: '0 0 30 2 *'}")
    assert "  never: the cron never matches outside the blackout windows\n" in list_schedule(
        tmp_path, 3, now=NOW
    )


def test_the_shipped_scenarios_are_weekly_off_hours_and_staggered() -> None:
    text = list_schedule(ROOT / "scenarios", 1, now=NOW)
    times = [line.split("=  ")[1] for line in text.splitlines() if "=  " in line]
    shipped = len(find_scenario_files([ROOT / "scenarios"]))
    assert len(times) == shipped and len(set(times)) == shipped  # staggered: no two at once
    assert all(t.split()[1][:2] in {"01", "02", "03", "04", "05"} for t in times)  # off-hours


def test_an_invalid_file_fails_the_listing_with_its_location(tmp_path: Path) -> None:
    write_scenario(tmp_path, "good")
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: gameday/v1\nmetadata: {name: bad}\nschedule: {cron: '0 2 * *'}\n"
    )
    with pytest.raises(ScenarioError) as caught:
        list_schedule(tmp_path, 1, now=NOW)
    assert f"{tmp_path / 'bad.yaml'}:3:18: schedule.cron: cron '0 2 * *' has 4 fields" in str(
        caught.value
    )


def test_count_and_folder_are_checked(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"--count: 0 is not a positive number"):
        list_schedule(tmp_path, 0)
    with pytest.raises(InvalidInputError, match=r"missing: no such folder"):
        list_schedule(tmp_path / "missing", 1)
    assert list_schedule(tmp_path, 1) == f"no scheduled scenarios in {tmp_path}\n"


def test_the_catalog_refuses_aws_and_duplicate_names(tmp_path: Path) -> None:
    write_scenario(tmp_path / "a", "same")
    write_scenario(tmp_path / "b", "same")
    aws = write_scenario(
        tmp_path,
        "real",
        extra="",
    )
    aws.write_text(
        aws.read_text().replace(
            "target:\n", "target:\n  environment: aws\n  aws: {accounts: ['123456789012']}\n"
        )
    )
    catalog = read_catalog(tmp_path)
    assert [s.name for s in catalog.scheduled] == ["same"]
    assert catalog.refused == {
        tmp_path / "b" / "same.yaml": f"{tmp_path / 'b' / 'same.yaml'}: metadata.name: 'same' "
        f"is already scheduled from {tmp_path / 'a' / 'same.yaml'}; each scheduled scenario "
        "needs its own name",
        aws: f"{aws}: target.environment: aws: not scheduled: a drill on a real account needs "
        "an approval, and an unattended scheduler cannot give one",
    }
    text = list_schedule(tmp_path, 1, now=NOW)
    assert f"not scheduled: {aws}: target.environment: aws" in text
