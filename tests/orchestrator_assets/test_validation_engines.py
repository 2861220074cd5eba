"""The two engines of the suites' rules side by side: polars_rules.py (the pipeline's, by
default) against gx_rules.py (great-expectations, the reference), on the same frames.

Every suite is evaluated on good rows built from its declaration, on rows broken for each of
its rules (a null in every column, values below and above every range, NaN and infinities,
labels outside every set, duplicated keys, unordered pairs), on wrong column types, missing
and extra columns, and on hypothesis-generated frames; the two engines must give identical
outcomes: the same verdict, failing rows, rules (and their order), rows checked and sample
rows. The detail text is identical too, but for the notes where GX's words are its own
(`same_detail`): GX says "observed None" for a missing column or a rule it could not compute
and "could not be evaluated (list index out of range)" for the type of a missing column;
the Polars engine says what is wrong there.

The last test runs a tiny partition in a fresh process with the default engine and checks
that great_expectations was never imported, then that `validation.engine` switches a run to
great-expectations.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator_assets.defs.validation.check_registry import validate_frame
from orchestrator_assets.defs.validation.check_results import CheckOutcome
from orchestrator_assets.defs.validation.suites import TABLE_SUITES, ColumnRule, TableSuite
from orchestrator_assets.run_parameters import ParameterError, parse_overrides

DTYPES = {"str": pl.String, "int": pl.Int64, "float": pl.Float64, "date": pl.Date, "bool": pl.Boolean}
DAY = date(2026, 1, 1)
ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- comparing outcomes


def _notes(outcome: CheckOutcome) -> list[tuple[str, str]]:
    """(rule label, note) of a failed outcome's detail, read with the labels it names."""
    labels = list(outcome.rules)
    prefix = f"{outcome.failing_rows} failing of {outcome.rows_checked} rows: "
    assert outcome.detail.startswith(prefix), outcome.detail
    text = outcome.detail[len(prefix):]
    notes = []
    for index, label in enumerate(labels):
        assert text.startswith(f"{label}: "), (label, text)
        text = text[len(label) + 2:]
        end = text.find(f"; {labels[index + 1]}: ") if index + 1 < len(labels) else len(text)
        notes.append((label, text[:end]))
        text = text[end + 2:]
    return notes


def _gx_wording(note: str) -> bool:
    return note == "observed None" or note.startswith("could not be evaluated (")


def same_detail(reference: CheckOutcome, polars: CheckOutcome) -> bool:
    """The same detail, but where GX's note is GX's own words (see the module docstring)."""
    if reference.passed:
        return reference.detail == polars.detail
    for (label, expected), (_, found) in zip(_notes(reference), _notes(polars), strict=True):
        if _gx_wording(expected):
            assert found == "missing" or found.startswith("could not be evaluated ("), (label, expected, found)
        else:
            assert found == expected, (label, expected, found)
    return True


def _same_sample(left: pl.DataFrame | None, right: pl.DataFrame | None) -> bool:
    if left is None or right is None:
        return left is None and right is None
    return left.schema == right.schema and left.equals(right)


def assert_same_outcomes(suite: TableSuite, frame: pl.DataFrame, sample_rows: int = 10) -> list[CheckOutcome]:
    reference = validate_frame(suite, frame, sample_rows, engine="great_expectations")
    polars = validate_frame(suite, frame, sample_rows, engine="polars")
    assert [o.check for o in polars] == [o.check for o in reference]
    for gx, ours in zip(reference, polars, strict=True):
        where = f"{suite.name} {gx.check}: {gx.detail}"
        assert (ours.passed, ours.failing_rows, ours.rows_checked) == (gx.passed, gx.failing_rows, gx.rows_checked), (
            where, ours.detail,
        )
        assert list(ours.rules.items()) == list(gx.rules.items()), where
        assert same_detail(gx, ours), where
        assert _same_sample(gx.sample, ours.sample), (where, gx.sample, ours.sample)
    return reference


# --------------------------------------------------------------------------- frames from a suite


def _good_value(suite: TableSuite, column: ColumnRule, row: int) -> object:
    """A value every rule accepts; a key column differs on every row, so every key is unique;
    every numeric column takes the same steps, so every ordered pair is equal."""
    if column.nullable and row % 5 == 4:
        return None
    if column.value_set is not None:
        return column.value_set[row % len(column.value_set)]
    if column.type == "str":
        return f"{column.name}_{row}" if column.name in suite.key else f"{column.name}_{row % 2}"
    if column.type == "date":
        return DAY + timedelta(days=row if column.name in suite.key else 0)
    if column.type == "bool":
        return row % 2 == 0
    base = column.min_value if column.min_value is not None else 0
    step = 1.0 if column.max_value is None else min(1.0, (column.max_value - base) / 4)
    value = base + step * (row % 3 + 1)
    return int(math.ceil(value)) if column.type == "int" else value


