"""The facts of a run's partition that module conditions read (conditions.FACTS).

Date parts come from the partition key; `critique_a_previous` is the count of CRITIQUE_A
pairs in the previous day's urgence.urgency_classification, as the run itself would read it
(a workflow's scenario where it has that day, else the official plan), and 0 when no
classification is published for that day. It costs a warehouse read, so it is computed only
when a condition names it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from orchestrator_assets.warehouse import Warehouse

CLASSIFICATION_TABLE = "urgence.urgency_classification"


def critique_a_count(warehouse: Warehouse, day: date) -> int:
    """CRITIQUE_A pairs of `day` as `warehouse` (a reader of the run's scenario) sees them; 0 without a classification."""
    key = day.isoformat()
    if not warehouse.table_files(CLASSIFICATION_TABLE, [key]):
        return 0
    frame = warehouse.read(
        f"SELECT count(*) AS n FROM {CLASSIFICATION_TABLE} WHERE partition_date = ? AND class = 'CRITIQUE_A'", [day]
    )
    return int(frame["n"][0])


def partition_facts(day: date, warehouse: Warehouse, names: Iterable[str]) -> dict[str, object]:
    """The facts of partition `day` (the ones in `names` that cost a read, all the cheap ones)."""
    facts: dict[str, object] = {
        "weekday": day.weekday(),
        "day": day.day,
        "month": day.month,
        "year": day.year,
        "partition_date": day.isoformat(),
    }
    if "critique_a_previous" in set(names):
        facts["critique_a_previous"] = critique_a_count(warehouse, day - timedelta(days=1))
    return facts
