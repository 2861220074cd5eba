"""The daily job the CLI's runs are reconstructed from (definitions.daily_job) is built once
per environment: again when a new extract folder, another variable or another workflows file
would build other definitions, never a stale one."""

from __future__ import annotations

import shutil

from orchestrator_assets import definitions
from orchestrator_assets.project_paths import PROJECT_ROOT


def test_the_daily_job_is_built_again_only_when_what_it_is_built_from_changed(tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(PROJECT_ROOT / "data" / "sample", data)
    workflows = tmp_path / "workflows.yaml"
    workflows.write_text((PROJECT_ROOT / "workflows.yaml").read_text())
    monkeypatch.setenv("REASSORT_DATA_DIR", str(data))
    monkeypatch.setenv("REASSORT_WAREHOUSE", str(data / "warehouse"))
    monkeypatch.setenv("REASSORT_WORKFLOWS", str(workflows))
    first = definitions.daily_job()
    assert definitions.daily_job() is first

    last = sorted((data / "extracts").iterdir())[-1]
    newer = last.parent / "2099-01-01"
    shutil.copytree(last, newer)  # a new extract folder: a new partition
    second = definitions.daily_job()
    assert second is not first and "2099-01-01" in second.partitions_def.get_partition_keys()

    workflows.write_text(workflows.read_text() + "\n# edited\n")
    third = definitions.daily_job()
    assert third is not second

    monkeypatch.setenv("REASSORT_ALERT_EVENTS", "run_failed")
    assert definitions.daily_job() is not third
