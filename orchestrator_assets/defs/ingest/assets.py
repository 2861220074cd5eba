"""raw.* assets: one per input table of SPEC §2, loaded for one daily partition.

Each asset reads its file as text, applies the rejection rules against the ids accepted by
its reference tables for the same partition, writes the rejected rows to
validation.rejected_rows (replacing that partition's rows for that table) and returns the
accepted, typed rows, which the IO manager stores in raw.<stem>.
"""


import functools
import time
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from orchestrator_assets import run_progress
from orchestrator_assets.asset_conventions import CONFIG_TAG
from orchestrator_assets.defs.ingest.config import IngestConfig
from orchestrator_assets.defs.ingest.rejection_rules import ValidationResult, validate_table
from orchestrator_assets.defs.ingest.resources import InputFiles
from orchestrator_assets.defs.ingest.source_files import SourceFileError, read_as_text, source_path
from orchestrator_assets.defs.ingest.table_contracts import ALL_TABLES, ID_COLUMNS, TableContract
from orchestrator_assets.defs.validation.checks import SINGLE_OUTPUT, table_check_specs, with_checks
from orchestrator_assets.metadata_tables import markdown_table
from orchestrator_assets.step_limits import RETRY_POLICY, time_limited
from orchestrator_assets.warehouse import Warehouse

REJECTED_TABLE = "validation.rejected_rows"

DESCRIPTIONS = {
    "articles": "Article master data: category, importance, min/max stock, lead time, lot size.",
    "sites": "Depots and vans, with their total capacity (empty = default 120).",
    "site_capacities": "Optional per-category capacity limits of a site.",
    "technicians": "Technicians, the van they drive and their efficiency factor.",
    "bom": "Parts used per intervention type (bill of materials).",
    "stock_levels": "End-of-day stock on hand per (site, article).",
    "movements": "The day's stock movements: consumptions, receipts, transfers, adjustments.",
    "purchase_orders": "Open purchase orders as of the day, some overdue.",
    "planned_interventions": "The intervention plan known on the day, for the days after it.",
}


def known_ids(warehouse: Warehouse, contract: TableContract, partition_date: date) -> dict[str, pl.Series]:
    """Ids accepted by the reference tables this table refers to, for the same partition."""
    ids: dict[str, pl.Series] = {}
    # Polars over the day's files, not a DuckDB view (Warehouse.read_files): a history window
    # asks this for each of its days and each reference table
    day_files = (
        warehouse.files([partition_date.isoformat()], [f"raw.{reference.table}" for reference in contract.references])
        if contract.references else {}
    )
    for reference in contract.references:
        table = reference.table
        column = ID_COLUMNS[table]
        try:
            ids[table] = warehouse.read_files(f"raw.{table}", day_files.get(f"raw.{table}", []))[column].unique()
        except LookupError:
            ids[table] = pl.Series(column, [], dtype=pl.String)
    return ids


def rejected_rows_frame(result: ValidationResult, contract: TableContract, file: str) -> pl.DataFrame:
    return result.rejected.select(
        pl.lit(contract.stem).alias("source"),
        "row",
        "rule",
        "detail",
        pl.lit(file).alias("file"),
        "raw",
    )


def failure_message(result: ValidationResult, file: str, limit: float) -> str:
    counts = result.counts_by_rule()
    top_rule = next(iter(counts))
    example = result.rejected.filter(pl.col("rule") == top_rule).row(0, named=True)
    return (
        f"{file}: {len(result.rejected)} of {result.rows_read} rows rejected "
        f"({result.rejected_share:.1%}), above the limit of {limit:.1%} "
        f"(ingest.max_rejected_share). Rules: "
        + ", ".join(f"{rule} ({count})" for rule, count in counts.items())
        + f". Example of {top_rule}, row {example['row']}: {example['detail']} -- {example['raw']}"
    )


def load_validated(
    contract: TableContract, data_root: Path, partition_date: date, ids: dict[str, pl.Series]
) -> tuple[ValidationResult, str]:
    """Read one input file of one partition and apply the rejection rules (raises dg.Failure)."""
    try:
        path = source_path(contract, data_root, partition_date)
        raw = read_as_text(path)
    except SourceFileError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from error
    if raw.height == 0 and not contract.may_be_empty:
        # fail here, naming the file, rather than three steps later on a missing column
        raise dg.Failure(
            description=f"{path}: a header and no data row; {contract.stem} cannot be empty "
            "(docs/table-contracts.md, empty files)",
            allow_retries=False,
        )
    try:
        return validate_table(raw, contract, partition_date, ids), str(path)
    except ValueError as error:
        raise dg.Failure(description=f"{path}: {error}", allow_retries=False) from error


def no_accepted_row_message(result: ValidationResult, file: str, stem: str) -> str:
    """A table that may not be empty but kept no row (every row rejected, the share limit raised)."""
    rules = ", ".join(f"{rule} ({count})" for rule, count in result.counts_by_rule().items())
    return f"{file}: none of its {result.rows_read} rows is valid ({rules}); {stem} cannot be empty"


