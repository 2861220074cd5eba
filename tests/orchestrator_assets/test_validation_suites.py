"""The suites of VALIDATION_FINALE on hand-made frames: each blocking rule passes a good
table and fails a crafted bad one, saying which rule and on which rows. Evaluated by the
pipeline's default engine (Polars); test_validation_engines.py holds it against GX on
these frames and many more."""

import polars as pl
import pytest

from orchestrator_assets.defs.ingest.table_contracts import ALL_TABLES
from orchestrator_assets.defs.validation.check_registry import validate_frame
from orchestrator_assets.defs.validation.suites import (
    CLASS_LABELS,
    KEY_UNIQUE,
    PROJECTION_CONSISTENCY,
    SCHEMA,
    TABLE_SUITES,
    VALUES_IN_RANGE,
    expectation_rules,
)


def outcomes(table: str, frame: pl.DataFrame) -> dict:
    return {outcome.check: outcome for outcome in validate_frame(TABLE_SUITES[table], frame)}


def failed(table: str, frame: pl.DataFrame) -> set[str]:
    return {check for check, outcome in outcomes(table, frame).items() if not outcome.passed}


STOCK_LEVELS = pl.DataFrame(
    {"site_id": ["DEP1", "DEP1", "VAN1"], "article_id": ["A1", "A2", "A1"], "quantity_on_hand": [20, 8, 3]},
    schema={"site_id": pl.String, "article_id": pl.String, "quantity_on_hand": pl.Int64},
)

ARTICLES = pl.DataFrame(
    {
        "article_id": ["A1", "A2"],
        "designation": ["Connecteur SC", None],
        "category": ["FIBRE", "CUIVRE"],
        "importance": ["CRITIQUE", "STANDARD"],
        "unit_cost": [2.5, 1.0],
        "unit_volume": [0.1, 0.5],
        "stock_min": [4, 2],
        "stock_max": [10, 6],
        "lead_time_days": [3, 5],
        "lot_size": [1, 2],
        "active": [True, True],
    }
)

PROJECTION = pl.DataFrame(
    {
        "site_id": ["S1", "S1", "S2"],
        "article_id": ["A1", "A2", "A1"],
        "on_hand": [5.0, 10.0, 1.0],
        "stock_min": [4, 2, 2],
        "lead_time_days": [3, 5, 1],
        "days_to_min": [2, None, 0],
        "days_to_stockout": [6, None, None],
        "min_projected": [-1.0, 9.0, 0.5],
        "end_projected": [-1.0, 9.5, 0.5],
        "projected_at_lead_time": [0.5, 9.5, 0.5],
    },
    schema_overrides={"days_to_min": pl.Int64, "days_to_stockout": pl.Int64},
)

CLASSIFICATION = pl.DataFrame(
    {
        "site_id": ["S1", "S1", "S2"],
        "article_id": ["A1", "A2", "A1"],
        "u_total": [0.9, 0.1, 0.55],
        "level": ["CRITIQUE", "NORMAL", "URGENT"],
        "reason": ["U_CRITIQUE_THRESHOLD", "BELOW_THRESHOLDS", "U_SURVEILLANCE_THRESHOLD+IMPORTANCE_ESCALATION"],
        "abc": ["A", "C", "B"],
        "class": ["CRITIQUE_A", "NORMAL_C", "URGENT_B"],
    }
)


def test_every_input_and_output_table_has_a_suite():
    inputs = {f"raw.{contract.stem}" for contract in ALL_TABLES}
    outputs = {
        "stock.stock_initial", "stock.consumption_forecast", "stock.forecast_backtest", "stock.stock_projection",
        "urgence.urgency_temporal", "urgence.urgency_quantitative", "urgence.urgency_total",
        "urgence.abc_classification", "urgence.urgency_classification",
        "knapsack.allocation", "knapsack.site_summary", "knapsack.category_use", "knapsack.alternatives",
        "knapsack.depot_supply", "knapsack.group_summary",
    }
    assert set(TABLE_SUITES) == inputs | outputs


def test_input_suites_follow_the_ingestion_contracts():
    rules = {label for _, label, _ in expectation_rules(TABLE_SUITES["raw.articles"])}
    assert "columns are exactly ['article_id', 'designation', 'category', 'importance', 'unit_cost', " \
        "'unit_volume', 'stock_min', 'stock_max', 'lead_time_days', 'lot_size', 'active']" in rules
    assert {"lot_size is of type int", "unit_volume > 0 and unit_volume <= 1e+06", "lot_size >= 1 and lot_size <= 1e+06",
            "article_id is not null"} <= rules  # the contract's plausible upper bounds too (issue 13)
    assert "designation is not null" not in rules  # nullable in the contract
    assert "stock_max >= stock_min where both are set" in rules


