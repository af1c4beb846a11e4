"""A deterministic fleet history for the posture report: 50 scenarios, 5 owners, as many runs
as asked (10,000 for the tests and the benchmark), written through the history store's real
API (``HistoryStore.finish_run``, one transaction per run as a runner writes them; a few runs
whose writer died, finalised by the store's own reaping).

The shape is chosen to exercise every rule: region scenarios were last drilled 45 days before
``NOW`` (stale, half decayed at the default 30d), one scenario changed owner (older runs name
``legacy-ops``), two owners improve and one worsens over the period, some scenarios measure two
RTOs per run, and a sprinkle of aborted and unscored runs.
"""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gameday.grading import credit, grade_aborted, grade_not_run, is_met, score_scenario
from gameday.history import HistoryStore
from gameday.kinds import Capability, ObjectiveKind, RunStatus
from gameday.result import ObjectiveResult, RunResult, ScenarioInfo

NOW = datetime(2026, 12, 1, tzinfo=UTC)
SPAN_DAYS = 180
REGION_LAST_DAYS = 45
OWNERS = ("payments", "identity-platform", "observability", "registry-team", "edge")
OLD_OWNER = "legacy-ops"
DEAD_WRITER_RUNS = 12
UNSCORED = (RunStatus.ERROR, RunStatus.NOT_STEADY, RunStatus.INCONCLUSIVE)


@dataclass(frozen=True)
class SeededScenario:
    name: str
    owner: str
    capabilities: tuple[Capability, ...]
    rto_target_s: float
    ttd_target_s: float
    rpo_target_s: float
    two_rtos: bool


def scenarios() -> list[SeededScenario]:
    """The 50 scenarios: owner i % 5; region scenarios (i % 4 == 3) cover region alone."""
    found = []
    others = (Capability.IDENTITY, Capability.LOGGING, Capability.REGISTRY)
    for i in range(50):
        if i % 4 == 3:
            capabilities: tuple[Capability, ...] = (Capability.REGION,)
        elif i % 3 == 0:
            capabilities = tuple(sorted({others[i % 3], others[(i // 3) % 3]}))
        else:
            capabilities = (others[i % 3],)
        found.append(
            SeededScenario(
                name=f"drill-{i:02d}",
                owner=OWNERS[i % 5],
                capabilities=capabilities,
                rto_target_s=30.0 + 10.0 * (i % 10),
                ttd_target_s=20.0 + 5.0 * (i % 5),
                rpo_target_s=0.0 if i % 2 else 5.0,
                two_rtos=i % 5 == 0,
            )
        )
    return found


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _objective(
    name: str, kind: ObjectiveKind, target: float, measured: float | None
) -> ObjectiveResult:
    met = is_met(kind, measured, target)
    return ObjectiveResult(
        name=name,
        kind=kind,
        probe="api",
        target=target,
        measured=measured,
        met=met,
        credit=credit(kind, met, measured, target),
    )


def _objectives(
    rng: random.Random, scenario: SeededScenario, slope: float
) -> list[ObjectiveResult]:
    def time(target: float, missing: float) -> float | None:
        if rng.random() < missing:
            return None
        return round(max(1.0, target) * rng.uniform(0.3, 1.5) * slope, 3)

    found = [
        _objective(
            "rto", ObjectiveKind.RTO, scenario.rto_target_s, time(scenario.rto_target_s, 0.06)
        )
    ]
    if scenario.two_rtos:
        found.append(
            _objective(
                "rto-worker",
                ObjectiveKind.RTO,
                scenario.rto_target_s,
                time(scenario.rto_target_s, 0.06),
            )
        )
    rpo = 0.0 if rng.random() < 0.7 else round(rng.uniform(0.0, 10.0), 3)
    found.append(_objective("rpo", ObjectiveKind.RPO, scenario.rpo_target_s, rpo))
    found.append(
        _objective(
            "ttd", ObjectiveKind.TTD, scenario.ttd_target_s, time(scenario.ttd_target_s, 0.04)
        )
    )
    found.append(
        _objective(
            "availability", ObjectiveKind.AVAILABILITY, 0.95, round(rng.uniform(0.8, 1.0), 4)
        )
    )
    return found  # fmt: skip


def _result(run_id: str, scenario: SeededScenario, owner: str, started: datetime,
            rng: random.Random) -> RunResult:  # fmt: skip
    age_share = (NOW - started) / timedelta(days=SPAN_DAYS)
    # Owners 0 and 1 get better over time (measurements shrink), owner 2 gets worse.
    slope = {0: 0.7 + 0.6 * age_share, 1: 0.8 + 0.4 * age_share, 2: 1.3 - 0.6 * age_share}
    objectives = _objectives(rng, scenario, slope.get(OWNERS.index(scenario.owner), 1.0))
    draw = rng.random()
    if draw < 0.04:
        graded, objectives = grade_aborted("guardrail: api unhealthy"), []
    elif draw < 0.10:
        graded, objectives = grade_not_run(rng.choice(UNSCORED), "seeded"), []
    else:
        graded = score_scenario(objectives, steady_after_ok=True)
    return RunResult(
        run_id=run_id,
        scenario=ScenarioInfo(
            name=scenario.name,
            file=f"scenarios/{scenario.name}.yaml",
            owner=owner,
            capabilities=scenario.capabilities,
        ),
        environment="embedded",
        started_at=_iso(started),
        ended_at=_iso(started + timedelta(seconds=rng.uniform(20, 90))),
        status=graded.status,
        score=graded.score,
        grade=graded.grade,
        caps=graded.caps,
        objectives=objectives,
    )


def _dead_pid() -> int:
    """The pid of a process that has ended (its writer died)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return int(child.stdout)


def _started(scenario: SeededScenario, rng: random.Random) -> datetime:
    newest = REGION_LAST_DAYS if Capability.REGION in scenario.capabilities else 0
    return NOW - timedelta(days=rng.uniform(newest, SPAN_DAYS))


def seed_history(path: Path, runs: int = 10_000, seed: int = 2026) -> list[str]:
    """Write ``runs`` runs into a new store at ``path``; the run ids, in the order written."""
    rng = random.Random(seed)
    known = scenarios()
    ids = []
    with HistoryStore(path, clock=lambda: NOW) as store:
        for k in range(runs - DEAD_WRITER_RUNS):
            scenario = known[k % len(known)]
            started = _started(scenario, rng)
            # drill-07 belonged to another team until 100 days ago.
            owner = OLD_OWNER if scenario.name == "drill-07" and started < NOW - timedelta(
                days=100) else scenario.owner  # fmt: skip
            run_id = f"seed-{k:05d}"
            store.finish_run(_result(run_id, scenario, owner, started, rng))
            ids.append(run_id)
        dead = _dead_pid()
        for k in range(DEAD_WRITER_RUNS):
            scenario = known[(7 * k) % len(known)]
            started = _started(scenario, rng)
            run_id = f"dead-{k:03d}"
            store.start_run(run_id, scenario.name, "embedded", started, pid=dead)
            ids.append(run_id)
        store.reap()
    return ids


def shared_history(root: Path, runs: int = 10_000) -> Path:
    """The seeded store under ``root`` (a session's temporary folder), seeded once: test
    modules that read the same 10,000 runs share one seeding."""
    path = root / f"posture-{runs}" / "history.db"
    done = path.with_name("seeded")
    if not done.exists():
        seed_history(path, runs)
        done.touch()
    return path
