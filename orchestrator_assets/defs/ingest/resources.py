"""The folder the ERP and planning extracts are read from."""


from pathlib import Path

import dagster as dg


class InputFiles(dg.ConfigurableResource):
    """<root>/reference/*.csv and <root>/extracts/YYYY-MM-DD/* (SPEC §2)."""

    root: str

    @property
    def path(self) -> Path:
        return Path(self.root)
