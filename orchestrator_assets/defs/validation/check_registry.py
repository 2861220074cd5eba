"""Every check of every table, in one place: what checks.py turns into Dagster asset checks.

A table's checks are, in this order:

- its suite checks, all blocking: the rules of its suite (suites.py, `TABLE_SUITES`) grouped
  into the checks `schema`, `key_unique`, `values_in_range`, `class_labels` and
  `projection_consistency` (names and `CHECK_DESCRIPTIONS` in suites.py, because each rule
  there names the check it belongs to), evaluated by the run's `validation.engine`
  (`RULE_ENGINES`: Polars by default, great-expectations as the reference);
- its cross-table checks: `CROSS_CHECKS` below, one `CrossCheck` per check (name,
  description, blocking or soft, the tables it reads) with its adapter, which reads the
  frames through `CheckInputs` and turns a comparison of cross_checks.py (plain Polars,
  tested on hand-made frames) into a `CheckOutcome`.

`declarations(suite)` lists a table's checks of both kinds; `evaluate_partition` evaluates
them on one day's rows. A new check is declared here (cross-table) or in suites.py (a rule
naming its check); checks.py, the Dagster wiring, does not change.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from orchestrator_assets.defs.validation import gx_rules, polars_rules
from orchestrator_assets.defs.validation.check_inputs import CheckInputs
from orchestrator_assets.defs.validation.check_results import ERROR, WARN, CheckOutcome
from orchestrator_assets.defs.validation.config import RuleEngine
from orchestrator_assets.defs.validation.cross_checks import (
    backtest_best_violations,
    capacity_excess,
    critique_count,
    depot_shipped_mismatch,
    depot_supply_excess,
    is_critique_jump,
    quantities_not_in_whole_lots,
    zero_rate_share,
)
from orchestrator_assets.defs.validation.suites import CHECK_DESCRIPTIONS, TableSuite

# --------------------------------------------------------------------------- a suite's rules

#: What evaluates a suite's rules, by `validation.engine`: the same verdicts (the tests hold
#: the two side by side); importing gx_rules does not import great_expectations.
RULE_ENGINES: dict[str, Callable[[TableSuite, pl.DataFrame, int], list[CheckOutcome]]] = {
    "polars": polars_rules.evaluate_rules,
    "great_expectations": gx_rules.evaluate_rules,
}


def validate_frame(
    suite: TableSuite, frame: pl.DataFrame, sample_rows: int = 10, engine: RuleEngine = "polars"
) -> list[CheckOutcome]:
    """Every rule of `suite` on one partition's rows; one outcome per suite check."""
    return RULE_ENGINES[engine](suite, frame, sample_rows)


# --------------------------------------------------------------------------- every check of a table


@dataclass(frozen=True)
class CheckDeclaration:
    """A check as Dagster declares it (one AssetCheckSpec): the same for both kinds."""

    name: str
    description: str
    blocking: bool
    reads: tuple[str, ...] = ()

    @property
    def severity(self) -> str:
        return ERROR if self.blocking else WARN


def declarations(suite: TableSuite) -> list[CheckDeclaration]:
    """Every check of a table: its suite checks (all blocking), then its cross-table checks."""
    suite_checks = [CheckDeclaration(name, CHECK_DESCRIPTIONS[name], True) for name in suite.check_names()]
    cross = [CheckDeclaration(c.name, c.description, c.blocking, c.reads) for c in CROSS_CHECKS.get(suite.name, ())]
    return suite_checks + cross


def evaluate_partition(
    suite: TableSuite, inputs: CheckInputs, same_rows_as: "tuple[pl.DataFrame, list[CheckOutcome]] | None" = None
) -> tuple[list[CheckOutcome], dict[str, float]]:
    """Every check of `suite` on one day's rows; with the seconds each evaluation took.

    `same_rows_as` is a previous day's (rows, suite outcomes): when this day's rows are equal
    (the reference tables, over a range of days), its verdict is reused instead of
    validated again (~0.4 s per day for raw.articles of `large` with great-expectations).
    """
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    if same_rows_as is not None and inputs.frame.equals(same_rows_as[0]):
        outcomes = list(same_rows_as[1])
    else:
        outcomes = validate_frame(suite, inputs.frame, inputs.config.sample_rows, inputs.config.engine)
    suite_seconds = time.perf_counter() - started
    seconds.update({outcome.check: suite_seconds for outcome in outcomes})
    for cross in CROSS_CHECKS.get(suite.name, ()):
        started = time.perf_counter()
        outcomes.append(cross.evaluate(inputs))
        seconds[cross.name] = time.perf_counter() - started
    return outcomes, seconds