def test_a_good_input_table_passes_every_check():
    assert failed("raw.stock_levels", STOCK_LEVELS) == set()
    assert failed("raw.articles", ARTICLES) == set()


def test_a_missing_input_column_fails_the_schema():
    result = outcomes("raw.stock_levels", STOCK_LEVELS.drop("quantity_on_hand"))
    assert not result[SCHEMA].passed
    assert "columns are exactly" in result[SCHEMA].detail and "quantity_on_hand" in result[SCHEMA].detail


def test_an_extra_input_column_fails_the_schema():
    assert SCHEMA in failed("raw.stock_levels", STOCK_LEVELS.with_columns(pl.lit(1).alias("extra")))


def test_a_wrong_input_type_fails_the_schema():
    result = outcomes("raw.stock_levels", STOCK_LEVELS.with_columns(pl.col("quantity_on_hand").cast(pl.Float64)))
    assert not result[SCHEMA].passed
    assert "quantity_on_hand is of type int: observed float" in result[SCHEMA].detail
    assert result[SCHEMA].failing_rows == STOCK_LEVELS.height


def test_a_null_in_a_required_input_column_fails_the_schema_and_names_the_row():
    bad = STOCK_LEVELS.with_columns(
        pl.when(pl.col("article_id") == "A2").then(None).otherwise(pl.col("article_id")).alias("article_id")
    )
    result = outcomes("raw.stock_levels", bad)[SCHEMA]
    assert not result.passed and result.failing_rows == 1
    assert result.sample["rule"].to_list() == ["article_id is not null"]
    assert result.sample["quantity_on_hand"].to_list() == [8]


def test_a_nullable_input_column_may_be_null():
    assert failed("raw.articles", ARTICLES.with_columns(pl.lit(None, dtype=pl.String).alias("designation"))) == set()


def test_a_duplicated_input_key_fails_key_uniqueness_on_every_row_of_the_key():
    bad = pl.concat([STOCK_LEVELS, STOCK_LEVELS.head(1)])
    result = outcomes("raw.stock_levels", bad)[KEY_UNIQUE]
    assert not result.passed and result.failing_rows == 2
    assert set(result.sample["article_id"]) == {"A1"} and set(result.sample["site_id"]) == {"DEP1"}


def test_a_duplicated_single_column_key_fails_key_uniqueness():
    assert failed("raw.articles", pl.concat([ARTICLES, ARTICLES.tail(1)])) == {KEY_UNIQUE}


def test_an_input_value_out_of_its_range_fails():
    bad = STOCK_LEVELS.with_columns(
        pl.when(pl.col("site_id") == "VAN1").then(-1).otherwise(pl.col("quantity_on_hand")).alias("quantity_on_hand")
    )
    result = outcomes("raw.stock_levels", bad)[VALUES_IN_RANGE]
    assert not result.passed and result.rules == {"quantity_on_hand >= 0 and quantity_on_hand <= 1e+09": 1}
    assert "quantity_on_hand >= 0 and quantity_on_hand <= 1e+09: 1 rows (e.g. [-1])" in result.detail
    huge = STOCK_LEVELS.with_columns(pl.lit(10**12).alias("quantity_on_hand"))
    assert not outcomes("raw.stock_levels", huge)[VALUES_IN_RANGE].passed  # above the plausible bound


@pytest.mark.parametrize(("column", "value"), [("lot_size", 0), ("unit_volume", 0.0), ("unit_cost", -0.5)])
def test_an_article_bound_of_the_contract_is_enforced(column, value):
    bad = ARTICLES.with_columns(pl.lit(value).alias(column))
    assert failed("raw.articles", bad) == {VALUES_IN_RANGE}


def test_an_input_label_out_of_its_domain_fails():
    bad = ARTICLES.with_columns(pl.lit("VITAL").alias("importance"))
    assert outcomes("raw.articles", bad)[VALUES_IN_RANGE].rules == {
        "importance in ['CRITIQUE', 'IMPORTANT', 'STANDARD']": 2
    }


def test_stock_max_below_stock_min_fails():
    bad = ARTICLES.with_columns(pl.lit(1).alias("stock_max"))
    assert outcomes("raw.articles", bad)[VALUES_IN_RANGE].rules == {"stock_max >= stock_min where both are set": 2}