def ingest_table(
    contract: TableContract,
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    input_files: InputFiles,
    warehouse: Warehouse,
) -> dg.Output[pl.DataFrame]:
    """raw.<stem> of every partition of the run (a date range loads in one run): each day's
    rejected rows are published at once, so a day over the share limit fails with them visible."""
    started = time.perf_counter()
    days = [date.fromisoformat(key) for key in context.partition_keys]
    accepted: list[pl.DataFrame] = []
    totals = {"rows_read": 0, "rows_rejected": 0}
    by_rule: dict[str, int] = {}
    samples: list[pl.DataFrame] = []
    for index, partition_date in enumerate(run_progress.days(days, f"raw.{contract.stem}"), start=1):
        result, file = load_validated(
            contract, input_files.path, partition_date, known_ids(warehouse, contract, partition_date)
        )
        warehouse.write_partition(
            REJECTED_TABLE,
            rejected_rows_frame(result, contract, file),
            [partition_date],
            context.run_id,
            unit=contract.stem,
            # visible even if the run fails: the user must see why rows were refused
            publish_now=True,
        )
        context.log.info(
            f"{contract.stem} {partition_date} ({index}/{len(days)}): {result.rows_read} rows read, "
            f"{len(result.accepted)} accepted, {len(result.rejected)} rejected, "
            f"{time.perf_counter() - started:.2f} s elapsed"
        )
        if result.rejected_share > config.max_rejected_share:
            raise dg.Failure(
                description=failure_message(result, file, config.max_rejected_share),
                allow_retries=False,
                metadata={"partition": str(partition_date), "rejected_by_rule": dg.MetadataValue.json(result.counts_by_rule())},
            )
        if result.accepted.is_empty() and not contract.may_be_empty:
            raise dg.Failure(description=no_accepted_row_message(result, file, contract.stem), allow_retries=False)
        totals["rows_read"] += result.rows_read
        totals["rows_rejected"] += len(result.rejected)
        for rule, count in result.counts_by_rule().items():
            by_rule[rule] = by_rule.get(rule, 0) + count
        if len(result.rejected):
            samples.append(result.rejected.select(pl.lit(str(partition_date)).alias("partition"), "row", "rule", "detail").head(10))
        frame = result.accepted
        if len(days) > 1:
            frame = frame.with_columns(pl.lit(partition_date).alias("partition_date"))
        accepted.append(frame)
    output = pl.concat(accepted) if len(accepted) > 1 else accepted[0]
    metadata = {
        "source": dg.MetadataValue.path(file if len(days) == 1 else str(input_files.path)),
        "partitions": len(days),
        "rows_read": totals["rows_read"],
        "dagster/row_count": len(output),
        "rows_rejected": totals["rows_rejected"],
        "rejected_share": round(totals["rows_rejected"] / totals["rows_read"], 6) if totals["rows_read"] else 0.0,
        "rejected_by_rule": dg.MetadataValue.json(by_rule),
        "seconds": round(time.perf_counter() - started, 3),
    }
    if samples:
        metadata["rejected_sample"] = dg.MetadataValue.md(markdown_table(pl.concat(samples).head(10)))
    return dg.Output(output, metadata=metadata)


def build_ingest_asset(contract: TableContract, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    table = f"raw.{contract.stem}"

    @dg.asset(
        key=["raw", contract.stem],
        group_name="ingest",
        partitions_def=partitions_def,
        deps=[dg.AssetKey(["raw", table]) for table in contract.depends_on],
        io_manager_key="warehouse_io_manager",
        description=DESCRIPTIONS[contract.stem]
        + f" Loaded from {'reference/' if contract.kind == 'reference' else 'extracts/YYYY-MM-DD/'}"
        f"{contract.stem}; rows breaking a SPEC §2 rule go to {REJECTED_TABLE}.",
        kinds={"polars", "duckdb"},
        tags={"layer": "raw", "source": contract.kind, CONFIG_TAG: "ingest"},
        owners=["team:data-engineering"],
        metadata={"dagster/column_schema": column_schema(contract)},
        # A date range (backfill, or the history window of a first run) loads in one run.
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=RETRY_POLICY,
        check_specs=table_check_specs([table], partitions_def),
    )
    @time_limited
    @functools.partial(with_checks, tables={SINGLE_OUTPUT: table})
    def _ingest(
        context: dg.AssetExecutionContext, config: IngestConfig, input_files: InputFiles, warehouse: Warehouse
    ) -> dg.Output[pl.DataFrame]:
        return ingest_table(contract, context, config, input_files, warehouse)

    return _ingest


def column_schema(contract: TableContract) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(column.name, column.type, constraints=dg.TableColumnConstraints(nullable=column.nullable))
            for column in contract.columns
        ]
    )


def build_ingest_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [build_ingest_asset(contract, partitions_def) for contract in ALL_TABLES]