# --------------------------------------------------------------------------- cross-table checks


@dataclass(frozen=True)
class CrossCheck:
    """A cross-table check: its declaration, and the adapter that evaluates it on one day."""

    name: str
    description: str
    blocking: bool
    evaluate: Callable[[CheckInputs], CheckOutcome]
    reads: tuple[str, ...] = ()


def _sample(frame: pl.DataFrame, rows: int) -> pl.DataFrame | None:
    return frame.head(rows) if frame.height else None


def violations_outcome(
    check: str,
    inputs: CheckInputs,
    bad: pl.DataFrame,
    ok: str,
    describe: Callable[[dict], str],
    rules: dict[str, int] | None = None,
) -> CheckOutcome:
    """The outcome of a check that lists its violating rows: passed (with `ok`) when there are
    none; else failed on that many rows, `describe(first violating row)` as the detail, the
    first rows as the sample."""
    if bad.height == 0:
        return CheckOutcome(check, True, 0, inputs.frame.height, ok)
    return CheckOutcome(
        check, False, bad.height, inputs.frame.height, describe(bad.row(0, named=True)),
        _sample(bad, inputs.config.sample_rows), rules if rules is not None else {},
    )


def within_capacity(inputs: CheckInputs) -> CheckOutcome:
    over = capacity_excess(
        inputs.frame,
        inputs.table("raw.articles"),
        inputs.table("raw.sites"),
        inputs.table("raw.site_capacities"),
        tolerance=inputs.config.capacity_tolerance,
        overrides=inputs.capacity_overrides,
    )
    sites = inputs.frame["site_id"].n_unique() if inputs.frame.height else 0
    return violations_outcome(
        "within_capacity", inputs, over, f"ok: {sites} sites within every capacity",
        lambda first: (
            f"{over.height} (site, capacity) pairs exceeded over {over['site_id'].n_unique()} sites; worst: site "
            f"{first['site_id']} {first['scope']} uses {first['used']:.4g} of {first['capacity']} "
            "(volume = quantity x unit_volume of raw.articles; SPEC §2 default capacities)"
        ),
        rules={f"{scope} exceeded": count for scope, count in over.group_by("scope").len().sort("scope").iter_rows()},
    )


def whole_lots(inputs: CheckInputs) -> CheckOutcome:
    bad = quantities_not_in_whole_lots(inputs.frame, inputs.table("raw.articles"))
    reasons = dict(bad.group_by("reason").len().sort("reason").iter_rows())
    return violations_outcome(
        "whole_lots", inputs, bad, f"ok: {inputs.frame.height} rows in whole lots",
        lambda first: (
            f"{bad.height} of {inputs.frame.height} rows not in whole lots: "
            + ", ".join(f"{reason} ({count})" for reason, count in reasons.items())
            + f"; e.g. site {first['site_id']} article {first['article_id']}: quantity {first['quantity']}, "
            f"lots {first['lots']}, lot_size {first['lot_size']}"
        ),
        reasons,
    )


def within_depot_supply(inputs: CheckInputs) -> CheckOutcome:
    over = depot_supply_excess(inputs.frame, inputs.table("raw.articles"), inputs.table("raw.stock_levels"))
    return violations_outcome(
        "within_depot_supply", inputs, over, "ok: no depot ships more than on hand - stock_min of any article",
        lambda first: (
            f"{over.height} (depot, article) pairs ship more than their supply; worst: depot {first['site_id']} "
            f"article {first['article_id']} ships {first['shipped']:.0f} of {first['supply']:.0f} "
            "(supply = on hand - stock_min, re-derived from raw.stock_levels and raw.articles)"
        ),
    )


def shipped_equals_vans(inputs: CheckInputs) -> CheckOutcome:
    bad = depot_shipped_mismatch(inputs.frame, inputs.table("knapsack.allocation"))
    return violations_outcome(
        "shipped_equals_vans", inputs, bad, "ok: every depot's shipped = the sum of its vans' quantities",
        lambda first: (
            f"{bad.height} (depot, article) pairs where shipped differs from the vans' quantities; e.g. depot "
            f"{first['site_id']} article {first['article_id']}: shipped {first['shipped']}, "
            f"allocation {first['from_allocation']}"
        ),
    )


