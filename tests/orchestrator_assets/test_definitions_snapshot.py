"""What the code location shows (asset keys, checks, jobs, schedules, sensors), held against a
committed snapshot, so that a wiring change shows in review as a diff of
definitions_snapshot.txt. After an intended change: REASSORT_UPDATE_SNAPSHOT=1 uv run pytest
tests/orchestrator_assets/test_definitions_snapshot.py, then commit the file."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator_assets.definitions import build_definitions

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.txt")


def describe(defs) -> str:
    graph = defs.resolve_asset_graph()
    lines = [f"asset {key.to_user_string()}" for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.path)]
    checks = sorted(
        f"check {spec.asset_key.to_user_string()}:{spec.name}{' (blocking)' if spec.blocking else ''}"
        for definition in [*(defs.assets or []), *(defs.asset_checks or [])]
        for spec in getattr(definition, "check_specs", ())
    )
    jobs = sorted(f"job {job.name}" for job in defs.jobs or [])
    schedules = sorted(f"schedule {s.name} {s.cron_schedule} {s.execution_timezone}" for s in defs.schedules or [])
    sensors = sorted(f"sensor {s.name}" for s in defs.sensors or [])
    return "\n".join([*lines, *checks, *jobs, *schedules, *sensors]) + "\n"


def test_the_code_location_matches_its_snapshot(tmp_path):
    text = describe(build_definitions(tmp_path / "data", tmp_path / "data" / "warehouse"))
    if os.environ.get("REASSORT_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(text)
    assert text == SNAPSHOT.read_text(), "the wiring changed: see the docstring to update the snapshot"