def test_a_consistent_projection_passes():
    assert failed("stock.stock_projection", PROJECTION) == set()


def test_days_to_min_after_days_to_stockout_fails_projection_consistency():
    bad = PROJECTION.with_columns(pl.when(pl.col("article_id") == "A1").then(9).otherwise(pl.col("days_to_min")).alias("days_to_min"))
    result = outcomes("stock.stock_projection", bad)[PROJECTION_CONSISTENCY]
    assert not result.passed
    assert result.rules == {"days_to_stockout >= days_to_min where both are set": 1}
    assert result.sample.select("site_id", "article_id", "days_to_min", "days_to_stockout").rows() == [("S1", "A1", 9, 6)]


def test_a_projected_minimum_above_the_stock_on_hand_fails_projection_consistency():
    bad = PROJECTION.with_columns((pl.col("on_hand") - 5).alias("on_hand").clip(0))
    assert PROJECTION_CONSISTENCY in failed("stock.stock_projection", bad)


def test_a_null_day_is_not_compared():
    only_min = PROJECTION.with_columns(pl.lit(None, dtype=pl.Int64).alias("days_to_stockout"))
    assert failed("stock.stock_projection", only_min) == set()


def test_class_labels_within_the_twelve_pass():
    assert failed("urgence.urgency_classification", CLASSIFICATION) == set()


@pytest.mark.parametrize("label", ["CRITIQUE_D", "critique_a", None])
def test_a_class_label_outside_the_twelve_fails(label):
    bad = CLASSIFICATION.with_columns(
        pl.when(pl.col("site_id") == "S2").then(pl.lit(label, dtype=pl.String)).otherwise(pl.col("class")).alias("class")
    )
    result = outcomes("urgence.urgency_classification", bad)[CLASS_LABELS]
    assert not result.passed and result.failing_rows == 1
    assert result.sample["site_id"].to_list() == ["S2"]


def test_a_reason_outside_the_vocabulary_fails():
    bad = CLASSIFICATION.with_columns(pl.lit("U_THRESHOLD").alias("reason"))
    assert outcomes("urgence.urgency_classification", bad)[VALUES_IN_RANGE].rules == {"reason in the 7 labels": 3}
    assert SCHEMA in failed("urgence.urgency_classification", CLASSIFICATION.drop("reason"))


def test_bound_by_is_null_or_one_of_its_values():
    from solvers.knapsack.shortfall import BOUND_BY_VALUES

    allocation = pl.DataFrame({
        "site_id": ["S1", "S1", "S2"], "article_id": ["A1", "A2", "A1"], "category": ["FIBRE", "CUIVRE", "FIBRE"],
        "level": ["CRITIQUE", "NORMAL", "URGENT"], "class": ["CRITIQUE_A", "NORMAL_C", "URGENT_B"],
        "lots": [2, 0, 1], "quantity": [2, 0, 2], "volume": [0.2, 0.0, 0.2], "value": [1.8, 0.0, 0.5],
        "strategy": ["criticite_hybride"] * 3, "status": ["OPTIMAL"] * 3,
        "bound_by": [None, "LOWER_VALUE", "DEPOT_SUPPLY"],
    })
    assert failed("knapsack.allocation", allocation) == set()
    bad = allocation.with_columns(pl.lit("CATEGORY_CAPACITY:FIBRE").alias("bound_by"))
    assert outcomes("knapsack.allocation", bad)[VALUES_IN_RANGE].rules == {f"bound_by in {list(BOUND_BY_VALUES)}": 3}


def test_an_output_may_carry_more_columns_than_its_suite_names():
    extra = CLASSIFICATION.with_columns(pl.lit(1.0).alias("debug_score"))
    assert failed("urgence.urgency_classification", extra) == set()


def test_a_missing_output_column_fails_the_schema():
    result = outcomes("urgence.urgency_classification", CLASSIFICATION.drop("u_total"))
    assert not result[SCHEMA].passed and "column u_total exists" in result[SCHEMA].rules


def test_an_empty_partition_passes_every_check():
    assert failed("urgence.urgency_classification", CLASSIFICATION.clear()) == set()


def test_a_unit_urgency_above_one_fails():
    frame = pl.DataFrame({"site_id": ["S1", "S2"], "article_id": ["A1", "A1"], "u_temporal": [0.5, 1.2]})
    assert outcomes("urgence.urgency_temporal", frame)[VALUES_IN_RANGE].rules == {"u_temporal >= 0 and u_temporal <= 1": 1}
