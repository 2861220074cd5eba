"""ABC classification by consumption value (SPEC §4), with hand-computed expectations."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.abc import ABC_CLASSES, abc_classification

D = dt.date(2024, 6, 30)
MOVEMENT_SCHEMA = {
    "date": pl.Date,
    "site_id": pl.String,
    "article_id": pl.String,
    "technician_id": pl.String,
    "movement_type": pl.String,
    "quantity": pl.Float64,
}


def articles(unit_cost: dict[str, float]) -> pl.DataFrame:
    """Articles with the given unit costs, in the given order."""
    return pl.DataFrame(
        {
            "article_id": list(unit_cost),
            "category": ["FIBRE"] * len(unit_cost),
            "importance": ["STANDARD"] * len(unit_cost),
            "unit_cost": list(unit_cost.values()),
        }
    )


def movements(
    *rows: tuple[str, float], day: dt.date = D, kind: str = "CONSUMPTION", site: str = "S1"
) -> pl.DataFrame:
    """Movements of (article_id, quantity) on one day, of one type, at one site."""
    return pl.DataFrame(
        {
            "date": [day] * len(rows),
            "site_id": [site] * len(rows),
            "article_id": [a for a, _ in rows],
            "technician_id": [None] * len(rows),
            "movement_type": [kind] * len(rows),
            "quantity": [q for _, q in rows],
        },
        schema=MOVEMENT_SCHEMA,
    )


def consumption_of(values: dict[str, float]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Movements and articles giving each article exactly the given value (unit cost 1)."""
    consumed = movements(*((a, v) for a, v in values.items() if v > 0))
    return consumed, articles({a: 1.0 for a in values})


def classes(result: pl.DataFrame) -> dict[str, str]:
    return dict(result.select("article_id", "abc").iter_rows())


def test_value_is_consumed_quantity_over_all_sites_times_unit_cost() -> None:
    moves = pl.concat([movements(("A1", 2.0), site="S1"), movements(("A1", 3.0), site="S2")])
    result = abc_classification(moves, articles({"A1": 1.5}), D)
    assert result.rows() == [("A1", 7.5, "A")]


def test_only_consumption_movements_count() -> None:
    moves = pl.concat(
        [movements(("A1", 2.0)), movements(("A1", 50.0), kind="RECEIPT"),
         movements(("A1", 9.0), kind="TRANSFER"), movements(("A1", 4.0), kind="ADJUSTMENT")]
    )
    result = abc_classification(moves, articles({"A1": 1.0}), D)
    assert result["consumption_value"].to_list() == [2.0]


def test_window_holds_the_n_days_ending_on_the_partition_date() -> None:
    first_day = D - dt.timedelta(days=9)
    moves = pl.concat(
        [
            movements(("A1", 1.0), day=first_day),
            movements(("A1", 10.0), day=D),
            movements(("A1", 100.0), day=first_day - dt.timedelta(days=1)),
            movements(("A1", 1000.0), day=D + dt.timedelta(days=1)),
        ]
    )
    result = abc_classification(moves, articles({"A1": 1.0}), D, history_days=10)
    assert result["consumption_value"].to_list() == [11.0]


def test_every_article_gets_a_row_and_unconsumed_ones_are_worth_zero() -> None:
    result = abc_classification(movements(("A1", 4.0)), articles({"A1": 1.0, "A2": 3.0}), D)
    assert result.rows() == [("A1", 4.0, "A"), ("A2", 0.0, "C")]


def test_movements_of_unknown_articles_are_ignored() -> None:
    result = abc_classification(movements(("A1", 4.0), ("ZZ", 99.0)), articles({"A1": 1.0}), D)
    assert result.rows() == [("A1", 4.0, "A")]


def test_share_exactly_at_each_cutoff_moves_the_next_item_down() -> None:
    # cum = 0.80, 0.95, 1.0: item 2 sees cum_1 = 0.80 (not < 0.80) -> B, item 3 sees 0.95 -> C.
    moves, arts = consumption_of({"A1": 80.0, "A2": 15.0, "A3": 5.0})
    assert classes(abc_classification(moves, arts, D)) == {"A1": "A", "A2": "B", "A3": "C"}


def test_first_item_is_a_even_when_it_holds_everything() -> None:
    moves, arts = consumption_of({"A1": 99.0, "A2": 1.0})
    assert classes(abc_classification(moves, arts, D)) == {"A1": "A", "A2": "C"}


