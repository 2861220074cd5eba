"""How each movement type changes the stock on hand: the convention behind the extracts.

The extract's ``quantity`` is always > 0, so the direction comes from the type (and,
for transfers, from the site type):

| movement_type | effect on the site's on hand |
|---|---|
| CONSUMPTION | minus (parts used; on a van, by ``technician_id``) |
| RECEIPT     | plus (a purchase order delivered) |
| TRANSFER    | minus at a DEPOT (sent), plus at a VAN (received): depot-to-van shipments, both legs recorded |
| ADJUSTMENT  | minus (inventory write-off: loss, breakage) |

So, for every stocked pair, ``on_hand(D) = on_hand(D-1) + sum of signed movements of D``
(``on_hand_after``). The generator guarantees it; validation may re-derive it.
"""

from __future__ import annotations

import polars as pl

MOVEMENT_TYPES = ("CONSUMPTION", "RECEIPT", "TRANSFER", "ADJUSTMENT")
CONSUMPTION, RECEIPT, TRANSFER, ADJUSTMENT = range(4)


def signed_quantity(movement_type: pl.Expr, site_type: pl.Expr, quantity: pl.Expr) -> pl.Expr:
    """The movement's effect on on-hand stock, per the table above."""
    return (pl.when(movement_type == "RECEIPT").then(quantity)
            .when((movement_type == "TRANSFER") & (site_type == "VAN")).then(quantity)
            .otherwise(-quantity))


def on_hand_after(previous: pl.DataFrame, movements: pl.DataFrame, sites: pl.DataFrame) -> pl.DataFrame:
    """Expected stock_levels of day D from the snapshot of D-1 and the movements of D.

    Returns site_id, article_id, quantity_on_hand for the pairs of ``previous``.
    """
    net = (movements.join(sites.select("site_id", "site_type"), on="site_id", how="left")
           .group_by("site_id", "article_id")
           .agg(signed_quantity(pl.col("movement_type"), pl.col("site_type"), pl.col("quantity"))
                .sum().alias("net")))
    return (previous.join(net, on=["site_id", "article_id"], how="left")
            .select("site_id", "article_id",
                    (pl.col("quantity_on_hand") + pl.col("net").fill_null(0)).alias("quantity_on_hand")))
