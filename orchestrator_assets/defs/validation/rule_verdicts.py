"""A suite's failing rules, grouped into its checks' outcomes: one shape for both engines.

Both rule engines (polars_rules.py, the pipeline's; gx_rules.py, great-expectations, the
reference) report what they found as `RuleVerdict`s, one per failing rule, in the order GX
reports its results; `check_outcomes` turns them into one `CheckOutcome` per check of the
suite. The counting, the detail text and the sample are therefore written once, and two
engines that agree rule by rule give identical outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from orchestrator_assets.defs.validation.check_results import CheckOutcome
from orchestrator_assets.defs.validation.suites import TableSuite, expectation_rules


@dataclass(frozen=True)
class RuleVerdict:
    """One failing rule of a suite on one frame.

    `failing_rows` is the rows breaking a row rule, or every row of the frame for a
    table-level failure (a missing column, a wrong type) or a rule that could not be
    evaluated; `note` is what the detail says after the rule's label; `sample` holds the
    first failing rows of a row rule (at most `sample_rows`), with a `rule` column first.
    """

    check: str
    label: str
    failing_rows: int
    note: str
    sample: pl.DataFrame | None = None


def sample_of(label: str, rows: pl.DataFrame) -> pl.DataFrame:
    """A rule's failing rows as they appear in a check's sample: the rule, then the row."""
    return rows.select(pl.lit(label).alias("rule"), pl.all())


def check_outcomes(
    suite: TableSuite, verdicts: Sequence[RuleVerdict], rows_checked: int, sample_rows: int
) -> list[CheckOutcome]:
    """One outcome per check of `suite` (in `check_names` order) from its failing rules."""
    rule_count: dict[str, int] = {}
    for check, _, _ in expectation_rules(suite):
        rule_count[check] = rule_count.get(check, 0) + 1
    outcomes = []
    for check in suite.check_names():
        failed = [verdict for verdict in verdicts if verdict.check == check]
        if not failed:
            outcomes.append(
                CheckOutcome(check, True, 0, rows_checked, f"ok: {rule_count[check]} rules on {rows_checked} rows")
            )
            continue
        failing = sum(verdict.failing_rows for verdict in failed)
        samples = [verdict.sample for verdict in failed if verdict.sample is not None]
        sample = pl.concat(samples, how="diagonal_relaxed").head(sample_rows) if samples else None
        detail = f"{failing} failing of {rows_checked} rows: " + "; ".join(
            f"{verdict.label}: {verdict.note}" for verdict in failed
        )
        rules = {verdict.label: verdict.failing_rows for verdict in failed}
        outcomes.append(CheckOutcome(check, False, failing, rows_checked, detail, sample, rules))
    return outcomes


class _Missing:
    """A null among a failing rule's example values, shown as GX shows it (pandas' NA)."""

    def __repr__(self) -> str:
        return "<NA>"


NA = _Missing()


def examples_note(count: int, examples: Sequence[object]) -> str:
    """`N rows (e.g. [v1, v2, v3])`: a row rule's note, up to 3 example values."""
    return f"{count} rows (e.g. {list(examples[:3])})"