def zero_rate_share_check(inputs: CheckInputs) -> CheckOutcome:
    share = zero_rate_share(inputs.frame)
    limit = inputs.config.zero_rate_share_max
    zeros = int(round(share * inputs.frame.height))
    passed = share <= limit
    detail = f"{share:.1%} of {inputs.frame.height} pairs have a zero rate ({'within' if passed else 'above'} {limit:.0%})"
    if not passed:
        detail += ": is the consumption history loaded? (raw.movements of the window)"
    return CheckOutcome(
        "zero_rate_share", passed, 0 if passed else zeros, inputs.frame.height, detail,
        observed={"zero_rate_share": round(share, 6), "zero_rate_pairs": zeros, "limit": limit},
    )


def best_not_worse_than_sba(inputs: CheckInputs) -> CheckOutcome:
    bad = backtest_best_violations(inputs.frame)
    return violations_outcome(
        "best_not_worse_than_sba", inputs, bad, "ok: one best method per pair, never with a larger error than sba",
        lambda first: (
            f"{bad.height} pairs without exactly one best method or whose best method errs more than sba; e.g. "
            f"{first['site_id']} / {first['article_id']}: {first['best_rows']} best rows, best error "
            f"{first['best_error']}, sba error {first['default_error']}"
        ),
    )


def critique_jump_check(inputs: CheckInputs) -> CheckOutcome:
    current = critique_count(inputs.frame)
    previous_day = inputs.partition_date - timedelta(days=1)
    previous_rows = inputs.table("urgence.urgency_classification", previous_day)
    previous = critique_count(previous_rows) if previous_rows.height else None
    ratio, increase = inputs.config.critique_jump_ratio, inputs.config.critique_jump_min_pairs
    jump = is_critique_jump(current, previous, ratio, increase)
    if previous is None:
        detail = f"{current} CRITIQUE pairs; no partition {previous_day} to compare with"
    else:
        detail = (
            f"{current} CRITIQUE pairs against {previous} on {previous_day}"
            + (f": a jump (> {ratio:g}x and > {increase} more)" if jump else f" (no jump: > {ratio:g}x and > {increase} more warns)")
        )
    return CheckOutcome(
        "critique_jump", not jump, current - (previous or 0) if jump else 0, inputs.frame.height, detail,
        observed={"critique_pairs": current, "critique_pairs_previous": previous},
    )


CROSS_CHECKS: dict[str, tuple[CrossCheck, ...]] = {
    "knapsack.allocation": (
        CrossCheck(
            "within_capacity",
            "Every site's allocated volume (quantity x unit_volume) within its total capacity and each category "
            "limit, with the SPEC §2 defaults (total 120 when empty; FIBRE 50 / CUIVRE 40 for a site without "
            "site_capacities rows). Re-derived in Polars, independently of solvers.knapsack.",
            True,
            within_capacity,
            reads=("raw.articles", "raw.sites", "raw.site_capacities"),
        ),
        CrossCheck(
            "whole_lots",
            "Every quantity is lots x lot_size of its article in raw.articles (whole lots).",
            True,
            whole_lots,
            reads=("raw.articles",),
        ),
        CrossCheck(
            "within_depot_supply",
            "SPEC §5.2: no depot ships more of an article than its supply (on hand - stock_min, 0 without a stock "
            "row), re-derived from raw.stock_levels and raw.articles independently of solvers.knapsack.",
            True,
            within_depot_supply,
            reads=("raw.articles", "raw.stock_levels"),
        ),
    ),
    "knapsack.depot_supply": (
        CrossCheck(
            "shipped_equals_vans",
            "Every depot's shipped quantity of an article is the sum of the quantities its vans receive from it "
            "in knapsack.allocation.",
            True,
            shipped_equals_vans,
            reads=("knapsack.allocation",),
        ),
    ),
    "stock.consumption_forecast": (
        CrossCheck(
            "zero_rate_share",
            "Soft: warns when the share of pairs with a zero consumption rate is above validation.zero_rate_share_max.",
            False,
            zero_rate_share_check,
        ),
    ),
    "stock.forecast_backtest": (
        CrossCheck(
            "best_not_worse_than_sba",
            "Each pair has exactly one best method (the one stock.forecast_method=auto picks), and its absolute "
            "error is not above sba's on the same backtest.",
            True,
            best_not_worse_than_sba,
        ),
    ),
    "urgence.urgency_classification": (
        CrossCheck(
            "critique_jump",
            "Soft: warns when the CRITIQUE-level pairs jump against the previous partition (more than "
            "critique_jump_ratio times and more than critique_jump_min_pairs more).",
            False,
            critique_jump_check,
        ),
    ),
}
