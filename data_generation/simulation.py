"""The day-by-day simulation of stock, consumption, orders and plans over all pairs.

One call of ``simulate_day`` moves every stocked pair through one day, vectorised over
pairs (no Python loop per pair or row), in the order a real day happens:

1. purchase orders due today arrive (RECEIPT);
2. on workdays, depots send a few transfers to vans below minimum (TRANSFER, two legs);
3. on workdays, parts are consumed: unplanned intermittent demand plus, on vans, the
   bills of materials of the interventions performed; consumption is capped by the stock
   on hand (the rest is a lost demand) so stock never goes negative (CONSUMPTION);
4. a few inventory write-offs (ADJUSTMENT);
5. in the evening, pairs at or below minimum get a purchase order;
6. the end-of-day snapshot, open orders and the plan known tonight are the extracts of D.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from data_generation.intervention_plan import BOOKING_HORIZON_DAYS, is_workday
from data_generation.network import VAN
from data_generation.replenishment import OrderBook, orders_to_place, transfers_to_send
from data_generation.stock_ledger import ADJUSTMENT, CONSUMPTION, MOVEMENT_TYPES, RECEIPT, TRANSFER
from data_generation.world import World

WARM_UP_DAYS = 42  # simulated before the first extract so orders and stock reach a steady state
ADJUSTMENT_SHARE = 0.0005  # pair-workdays with an inventory write-off
EPOCH = dt.date(1970, 1, 1)


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


@dataclass
class DayTables:
    """The four extract tables of one day, clean (before any bad-row injection)."""

    stock_levels: pl.DataFrame
    movements: pl.DataFrame
    purchase_orders: pl.DataFrame
    planned_interventions: pl.DataFrame

    def as_dict(self) -> dict[str, pl.DataFrame]:
        return {"stock_levels": self.stock_levels, "movements": self.movements,
                "purchase_orders": self.purchase_orders, "planned_interventions": self.planned_interventions}


class FieldServiceSimulation:
    def __init__(self, world: World, rng: np.random.Generator) -> None:
        self._world = world
        self._rng = rng
        pairs, catalogue, network = world.pairs, world.catalogue, world.network
        # replenishment targets: the article's limits, raised at depots that serve vans
        self._pair_min = world.pair_stock_min
        self._pair_max = world.pair_stock_max
        self._article_min = world.stock_min[pairs.article]
        self._article_max = world.stock_max[pairs.article]
        self._pair_lot = catalogue.lot_size[pairs.article]
        self._pair_lead = catalogue.lead_time_days[pairs.article]
        self._orderable = catalogue.active[pairs.article]

        below = rng.random(pairs.size) < 0.05
        self.on_hand = np.where(below, rng.integers(0, np.maximum(self._pair_min, 1)),
                                rng.integers(self._pair_min, self._pair_max + 1)).astype(np.int64)
        self.orders = OrderBook(pairs.size)

        # Active technicians grouped by site (technicians are numbered in site order).
        active = np.flatnonzero(network.technician_active)
        self._active_technicians = active
        self._active_start = np.searchsorted(network.technician_site[active], np.arange(network.n_sites))
        self._active_count = np.bincount(network.technician_site[active], minlength=network.n_sites)

        self._pair_site_id = pl.Series("site_id", network.site_id[pairs.site], dtype=pl.String)
        self._pair_article_id = pl.Series("article_id", catalogue.article_id[pairs.article], dtype=pl.String)
        self._technician_id = pl.Series("technician_id", [*network.technician_id, None], dtype=pl.String)
        self._movement_type = pl.Series("movement_type", MOVEMENT_TYPES, dtype=pl.String)
        self._slot_technician_id = pl.Series("technician_id", network.technician_id[network.slot_technician],
                                             dtype=pl.String)
        type_names = np.array(world.bom.type_names, dtype=object)
        self._slot_type = pl.Series("intervention_type", type_names[network.slot_type], dtype=pl.String)

    def warm_up(self, first_day: int, days: int = WARM_UP_DAYS) -> None:
        for day in range(first_day - days, first_day):
            self.simulate_day(day, tables=False)

    def simulate_day(self, day: int, tables: bool = True) -> DayTables | None:
        world, rng, on_hand = self._world, self._rng, self.on_hand
        pairs = world.pairs
        world.plan.book_through(day + BOOKING_HORIZON_DAYS)
        pieces: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []  # (pair, type, technician, qty)

        received_pair, received_qty = self.orders.receive(day)
        on_hand += np.bincount(received_pair, weights=received_qty, minlength=pairs.size).astype(np.int64)
        pieces.append((received_pair, RECEIPT, np.full(len(received_pair), -1), received_qty))

        performed = world.plan.performed_on(day, rng)
        if is_workday(day):
            # a depot ships down to the article's stock_min (SPEC §5.2 supply), not to its reserve
            van, depot, qty = transfers_to_send(on_hand, pairs.depot_pair, self._article_min, self._article_max, rng)
            on_hand[van] += qty
            on_hand[depot] -= qty
            no_technician = np.full(len(van), -1)
            pieces += [(van, TRANSFER, no_technician, qty), (depot, TRANSFER, no_technician, qty)]

            demand = world.demand.draw(rng)
            rate = world.plan.pair_rates(performed)
            planned = np.flatnonzero(rate > 0)
            demand[planned] += rng.poisson(rate[planned])
            consumed = np.minimum(demand, on_hand)
            used = np.flatnonzero(consumed)
            on_hand -= consumed
            pieces.append((used, CONSUMPTION, self._consuming_technician(pairs.site[used]), consumed[used]))

            candidates = np.unique(rng.integers(0, pairs.size, rng.binomial(pairs.size, ADJUSTMENT_SHARE)))
            candidates = candidates[on_hand[candidates] > 0]
            written_off = np.minimum(on_hand[candidates], 1 + rng.poisson(0.5, len(candidates)))
            on_hand[candidates] -= written_off
            pieces.append((candidates, ADJUSTMENT, np.full(len(candidates), -1), written_off))

        due, quantity = orders_to_place(on_hand, self.orders.on_order, self._pair_min, self._pair_max,
                                        self._pair_lot, self._orderable)
        self.orders.place(day, due, quantity, self._pair_lead[due], rng)
        if not tables:
            return None
        return DayTables(self._stock_levels(), self._movements(day, pieces), self._purchase_orders(),
                         self._planned_interventions(day))

    def _consuming_technician(self, site: np.ndarray) -> np.ndarray:
        """A random active technician of the van for each consumption; -1 at depots."""
        count = self._active_count[site]
        offset = (self._rng.random(len(site)) * count).astype(np.int64)
        picked = self._active_technicians[np.minimum(self._active_start[site] + offset,
                                                     len(self._active_technicians) - 1)]
        is_van = self._world.network.site_type[site] == VAN
        return np.where(is_van & (count > 0), picked, -1)

    def _stock_levels(self) -> pl.DataFrame:
        return pl.DataFrame([self._pair_site_id, self._pair_article_id,
                             pl.Series("quantity_on_hand", self.on_hand.copy(), dtype=pl.Int64)])

    def _movements(self, day: int, pieces: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]]) -> pl.DataFrame:
        pair = np.concatenate([p for p, _, _, _ in pieces]).astype(np.int64)
        kind = np.concatenate([np.full(len(p), k) for p, k, _, _ in pieces]).astype(np.int64)
        technician = np.concatenate([t for _, _, t, _ in pieces]).astype(np.int64)
        quantity = np.concatenate([q for _, _, _, q in pieces]).astype(np.int64)
        order = np.lexsort((technician, kind, pair))
        pair, kind, technician, quantity = pair[order], kind[order], technician[order], quantity[order]
        technician = np.where(technician < 0, len(self._technician_id) - 1, technician)
        return pl.DataFrame([
            pl.Series("date", np.full(len(pair), day, dtype=np.int32)).cast(pl.Date),
            self._pair_site_id.gather(pair),
            self._pair_article_id.gather(pair),
            self._technician_id.gather(technician),
            self._movement_type.gather(kind),
            pl.Series("quantity", quantity, dtype=pl.Int64),
        ])

    def _purchase_orders(self) -> pl.DataFrame:
        orders = self.orders
        number = pl.Series("order_id", orders.number, dtype=pl.Int64)
        return pl.DataFrame([
            ("PO" + number.cast(pl.String).str.zfill(10)).alias("order_id"),
            self._pair_site_id.gather(orders.pair),
            self._pair_article_id.gather(orders.pair),
            pl.Series("expected_date", orders.expected.astype(np.int32)).cast(pl.Date),
            pl.Series("quantity_open", orders.quantity, dtype=pl.Int64),
        ])

    def _planned_interventions(self, day: int) -> pl.DataFrame:
        frames = [pl.DataFrame([
            pl.Series("date", np.full(len(counts), planned_day, dtype=np.int32)).cast(pl.Date),
            self._slot_technician_id,
            self._slot_type,
            pl.Series("count", counts, dtype=pl.Int64),
        ]) for planned_day, counts in self._world.plan.known_on(day)]
        return pl.concat(frames) if frames else pl.DataFrame(schema={
            "date": pl.Date, "technician_id": pl.String, "intervention_type": pl.String, "count": pl.Int64})
