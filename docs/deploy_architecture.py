"""Draws docs/deploy_architecture.svg, the picture of cluster mode in docs/deploy.md.

    .venv/bin/python docs/deploy_architecture.py

Matplotlib only (a project dependency), so the picture can be redrawn wherever the project
installs; edit the boxes and arrows here, not the SVG.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

OUT = Path(__file__).with_name("deploy_architecture.svg")
plt.rcParams["svg.fonttype"] = "none"  # text stays text: a small file, searchable, sharp at any size
plt.rcParams["svg.hashsalt"] = "reassort"  # the same file each time it is drawn

BLUE, GREEN, ORANGE, GREY, PURPLE = "#dbe8f7", "#dff2df", "#fde7cf", "#eeeeee", "#ece1f5"


def box(ax, x, y, w, h, title, lines, color):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", fc=color, ec="#444", lw=1.2))
    ax.text(x + w / 2, y + h - 0.18, title, ha="center", va="top", fontsize=10.5, fontweight="bold")
    ax.text(x + w / 2, y + h - 0.5, "\n".join(lines), ha="center", va="top", fontsize=8.2, linespacing=1.35)


def arrow(ax, start, end, label="", both=False, offset=(0.0, 0.08), style="-|>", bend=0.0):
    ax.add_patch(FancyArrowPatch(
        start, end, arrowstyle=("<|-|>" if both else style), mutation_scale=12, lw=1.1, color="#333",
        connectionstyle=f"arc3,rad={bend}",
    ))
    if label:
        mx, my = (start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1]
        ax.text(mx, my, label, ha="center", va="bottom", fontsize=7.6, color="#222",
                bbox={"fc": "white", "ec": "none", "alpha": 0.85, "pad": 1})


def main() -> None:
    fig, ax = plt.subplots(figsize=(13, 8.2))
    ax.set_xlim(0, 13)
    ax.set_ylim(0, 8.5)
    ax.axis("off")
    ax.text(6.5, 8.45, "Réassort in cluster mode: one DAGSTER_HOME, shared paths, any number of worker machines",
            ha="center", va="top", fontsize=12.5, fontweight="bold")

    box(ax, 0.2, 5.4, 2.9, 2.0, "Operators, planners", [
        "reassort run --from --to --submit", "(a backfill, followed with a bar)",
        "reassort deploy --check", "Dagster UI, GraphQL, schedules"], GREY)
    box(ax, 3.8, 5.4, 2.9, 2.0, "Webserver", [
        "reassort serve webserver", "UI and GraphQL API",
        "launches = queued runs", "(any machine, one or more)"], BLUE)
    box(ax, 7.4, 5.4, 2.9, 2.0, "Daemon (one)", [
        "reassort serve daemon", "schedules, sensors, backfills",
        "run queue: N at once, 1 per partition", "run monitoring, retries of lost runs"], BLUE)
    box(ax, 10.6, 5.4, 2.2, 2.0, "PostgreSQL", [
        "instance storage:", "runs, event logs,", "schedules, backfills", "postgresql+psycopg2://"], PURPLE)

    box(ax, 7.4, 2.95, 2.9, 1.6, "Redis (broker)", [
        "queue 'dagster': one task per run", "task states (result backend)", "worker pings (monitoring)"], ORANGE)

    for index, x in enumerate((0.4, 3.6)):
        box(ax, x, 2.75, 2.9, 2.0, f"Worker machine {index + 1}" if index == 0 else "Worker machine N", [
            "reassort worker  (Celery, prefork)", "takes a run when a process is free,",
            "executes it in process (fresh fork)", "tags reassort/worker, code version"], GREEN)
    ax.text(3.45, 3.75, "…", fontsize=18, ha="center")

    box(ax, 0.4, 0.2, 9.9, 1.75, "Shared storage (NFS, SMB, a cluster file system): the same path on every machine", [
        "REASSORT_DATA_DIR: reference/, extracts/YYYY-MM-DD/, reports/, exports/",
        "REASSORT_WAREHOUSE: one Parquet file per table, partition and run + _published/<day>.json manifests",
        "(a run writes only its files; it publishes by one atomic manifest switch per partition, at its end)"], GREY)
    box(ax, 10.6, 0.2, 2.2, 1.75, "Readers", [
        "reassort query", "catalog.duckdb", "any DuckDB client"], GREY)

    arrow(ax, (3.1, 6.4), (3.8, 6.4), "UI / GraphQL")
    arrow(ax, (1.7, 5.4), (10.9, 5.2), "", style="-|>")
    ax.text(4.0, 5.12, "--submit and --check: backfill record, status (SQL)", fontsize=7.6, ha="center",
            bbox={"fc": "white", "ec": "none", "alpha": 0.85, "pad": 1})
    arrow(ax, (5.25, 7.4), (11.7, 7.4), "", both=True, bend=-0.12)
    ax.text(8.85, 7.72, "runs, events (SQL)", fontsize=7.6, ha="center",
            bbox={"fc": "white", "ec": "none", "alpha": 0.85, "pad": 1})
    arrow(ax, (10.3, 6.2), (10.6, 6.2), "", both=True)
    arrow(ax, (9.4, 5.4), (9.4, 4.55), "execute_job task", offset=(0.75, -0.2))
    arrow(ax, (7.4, 3.7), (6.5, 3.7), "a free worker takes it", offset=(0.0, 0.08))
    arrow(ax, (6.5, 4.6), (11.2, 5.4), "", both=True)
    ax.text(7.0, 4.95, "events, status (SQL)", fontsize=7.6, ha="center",
            bbox={"fc": "white", "ec": "none", "alpha": 0.85, "pad": 1})
    arrow(ax, (1.85, 2.75), (1.85, 1.95), "extracts in, tables out, publish", offset=(0.0, -0.05), both=True)
    arrow(ax, (5.05, 2.75), (5.05, 1.95), "", both=True)
    arrow(ax, (10.3, 1.05), (10.6, 1.05), "")
    arrow(ax, (7.55, 5.4), (6.95, 1.95), "", style="-|>")
    ax.text(7.05, 2.35, "sensors read\nextract folders", fontsize=7.4, ha="center",
            bbox={"fc": "white", "ec": "none", "alpha": 0.85, "pad": 1})

    fig.tight_layout()
    fig.savefig(OUT, format="svg", metadata={"Date": None})
    print(OUT)


if __name__ == "__main__":
    main()