def good_frame(suite: TableSuite, rows: int = 6) -> pl.DataFrame:
    return pl.DataFrame(
        {column.name: pl.Series([_good_value(suite, column, row) for row in range(rows)], dtype=DTYPES[column.type])
         for column in suite.columns}
    )


def _below(column: ColumnRule) -> object:
    value = column.min_value if column.strict_min else column.min_value - 1  # type: ignore[operator]
    return int(value) if column.type == "int" else float(value)


def _above(column: ColumnRule) -> object:
    value = column.max_value * 2 + 1  # type: ignore[operator]
    return int(value) if column.type == "int" else float(value)


def broken_rows(suite: TableSuite) -> pl.DataFrame:
    """Good rows, then, each on rows of its own: a null in every column (the nullable ones
    must pass), every range broken below and above (and by NaN and infinities for a float),
    every label set broken, every ordered pair reversed; then two duplicated keys."""
    breaks: list[tuple[str, object]] = []
    for column in suite.columns:
        breaks.append((column.name, None))
        if column.min_value is not None:
            breaks.append((column.name, _below(column)))
        if column.max_value is not None:
            breaks.append((column.name, _above(column)))
        if column.type == "float" and (column.min_value is not None or column.max_value is not None):
            breaks += [(column.name, float("nan")), (column.name, float("inf")), (column.name, float("-inf"))]
        if column.value_set is not None:
            breaks += [(column.name, "NOT_A_LABEL"), (column.name, column.value_set[0].lower())]
    frame = good_frame(suite, rows=len(breaks) + len(suite.pairs) + 3)
    columns = {name: frame[name].to_list() for name in frame.columns}
    for row, (name, value) in enumerate(breaks):
        columns[name][row] = value
    for index, pair in enumerate(suite.pairs):
        row = len(breaks) + index
        low = columns[pair.low][row]
        columns[pair.high][row] = low - 1 if low is not None else None  # type: ignore[operator]
    broken = pl.DataFrame({name: pl.Series(values, dtype=frame[name].dtype) for name, values in columns.items()})
    return pl.concat([broken, broken.tail(2)]) if suite.key else broken


WRONG_TYPE = {"str": pl.Int64, "int": pl.Float64, "float": pl.String, "date": pl.String, "bool": pl.Int64}


def wrong_types(frame: pl.DataFrame, suite: TableSuite, only: str | None = None) -> pl.DataFrame:
    """Every column (or `only`) of another type: str -> int, int -> float, float -> str,
    date -> str, bool -> int."""
    changed = []
    for column in suite.columns:
        if only not in (None, column.name):
            continue
        if column.type == "str":
            changed.append(pl.col(column.name).rank("dense").cast(pl.Int64))
        else:
            changed.append(pl.col(column.name).cast(WRONG_TYPE[column.type]))
    return frame.with_columns(changed)


def frames_of(suite: TableSuite) -> dict[str, pl.DataFrame]:
    good = good_frame(suite)
    first, last = suite.columns[0].name, suite.columns[-1].name
    ranged = next((c.name for c in suite.columns if c.min_value is not None or c.max_value is not None), last)
    return {
        "good": good,
        "empty": good.clear(),
        "broken rows": broken_rows(suite),
        "every type wrong": wrong_types(good, suite),
        "one type wrong": wrong_types(good, suite, only=ranged),
        "wrong types, empty": wrong_types(good, suite).clear(),
        "first column missing": good.drop(first),
        "last column missing, one extra": good.drop(last).with_columns(pl.lit(1).alias("extra")),
        "extra column, columns reordered": good.with_columns(pl.lit("x").alias("extra")).select(reversed(good.columns + ["extra"])),
        "every row null": good.with_columns(pl.lit(None, dtype=good[name].dtype).alias(name) for name in good.columns),
    }


@pytest.mark.parametrize("name", sorted(TABLE_SUITES))
def test_both_engines_agree_on_every_suite(name):
    suite = TABLE_SUITES[name]
    frames = frames_of(suite)
    found = {label: assert_same_outcomes(suite, frame) for label, frame in frames.items()}
    # The frames do what they are for: good rows pass, broken ones fail every check.
    assert all(outcome.passed for outcome in found["good"]) and all(outcome.passed for outcome in found["empty"])
    assert not any(outcome.passed for outcome in found["broken rows"]), found["broken rows"]
    assert not next(o for o in found["first column missing"] if o.check == "schema").passed


def test_a_small_sample_takes_the_first_failing_rows_of_the_first_rules():
    suite = TABLE_SUITES["knapsack.allocation"]
    outcomes = assert_same_outcomes(suite, broken_rows(suite), sample_rows=3)
    assert all(outcome.sample is None or outcome.sample.height <= 3 for outcome in outcomes)


# --------------------------------------------------------------------------- generated frames


