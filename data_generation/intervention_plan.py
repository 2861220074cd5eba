"""The planning system: interventions booked ahead per technician and type.

Each workday's interventions per slot (technician x type) are drawn once, when the day
first enters the 14-day booking horizon, together with how many days ahead each one
was booked. The plan known on day D for day D+d is then the part booked at least d
days ahead: it fills up as the day approaches and is complete the day before, like a
real appointment book. On the day itself ~5 % of interventions are cancelled; the rest
consume their bill of materials from the van (``pair_rates``).

Days are integers: days since 1970-01-01 (polars' Date representation).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from data_generation.catalogue import BillOfMaterials
from data_generation.network import VAN, Network
from data_generation.stocked_pairs import StockedPairs

BOOKING_HORIZON_DAYS = 14
CANCELLATION_SHARE = 0.05
# Share of interventions booked 1, 2, ..., 14 days ahead.
_BOOKING_LEAD_SHARES = np.array([0.14, 0.09, 0.08, 0.08, 0.08, 0.08, 0.08, 0.07, 0.07, 0.06,
                                 0.06, 0.04, 0.04, 0.03])


def is_workday(day: int) -> bool:
    """Monday to Friday; ``day`` counts from 1970-01-01, a Thursday."""
    return (day + 3) % 7 < 5


class InterventionPlan:
    """Bookings of every slot for the days in the horizon, and the parts they use."""

    def __init__(self, network: Network, bom: BillOfMaterials, pairs: StockedPairs,
                 rng: np.random.Generator) -> None:
        self._rng = rng
        self._slot_rate = network.slot_rate
        self._known: dict[int, np.ndarray | None] = {}
        self._booked_through: int | None = None

        n_types = len(bom.type_names)
        slot_site = network.technician_site[network.slot_technician]
        self._load_index = slot_site * n_types + network.slot_type
        self._load_weight = (network.efficiency_factor * network.technician_active)[network.slot_technician]
        self._load_size = network.n_sites * n_types
        self._n_pairs = pairs.size

        # One term per (van pair, bill-of-materials row of its article): the pair's parts
        # rate is the sum over its terms of quantity x (efficiency-weighted count of the type).
        van_pairs = pl.DataFrame({"pair": np.arange(pairs.size), "site": pairs.site,
                                  "article": pairs.article}).filter(
            pl.Series(network.site_type[pairs.site] == VAN))
        bom_rows = pl.DataFrame({"article": bom.bom_article, "type": bom.bom_type,
                                 "quantity": bom.bom_quantity})
        terms = van_pairs.join(bom_rows, on="article", how="inner").sort("pair", "type")
        self._term_pair = terms["pair"].to_numpy()
        self._term_load_index = (terms["site"] * n_types + terms["type"]).to_numpy()
        self._term_quantity = terms["quantity"].to_numpy()

    @property
    def slot_count(self) -> int:
        return len(self._slot_rate)

    def book_through(self, last_day: int) -> None:
        """Draw the bookings of every day up to ``last_day`` not drawn yet, in day order."""
        if self._booked_through is None:
            first = last_day - BOOKING_HORIZON_DAYS
        else:
            first = self._booked_through + 1
        for day in range(first, last_day + 1):
            if not is_workday(day):
                self._known[day] = None
                continue
            booked = self._rng.poisson(self._slot_rate)
            by_lead = self._rng.multinomial(booked, _BOOKING_LEAD_SHARES)
            self._known[day] = np.cumsum(by_lead[:, ::-1], axis=1)[:, ::-1].astype(np.int32)
        if self._booked_through is None or last_day > self._booked_through:
            self._booked_through = last_day

    def known_on(self, day: int) -> list[tuple[int, np.ndarray]]:
        """The plan as known at the end of ``day``: (workday, count per slot) for day+1..day+14."""
        self.book_through(day + BOOKING_HORIZON_DAYS)
        plan = []
        for ahead in range(1, BOOKING_HORIZON_DAYS + 1):
            known = self._known[day + ahead]
            if known is not None:
                plan.append((day + ahead, known[:, ahead - 1]))
        return plan

    def performed_on(self, day: int, rng: np.random.Generator) -> np.ndarray:
        """Interventions performed per slot on ``day``: the full booking minus cancellations.

        Cancellations are drawn from the caller's generator so that the booking stream
        depends only on the days booked, not on when the plan is looked at.
        """
        self.book_through(day)
        known = self._known.pop(day)
        for old in [d for d in self._known if d < day]:
            del self._known[old]
        if known is None:
            return np.zeros(self.slot_count, dtype=np.int64)
        booked = known[:, 0].astype(np.int64)
        return booked - rng.binomial(booked, CANCELLATION_SHARE)

    def pair_rates(self, slot_counts: np.ndarray) -> np.ndarray:
        """Parts used per stocked pair for these slot counts (count x efficiency x BOM quantity).

        Inactive technicians weigh zero, as in SPEC section 3 (their rows are ignored).
        """
        load = np.bincount(self._load_index, weights=slot_counts * self._load_weight,
                           minlength=self._load_size)
        return np.bincount(self._term_pair, weights=self._term_quantity * load[self._term_load_index],
                           minlength=self._n_pairs)

    def expected_pair_rates(self) -> np.ndarray:
        """Mean parts use per pair on a workday, for sizing stock limits."""
        return self.pair_rates(self._slot_rate * (1.0 - CANCELLATION_SHARE))
