"""The export asset (export/erp_files): the day's picking lists and purchase proposals as
files under <data folder>/exports/YYYY-MM-DD/, so the daily schedule produces them.

Wiring only: the allocation and the articles come through the IO manager (this run's own
rows when the run wrote them), the gate (export_gate.py) refuses a partition with a failed
blocking check, the builders and the writer are export_files.py, the same as
`reassort export`. The asset stores no table: its materialisation links the folder and
carries the manifest's totals.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl

from orchestrator_assets.asset_conventions import module_asset_args, raw_input, upstream
from orchestrator_assets.defs.export.export_files import (
    ExportError,
    ExportPlan,
    export_dir,
    picking_lists,
    purchase_proposals,
    write_export,
)
from orchestrator_assets.defs.export.export_gate import ALLOCATION_TABLE, ExportRefused, check_gate, strategy_of
from orchestrator_assets.defs.ingest.resources import InputFiles
from orchestrator_assets.metadata_tables import markdown_table
from orchestrator_assets.partitions import TIMEZONE
from orchestrator_assets.step_limits import time_limited
from orchestrator_assets.warehouse import Warehouse, writing_runs

GROUP = "export"
EXPORT_KEY = dg.AssetKey([GROUP, "erp_files"])
# The module conventions, less the IO manager (the asset writes files, not a table) and the
# parameter tag (the export has no run parameters).
ARGS = {
    **{key: value for key, value in module_asset_args(GROUP, "EXPORT", {"csv"}).items() if key != "io_manager_key"},
    "tags": {"module": "EXPORT"},
}


def allocation_run(warehouse: Warehouse, partition_date: date) -> str:
    """The run whose allocation rows this step reads (its own run's, or the published ones)."""
    runs = writing_runs(warehouse.read_partition(ALLOCATION_TABLE, partition_date))
    return runs[0] if len(runs) == 1 else ",".join(runs) or "none"


def files_table(manifest: dict) -> pl.DataFrame:
    return pl.DataFrame(
        [{k: f.get(k) for k in ("name", "rows", "quantity", "volume", "amount")} for f in manifest["files"]],
        schema={"name": pl.String, "rows": pl.Int64, "quantity": pl.Int64, "volume": pl.Float64, "amount": pl.Float64},
    )


def erp_files_asset(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    input_files: InputFiles,
    allocation: pl.DataFrame,
    articles: pl.DataFrame,
) -> dg.MaterializeResult:
    """Write the day's export folder from the allocation this run reads, unless the gate refuses
    the partition (a failed blocking check); a refusal or a write error fails without retry."""
    partition_date = date.fromisoformat(context.partition_key)
    run_id = allocation_run(warehouse, partition_date)
    try:
        check_gate(warehouse, partition_date, run_id)
    except ExportRefused as refusal:
        raise dg.Failure(description=f"export refused: {refusal}", allow_retries=False) from None
    plan = ExportPlan(partition_date, run_id, strategy_of(allocation))
    picking = picking_lists(allocation, articles)
    purchases = purchase_proposals(allocation, articles, partition_date)
    path = export_dir(input_files.path, partition_date).resolve()
    try:
        manifest = write_export(path, plan, picking, purchases, datetime.now(ZoneInfo(TIMEZONE)))
    except ExportError as error:
        raise dg.Failure(description=f"export not written: {error}", allow_retries=False) from None
    totals = manifest["totals"]
    context.log.info(
        f"export {partition_date}: {totals['picking']['files']} picking lists, "
        f"{totals['purchase']['files']} purchase proposals in {path}"
    )
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(path)),
            "allocation_run_id": run_id,
            "strategy": plan.strategy,
            "picking_lists": totals["picking"]["files"],
            "picking_rows": totals["picking"]["rows"],
            "picked_quantity": totals["picking"]["quantity"],
            "picked_volume": totals["picking"]["volume"],
            "purchase_proposals": totals["purchase"]["files"],
            "purchase_rows": totals["purchase"]["rows"],
            "purchase_quantity": totals["purchase"]["quantity"],
            "purchase_amount": totals["purchase"]["amount"],
            "files": dg.MetadataValue.md(markdown_table(files_table(manifest))),
        }
    )


def build_export_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """export/erp_files over `partitions_def`: `erp_files_asset` under its decorator."""
    decorator = dg.asset(
        key=EXPORT_KEY,
        partitions_def=partitions_def,
        ins={"allocation": upstream("knapsack", "allocation"), "articles": raw_input("articles")},
        description="The day's files for the warehouses and the ERP (<data folder>/exports/YYYY-MM-DD/): "
        "picking_<DEPOT>.csv per depot that ships to its vans, purchase_<SITE>.csv per site supplied from "
        "outside, manifest.json (docs/export.md). Not written when a blocking check of the day failed.",
        **ARGS,
    )
    return [decorator(time_limited(erp_files_asset))]