def _values(draw, column: ColumnRule, dtype: pl.DataType, rows: int) -> list[object]:
    """Mostly valid values of `dtype`, with nulls, bounds, NaN, infinities, bad labels, repeats."""
    if dtype == pl.String:
        pool = list(column.value_set or ()) + ["x", "y", "NOT_A_LABEL", ""]
        element = st.sampled_from(pool) if column.value_set else st.text("ab;é", max_size=2)
    elif dtype == pl.Int64:
        edges = [int(b) for b in (column.min_value, column.max_value) if b is not None]
        element = st.one_of(st.integers(-3, 5), st.sampled_from(edges or [0]), st.integers(-(2**62), 2**62))
    elif dtype == pl.Float64:
        edges = [float(b) for b in (column.min_value, column.max_value) if b is not None]
        element = st.one_of(st.floats(-2, 3), st.sampled_from(edges or [0.0]), st.floats(allow_nan=True, allow_infinity=True),
                            st.just(-0.0))
    elif dtype == pl.Boolean:
        element = st.booleans()
    else:
        element = st.dates(DAY, DAY + timedelta(days=3))
    return draw(st.lists(st.one_of(st.none(), element, element, element), min_size=rows, max_size=rows))


def _types(column: ColumnRule) -> st.SearchStrategy:
    declared = DTYPES[column.type]
    return st.one_of(st.just(declared), st.just(declared), st.just(declared), st.just(declared), st.just(declared),
                     st.sampled_from(list(DTYPES.values())))


@st.composite
def generated(draw):
    suite = TABLE_SUITES[draw(st.sampled_from(sorted(TABLE_SUITES)))]
    rows = draw(st.integers(0, 8))
    columns = {}
    for column in suite.columns:
        if draw(st.integers(0, 19)) == 0:
            continue  # a missing column
        dtype = draw(_types(column))
        columns[column.name] = pl.Series(_values(draw, column, dtype, rows), dtype=dtype)
    frame = pl.DataFrame(columns, schema={name: series.dtype for name, series in columns.items()}) if columns else None
    if frame is None:
        frame = pl.DataFrame({"extra": [1] * rows})
    elif draw(st.integers(0, 9)) == 0:
        frame = frame.with_columns(pl.lit(True).alias("extra"))
    if suite.key and frame.height and draw(st.booleans()):
        frame = pl.concat([frame, frame.head(draw(st.integers(1, 3)))])  # repeated keys
    return suite, frame, draw(st.integers(1, 12))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(generated())
def test_both_engines_agree_on_generated_frames(case):
    suite, frame, sample_rows = case
    assert_same_outcomes(suite, frame, sample_rows)


def test_an_unordered_pair_of_strings_and_labels_of_a_categorical_column():
    """Types beyond the declared ones, as an upstream change could produce them."""
    suite = TABLE_SUITES["raw.articles"]
    good = good_frame(suite)
    assert_same_outcomes(suite, good.with_columns(pl.col("importance").cast(pl.Categorical),
                                                  pl.col("stock_max").cast(pl.Int32), pl.col("unit_cost").cast(pl.Float32)))
    assert_same_outcomes(suite, good.with_columns(pl.col("stock_min").cast(pl.String), pl.col("stock_max").cast(pl.String)))
    assert_same_outcomes(suite, good.with_columns(pl.lit(None).alias("stock_max"), pl.lit(datetime(2026, 1, 1)).alias("category")))


# --------------------------------------------------------------------------- the run's engine

RUN = textwrap.dedent(
    """
    import sys
    from datetime import date
    from pathlib import Path

    import dagster as dg

    from data_generation.field_service import generate
    from tests.orchestrator_assets.pipeline_runs import run_partition

    data = Path(sys.argv[1])
    generate("tiny", date(2026, 1, 1), 2, data, seed=3)
    instance = dg.DagsterInstance.ephemeral()
    result = run_partition(data, "2026-01-02", instance)
    checks = result.get_asset_check_evaluations()
    print("default", result.success, len(checks), all(e.passed for e in checks), "great_expectations" in sys.modules)
    config = {"resources": {"validation": {"config": {"engine": "great_expectations"}}}}
    result = run_partition(data, "2026-01-02", instance, run_config=config, selection=[dg.AssetKey(["raw", "sites"])])
    checks = result.get_asset_check_evaluations()
    print("gx", result.success, len(checks), all(e.passed for e in checks), "great_expectations" in sys.modules)
    """
)


def test_the_default_run_never_imports_great_expectations_and_the_engine_switches(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(tmp_path / "data")], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if line.startswith(("default ", "gx ")))
    success, checks, passed, imported = lines["default"].split()
    assert (success, passed, imported) == ("True", "True", "False") and int(checks) > 50
    success, checks, passed, imported = lines["gx"].split()
    assert (success, passed, imported) == ("True", "True", "True") and int(checks) >= 2


def test_the_engine_is_a_run_parameter():
    assert parse_overrides(["validation.engine=great_expectations"]) == {"validation": {"engine": "great_expectations"}}
    with pytest.raises(ParameterError, match="expected one of 'polars', 'great_expectations'"):
        parse_overrides(["validation.engine=pandas"])
