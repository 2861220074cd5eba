"""data/sample is what the generator writes for its documented command, byte for byte."""

from datetime import date
from pathlib import Path

from data_generation.field_service import generate

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def test_committed_sample_is_reproducible_from_its_command(tmp_path):
    generate("tiny", date(2026, 1, 1), 10, tmp_path, seed=42)
    committed = sorted(p.relative_to(SAMPLE) for p in SAMPLE.rglob("*") if p.is_file())
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert committed == written
    for relative in committed:
        assert (SAMPLE / relative).read_bytes() == (tmp_path / relative).read_bytes(), relative
