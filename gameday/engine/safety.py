"""The safety checks of DESIGN.md "Safety", as ``plan`` shows them before anything is done."""

from __future__ import annotations

from gameday.checks import Check, CheckOutcome
from gameday.environments.localstack_coverage import Coverage, ServedServices
from gameday.faults.modes import Mode
from gameday.faults.rules import TTL_MARGIN_S, Rule
from gameday.scenario.models import Environment, Scenario


def _real_account_checks(environment: Environment) -> list[Check]:
    if environment is not Environment.AWS:
        why = f"{environment.value}: no real account is touched"
        return [
            Check("approval", CheckOutcome.NOT_APPLICABLE, why),
            Check("account allow-list", CheckOutcome.NOT_APPLICABLE, why),
            Check("stop conditions", CheckOutcome.NOT_APPLICABLE, why),
        ]
    # On a real account these are decided with the environment file (--aws-config), which
    # may hold what the scenario's own target.aws leaves out: gameday.fis.plan checks them,
    # and `gameday plan --env aws` prints that plan instead of this one.
    detail = "checked with the environment file: see `gameday plan --env aws`"
    return [
        Check("approval", CheckOutcome.AT_RUN, "run needs --approve or an interactive yes"),
        Check("account allow-list", CheckOutcome.AT_RUN, detail),
        Check("stop conditions", CheckOutcome.AT_RUN, detail),
    ]


def safety_checks(scenario: Scenario, rules: list[Rule], environment: Environment) -> list[Check]:
    """Every safety check for running ``scenario`` on ``environment``."""
    return [*_real_account_checks(environment), *rule_checks(scenario, rules)]


def rule_checks(scenario: Scenario, rules: list[Rule]) -> list[Check]:
    """The checks of the rules themselves, wherever they are applied (a gateway, an egress
    proxy): what they do, that they expire, and their blast radius."""
    rails = scenario.guardrails
    longest = max(rule.end_s for rule in rules)
    peak = max(rule.probability for rule in rules)
    modes = sorted({rule.mode.value for rule in rules})
    return [
        Check(
            "no destructive actions",
            CheckOutcome.PASS,
            f"modes {', '.join(modes)} only refuse or delay API calls; nothing is deleted, "
            "terminated or recreated",
        ),
        Check(
            "every fault expires",
            CheckOutcome.PASS,
            f"each rule carries a TTL of its window + {TTL_MARGIN_S:g}s "
            f"(longest {max(r.ttl_s for r in rules):g}s) and is removed on every exit path",
        ),
        Check(
            "blast radius: duration",
            CheckOutcome.PASS if scenario.observe.max <= rails.max_duration else CheckOutcome.FAIL,
            f"last fault removed at {longest:g}s, observation ends by {scenario.observe.max:g}s, "
            f"max_duration {rails.max_duration:g}s",
        ),
        Check(
            "blast radius: probability",
            CheckOutcome.PASS if peak <= rails.max_probability else CheckOutcome.FAIL,
            f"peak {peak:g}, max_probability {rails.max_probability:g}"
            + ("; ramped" if any(f.ramp for f in scenario.faults) else ""),
        ),
        Check(
            "client timeouts",
            CheckOutcome.PASS,
            "blackhole rules hold connections open: the app's own timeouts must fire"
            if any(rule.mode is Mode.BLACKHOLE for rule in rules)
            else "no blackhole rules",
        ),
    ]


def localstack_checks(coverage: Coverage, served: ServedServices) -> list[Check]:
    """One FAIL per service the drill needs that LocalStack does not serve, naming what needs
    it; else one PASS, which also names the services a fault lists to no effect there."""
    where = served.describe()
    if not coverage.ok:
        return [
            Check(
                f"localstack: {service}",
                CheckOutcome.FAIL,
                f"not served by {where}; needed by {', '.join(whats)}",
            )
            for service, whats in coverage.missing.items()
        ]
    detail = f"{where} serves every service the faults, setup and probes need"
    if coverage.moot:
        moot = "; ".join(f"{f} lists {', '.join(s)}" for f, s in coverage.moot.items())
        detail += f"; not served there, so failing them changes nothing: {moot}"
    return [Check("localstack services", CheckOutcome.PASS, detail)]
