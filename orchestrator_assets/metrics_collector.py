"""The Prometheus metrics of Réassort, read from the Dagster instance and the warehouse at each scrape.

A custom prometheus_client Collector rather than counters updated by the runs: runs happen
in other processes (the CLI, the daemon's run workers), with or without a daemon, and both
places already hold the truth (the instance's run and event storage, the published
manifests). Reading them on each scrape makes the endpoint stateless: restart it whenever,
it reports the same figures.

Bounded work and cardinality, whatever the history's length:
- run counts by job and status: one count query per (job, status), for the jobs seen among
  the last RECENT_RUNS runs (a job not run for that long drops out);
- run durations: over the last RECENT_RUNS runs that finished (stat = last, mean, max);
- step durations: the steps of the latest successful run of each job (one event-log read per job);
- warehouse series carry a `partition` label only for the last RECENT_PARTITIONS (7)
  published partitions, so a series stops being exported a week after its partition.

Each section is read on its own: a failing one is logged and counted in
reassort_scrape_errors{section} (1) while the others are still exported.

Every metric is listed in docs/operations.md, section "Metrics".
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from orchestrator_assets.manifests import published_partitions, read_manifest
from orchestrator_assets.partition_deadline import freshness
from orchestrator_assets.table_files import file_rows
from orchestrator_assets.warehouse_views import open_views, visible_files

RECENT_RUNS = 100
RECENT_PARTITIONS = 7
PREFIX = "reassort"
STATUSES = [status.value for status in dg.DagsterRunStatus]
CRITICAL_CLASS = "CRITIQUE_A"

log = logging.getLogger(__name__)


def _gauge(name: str, documentation: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=list(labels))


@dataclass
class _ParquetRows:
    """Row counts of Parquet files from their footers, cached by path: a published file is
    never rewritten (its name holds the run id), so a count read once stays true."""

    cache: dict[Path, int]

    def count(self, path: Path) -> int:
        if path not in self.cache:
            self.cache[path] = file_rows(path)
        return self.cache[path]

    def keep_only(self, paths: set[Path]) -> None:
        for path in set(self.cache) - paths:
            del self.cache[path]


class ReassortCollector(Collector):
    """Reads the instance and the warehouse on each `collect` (one scrape at a time)."""

    def __init__(self, instance: dg.DagsterInstance, warehouse: Path, clock: Callable[[], datetime] | None = None) -> None:
        self.instance = instance
        self.warehouse = Path(warehouse)
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._rows = _ParquetRows({})
        self._records: list[dg.RunRecord] = []

    def describe(self) -> list[Metric]:
        """Nothing up front: registering must not read the instance (prometheus_client calls
        collect at registration when a collector has no describe)."""
        return []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            started = time.perf_counter()
            self._records = []  # read once per scrape, by the first section that needs them
            errors = _gauge("scrape_errors", "1 when a section of the last scrape could not be read (see the server log).",
                            ["section"])
            sections: list[tuple[str, Callable[[], list[Metric]]]] = [
                ("runs", self._run_metrics),
                ("steps", self._step_metrics),
                ("freshness", self._freshness_metrics),
                ("warehouse", self._warehouse_metrics),
            ]
            for section, read in sections:
                try:
                    metrics = read()
                except Exception:  # noqa: BLE001  (one section failing must not blank the others)
                    log.exception("metrics: section %s failed", section)
                    errors.add_metric([section], 1)
                    continue
                errors.add_metric([section], 0)
                yield from metrics
            yield errors
            duration = _gauge("scrape_duration_seconds", "Time spent reading the instance and the warehouse for this scrape.")
            duration.add_metric([], time.perf_counter() - started)
            yield duration

    # ------------------------------------------------------------ Dagster instance
    def _recent_records(self) -> list[dg.RunRecord]:
        if not self._records:
            self._records = list(self.instance.get_run_records(limit=RECENT_RUNS))
        return self._records

    def _run_metrics(self) -> list[Metric]:
        records = self._recent_records()
        jobs = sorted({record.dagster_run.job_name for record in records})
        runs = _gauge("runs", "Runs in the Dagster instance by job and status (jobs seen among the last 100 runs).",
                      ["job", "status"])
        for job in jobs:
            for status in STATUSES:
                count = self.instance.get_runs_count(dg.RunsFilter(job_name=job, statuses=[dg.DagsterRunStatus(status)]))
                runs.add_metric([job, status], count)
        durations: dict[tuple[str, str], list[float]] = defaultdict(list)  # newest first
        for record in records:
            if record.start_time is not None and record.end_time is not None:
                run = record.dagster_run
                durations[(run.job_name, run.status.value)].append(record.end_time - record.start_time)
        duration = _gauge("run_duration_seconds", "Start-to-end duration of the finished runs among the last 100, "
                          "by job and status: stat=last (newest), mean, max.", ["job", "status", "stat"])
        for (job, status), values in sorted(durations.items()):
            duration.add_metric([job, status, "last"], values[0])
            duration.add_metric([job, status, "mean"], sum(values) / len(values))
            duration.add_metric([job, status, "max"], max(values))
        last_success = _gauge("last_successful_run_end_timestamp_seconds",
                              "When the newest successful run of each job ended (Unix time).", ["job"])
        for job in jobs:
            newest = self.instance.get_run_records(
                dg.RunsFilter(job_name=job, statuses=[dg.DagsterRunStatus.SUCCESS]), limit=1
            )
            if newest and newest[0].end_time is not None:
                last_success.add_metric([job], newest[0].end_time)
        return [runs, duration, last_success]

    def _step_metrics(self) -> list[Metric]:
        steps = _gauge("step_duration_seconds", "Duration of each step of the newest successful run of each job "
                       "(start to end as Dagster's step stats report them).", ["job", "step"])
        attempts = _gauge("step_attempts", "Attempts of each step of the newest successful run of each job.", ["job", "step"])
        jobs = sorted({record.dagster_run.job_name for record in self._recent_records()})
        for job in jobs:
            newest = self.instance.get_run_records(
                dg.RunsFilter(job_name=job, statuses=[dg.DagsterRunStatus.SUCCESS]), limit=1
            )
            if not newest:
                continue
            for stat in self.instance.get_run_step_stats(newest[0].dagster_run.run_id):
                if stat.start_time is not None and stat.end_time is not None:
                    steps.add_metric([job, stat.step_key], stat.end_time - stat.start_time)
                    attempts.add_metric([job, stat.step_key], stat.attempts or 1)
        return [steps, attempts]

    def _freshness_metrics(self) -> list[Metric]:
        state = freshness(self.instance, self.clock())
        late = _gauge("partition_late", "1 when the expected partition (the latest past its deadline) is not "
                      "done (partition_deadline.py, the rule of the freshness sensor and `reassort health`).")
        late.add_metric([], 1 if state.late else 0)
        due = _gauge("expected_partition_due_timestamp_seconds", "Deadline of the expected partition (Unix time).")
        due.add_metric([], state.due_at.timestamp())
        metrics: list[Metric] = [late, due]
        if state.last_done is not None:
            last = _gauge("last_done_partition_timestamp_seconds", "The newest partition whose deliverables are "
                          "all materialised, as the Unix time of its day at 00:00 UTC.")
            last.add_metric([], datetime.combine(state.last_done, datetime.min.time(), tzinfo=UTC).timestamp())
            metrics.append(last)
        if state.done_at is not None:
            done = _gauge("expected_partition_done_timestamp_seconds", "When the expected partition was made whole (Unix time).")
            done.add_metric([], state.done_at.timestamp())
            metrics.append(done)
        return metrics

    # ------------------------------------------------------------ warehouse
    def _warehouse_metrics(self) -> list[Metric]:
        keys = published_partitions(self.warehouse)[-RECENT_PARTITIONS:]
        published = _gauge("published_partitions", "Partitions with a publication manifest in the warehouse.")
        published.add_metric([], len(published_partitions(self.warehouse)))
        metrics: list[Metric] = [published]
        if not keys:
            return metrics
        metrics.append(self._table_rows(keys))
        files = visible_files(self.warehouse, (), keys)
        con = open_views(self.warehouse, [t for t in WAREHOUSE_TABLES if t in files], (), keys)
        try:
            def rows(sql: str, params: list | None = None) -> list[tuple]:
                return con.execute(sql, params or []).fetchall()

            rejected = _gauge("rejected_rows", "Rows of the source extracts rejected at ingestion, by partition, "
                              "source table and rule (validation.rejected_rows).", ["partition", "source", "rule"])
            if "validation.rejected_rows" in files:
                for key, source, rule, count in rows(
                    "SELECT partition_date::VARCHAR, source, rule, count(*) FROM validation.rejected_rows GROUP BY ALL ORDER BY ALL"
                ):
                    rejected.add_metric([key, source, rule], count)
            failed = _gauge("checks_failed", "Checks whose latest result on the partition failed, by severity "
                            "(validation.check_results; ERROR checks block the run).", ["partition", "severity"])
            if "validation.check_results" in files:
                counts = {(key, severity): count for key, severity, count in rows(
                    "SELECT partition_date::VARCHAR, severity, count(*) FILTER (WHERE NOT passed) FROM ("
                    " SELECT * FROM validation.check_results"
                    " QUALIFY row_number() OVER (PARTITION BY partition_date, asset, check_name ORDER BY checked_at DESC) = 1"
                    ") GROUP BY ALL"
                )}
                for key in keys:
                    for severity in ("ERROR", "WARN"):
                        failed.add_metric([key, severity], counts.get((key, severity), 0))
            critical = _gauge("critique_a_pairs", "(site, article) pairs classed CRITIQUE_A, by partition "
                              "(urgence.urgency_classification).", ["partition"])
            if "urgence.urgency_classification" in files:
                for key, count in rows(
                    "SELECT partition_date::VARCHAR, count(*) FILTER (WHERE class = ?) "
                    "FROM urgence.urgency_classification GROUP BY ALL ORDER BY ALL", [CRITICAL_CLASS]
                ):
                    critical.add_metric([key], count)
            problems = _gauge("knapsack_problems", "Knapsack problems by partition, kind (site: knapsack.site_summary, "
                              "group: a depot and its vans, knapsack.group_summary) and solver status.",
                              ["partition", "problem", "status"])
            gap = _gauge("knapsack_gap_max", "Largest relative optimality gap among the problems of a partition "
                         "(absent when no solve reports a gap).", ["partition", "problem"])
            for problem, table in (("site", "knapsack.site_summary"), ("group", "knapsack.group_summary")):
                if table not in files:
                    continue
                for key, status, count in rows(f"SELECT partition_date::VARCHAR, status, count(*) FROM {table} GROUP BY ALL ORDER BY ALL"):
                    problems.add_metric([key, problem, status], count)
                for key, largest in rows(
                    f"SELECT partition_date::VARCHAR, max(gap) FROM {table} WHERE gap IS NOT NULL AND NOT isnan(gap) GROUP BY ALL ORDER BY ALL"
                ):
                    gap.add_metric([key, problem], largest)
            metrics += [rejected, failed, critical, problems, gap]
        finally:
            con.close()
        return metrics

    def _table_rows(self, keys: list[str]) -> Metric:
        """Rows of the published file(s) of every table, per partition (a journal table's slices summed)."""
        table_rows = _gauge("table_rows", "Rows published per table and partition (the run readers see wrote them).",
                            ["table", "partition"])
        seen: set[Path] = set()
        for key in keys:
            totals: dict[str, int] = defaultdict(int)
            for entry, value in read_manifest(self.warehouse, key).items():
                path = self.warehouse / value["file"]
                seen.add(path)
                totals[entry.split("/")[0]] += self._rows.count(path)
            for table, count in sorted(totals.items()):
                table_rows.add_metric([table, key], count)
        self._rows.keep_only(seen)
        return table_rows


#: the tables the warehouse section queries (views are built for these only)
WAREHOUSE_TABLES = (
    "validation.rejected_rows",
    "validation.check_results",
    "urgence.urgency_classification",
    "knapsack.site_summary",
    "knapsack.group_summary",
)
