"""Shared fixtures: small data sets written into temporary folders, and a Dagster environment on them."""

from datetime import date
from pathlib import Path

import pytest

HANDMADE_DAY = date(2026, 3, 2)

REFERENCE = {
    "articles": (
        "article_id,designation,category,importance,unit_cost,unit_volume,stock_min,stock_max,lead_time_days,lot_size,active\n"
        "A1,Connecteur SC,FIBRE,CRITIQUE,2.5,0.1,4,10,3,1,true\n"
        "A2,Paire cuivre,CUIVRE,STANDARD,1.0,0.5,2,6,5,2,true\n"
        "A3,Ancien modele,CUIVRE,IMPORTANT,3.0,1.0,0,0,0,1,false\n"
    ),
    "sites": "site_id,site_type,capacity_total\nDEP1,DEPOT,500\nVAN1,VAN,\n",
    "site_capacities": "site_id,category,capacity\nDEP1,FIBRE,200\n",
    "technicians": "technician_id,site_id,efficiency_factor,active\nT1,VAN1,1.2,true\nT2,VAN1,0.8,false\n",
    "bom": "intervention_type,article_id,quantity\nRACCO,A1,2\nRACCO,A2,1\n",
}


def handmade_extracts(day: date) -> dict[str, str]:
    d = day.isoformat()
    return {
        "stock_levels": "site_id,article_id,quantity_on_hand\nDEP1,A1,20\nDEP1,A2,8\nVAN1,A1,3\nVAN1,A2,1\n",
        "movements": (
            "date,site_id,article_id,technician_id,movement_type,quantity\n"
            f"{d},VAN1,A1,T1,CONSUMPTION,2\n{d},DEP1,A2,,CONSUMPTION,1\n{d},DEP1,A1,,RECEIPT,5\n"
        ),
        "purchase_orders": f"order_id,site_id,article_id,expected_date,quantity_open\nPO1,DEP1,A1,{d},10\n",
        "planned_interventions": f"date,technician_id,intervention_type,count\n{date.fromordinal(day.toordinal() + 1)},T1,RACCO,2\n",
    }


def write_handmade_dataset(root: Path, days: list[date]) -> Path:
    """A hand-written data set: 3 articles, a depot and a van, valid rows only."""
    (root / "reference").mkdir(parents=True, exist_ok=True)
    for stem, text in REFERENCE.items():
        (root / "reference" / f"{stem}.csv").write_text(text)
    for day in days:
        folder = root / "extracts" / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        for stem, text in handmade_extracts(day).items():
            (folder / f"{stem}.csv").write_text(text)
    return root


def point_project_at(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the data folder, warehouse and Dagster home into `root`; returns the data folder.

    Dagster caches the last job built by `reconstructable(daily_job)` per process; a CLI
    command is its own process, but tests share one, so the cache is cleared here so that
    each test's job is built on its own data folder.
    """
    from dagster._core.definitions.reconstruct import ReconstructableJob

    ReconstructableJob.get_definition.cache_clear()
    ReconstructableJob.get_repository_definition.cache_clear()
    data = root / "data"
    data.mkdir()
    monkeypatch.setenv("REASSORT_DATA_DIR", str(data))
    monkeypatch.setenv("REASSORT_WAREHOUSE", str(data / "warehouse"))
    (root / "dagster_home").mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    return data


@pytest.fixture
def project_env(tmp_path, monkeypatch):
    """The data folder, warehouse and Dagster home in a temporary folder (point_project_at)."""
    return point_project_at(tmp_path, monkeypatch)