def test_ties_are_ranked_by_article_id() -> None:
    # Ranks: Z 75 (cum_0 = 0 -> A), B1 10 (cum_1 = 0.75 -> A), B2 10 (cum_2 = 0.85 -> B),
    # W 5 (cum_3 = 0.95 -> C).
    moves, arts = consumption_of({"B2": 10.0, "W": 5.0, "B1": 10.0, "Z": 75.0})
    result = abc_classification(moves, arts, D)
    assert result.rows() == [
        ("Z", 75.0, "A"), ("B1", 10.0, "A"), ("B2", 10.0, "B"), ("W", 5.0, "C")
    ]


def test_zero_total_makes_every_article_c() -> None:
    moves, arts = consumption_of({"A1": 0.0, "A2": 0.0})
    assert classes(abc_classification(moves, arts, D)) == {"A1": "C", "A2": "C"}


def test_article_with_free_parts_is_worth_zero_and_c() -> None:
    moves = movements(("A1", 5.0), ("A2", 8.0))
    result = abc_classification(moves, articles({"A1": 2.0, "A2": 0.0}), D)
    assert result.rows() == [("A1", 10.0, "A"), ("A2", 0.0, "C")]


def test_cutoffs_are_configurable() -> None:
    moves, arts = consumption_of({"A1": 50.0, "A2": 30.0, "A3": 20.0})
    result = abc_classification(moves, arts, D, a_cutoff=0.5, b_cutoff=0.8)
    assert classes(result) == {"A1": "A", "A2": "B", "A3": "C"}


@pytest.mark.parametrize(
    ("history_days", "a_cutoff", "b_cutoff", "name"),
    [(0, 0.8, 0.95, "history_days"), (1.5, 0.8, 0.95, "history_days"),
     (182, -0.1, 0.95, "a_cutoff"), (182, 0.8, 1.2, "b_cutoff"), (182, 0.9, 0.8, "a_cutoff")],
)
def test_parameters_are_validated(history_days, a_cutoff, b_cutoff, name) -> None:
    moves, arts = consumption_of({"A1": 1.0})
    with pytest.raises(ValueError, match=name):
        abc_classification(
            moves, arts, D, history_days=history_days, a_cutoff=a_cutoff, b_cutoff=b_cutoff
        )


def test_duplicate_article_ids_are_refused() -> None:
    twice = pl.concat([articles({"A1": 1.0}), articles({"A1": 1.0})])
    with pytest.raises(ValueError, match="unique"):
        abc_classification(movements(("A1", 1.0)), twice, D)


@settings(max_examples=60, deadline=None)
@given(
    costs=st.lists(
        st.sampled_from([0.0, 0.1, 0.3, 1.0, 2.5, 7.0, 1e-9, 1234.56]), min_size=1, max_size=40
    ),
    quantities=st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.0, 17.0]), min_size=40, max_size=40),
)
def test_classes_never_improve_down_the_ranking(
    costs: list[float], quantities: list[float]
) -> None:
    ids = [f"A{i:02d}" for i in range(len(costs))]
    moves = movements(*((a, q) for a, q in zip(ids, quantities) if q > 0))
    result = abc_classification(moves, articles(dict(zip(ids, costs))), D)

    assert result.height == len(ids)
    ranks = [ABC_CLASSES.index(c) for c in result["abc"]]
    assert ranks == sorted(ranks)
    assert result.filter(pl.col("consumption_value") == 0)["abc"].eq("C").all()
    if result["consumption_value"].sum() > 0:
        assert result["abc"][0] == "A"


def test_inactive_articles_are_neither_ranked_nor_counted_in_the_total():
    """SPEC §4: A1 holds 50 of the active value 100 and B1 40; the inactive X1 (value 900)
    would have pushed everyone past the cut-offs had it been counted."""
    reference = articles({"A1": 1.0, "B1": 1.0, "C1": 1.0, "X1": 1.0}).with_columns(
        active=pl.Series([True, True, True, False])
    )
    frame = abc_classification(
        movements(("A1", 50), ("B1", 40), ("C1", 10), ("X1", 900)), reference, D
    )
    assert frame["article_id"].to_list() == ["A1", "B1", "C1"]
    assert dict(zip(frame["article_id"], frame["abc"])) == {"A1": "A", "B1": "A", "C1": "B"}
