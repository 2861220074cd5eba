"""Deliberately broken extract rows, to exercise the pipeline's rejection rules (SPEC section 2).

With a share R > 0, each extract file gets Binomial(rows, R) bad rows, each of one
kind drawn uniformly among those the table can have:

| kind | what is done to the row |
|---|---|
| unparsable_number  | the quantity column holds text such as ``abc`` or ``1.5x`` |
| negative_quantity  | the quantity column is negative |
| unknown_article    | article_id becomes ``ART_UNKNOWN_<n>`` (not in articles) |
| unknown_site       | site_id becomes ``SITE_UNKNOWN_<n>`` (not in sites) |
| unknown_technician | technician_id becomes ``TEC_UNKNOWN_<n>`` (planned_interventions, which has no site) |
| duplicate_key      | an exact copy of the row is inserted right after it (keyed tables only) |

Every ``<n>`` is unique in the run, so a broken id never creates an accidental duplicate
key. A duplicate makes two rows share a key; SPEC section 2 rejects every row of a
duplicated key, so the pipeline rejects 2 rows per injected duplicate. Reference tables
are never broken: the rejection rules for unknown ids need a trustworthy reference.

Because a text like ``abc`` cannot live in an integer column, the quantity column is
written as text in every file of a run with R > 0 (this matters for Parquet only).
"""

from __future__ import annotations

import numpy as np
import polars as pl

BAD_ROW_KINDS = ("unparsable_number", "negative_quantity", "unknown_article", "unknown_site",
                 "unknown_technician", "duplicate_key")
UNPARSABLE_TEXTS = ("abc", "1.5x", "12..0", "x7", "--3", "N/A!")

QUANTITY_COLUMN = {
    "stock_levels": "quantity_on_hand",
    "movements": "quantity",
    "purchase_orders": "quantity_open",
    "planned_interventions": "count",
}
TABLE_KINDS = {
    "stock_levels": ("unparsable_number", "negative_quantity", "unknown_article", "unknown_site",
                     "duplicate_key"),
    "movements": ("unparsable_number", "negative_quantity", "unknown_article", "unknown_site"),
    "purchase_orders": ("unparsable_number", "negative_quantity", "unknown_article", "unknown_site",
                        "duplicate_key"),
    "planned_interventions": ("unparsable_number", "negative_quantity", "unknown_technician",
                              "duplicate_key"),
}
_UNKNOWN_ID = {"unknown_article": ("article_id", "ART_UNKNOWN_"),
               "unknown_site": ("site_id", "SITE_UNKNOWN_"),
               "unknown_technician": ("technician_id", "TEC_UNKNOWN_")}


class BadRowInjector:
    """Breaks a share of each extract's rows, deterministically from its own generator."""

    def __init__(self, share: float, rng: np.random.Generator) -> None:
        self.share = share
        self._rng = rng
        self._serial = 0
        self.counts: dict[str, dict[str, int]] = {
            table: {kind: 0 for kind in kinds} for table, kinds in TABLE_KINDS.items()}

    def inject(self, table: str, frame: pl.DataFrame) -> pl.DataFrame:
        if self.share <= 0.0:
            return frame
        quantity_column = QUANTITY_COLUMN[table]
        original_quantity = frame[quantity_column].to_numpy()
        frame = frame.with_columns(pl.col(quantity_column).cast(pl.String))
        n = frame.height
        if n == 0:
            return frame
        rng, kinds = self._rng, TABLE_KINDS[table]
        rows = np.sort(rng.choice(n, size=rng.binomial(n, self.share), replace=False))
        kind_of_row = rng.integers(0, len(kinds), len(rows))
        columns = {name: frame[name] for name in frame.columns}
        duplicated = np.empty(0, dtype=np.int64)
        for code, kind in enumerate(kinds):
            picked = rows[kind_of_row == code]
            self.counts[table][kind] += len(picked)
            if len(picked) == 0:
                continue
            if kind == "unparsable_number":
                texts = np.array(UNPARSABLE_TEXTS, dtype=object)[rng.integers(0, len(UNPARSABLE_TEXTS), len(picked))]
                columns[quantity_column] = columns[quantity_column].scatter(picked, texts.tolist())
            elif kind == "negative_quantity":
                negative = -np.maximum(original_quantity[picked], 1) - rng.integers(0, 3, len(picked))
                columns[quantity_column] = columns[quantity_column].scatter(picked, [str(v) for v in negative])
            elif kind == "duplicate_key":
                duplicated = picked
            else:
                column, prefix = _UNKNOWN_ID[kind]
                serials = range(self._serial + 1, self._serial + 1 + len(picked))
                self._serial += len(picked)
                columns[column] = columns[column].scatter(picked, [f"{prefix}{s}" for s in serials])
        frame = pl.DataFrame(list(columns.values()))
        if len(duplicated):
            order = np.concatenate([np.arange(n), duplicated])
            frame = frame[order[np.argsort(order, kind="stable")]]
        return frame
