"""How stock comes back: purchase orders (a min/max policy), late deliveries, depot transfers.

Every evening, a pair whose stock position (on hand + on order) is at or below the
article's ``stock_min`` gets an order up to ``stock_max``, rounded up to whole lots,
expected after the article's lead time. 30 % of orders arrive 1-6 days late, which
leaves ~10 % of the open orders overdue on any day. Depots also send a few transfers
to their vans when a van is below minimum and the depot has spare stock.
"""

from __future__ import annotations

import numpy as np

LATE_SHARE = 0.30
MAX_DELAY_DAYS = 6
TRANSFER_SHARE = 0.10  # share of eligible van pairs that get a transfer on a workday
ZERO_MIN_SHARE = 0.12
# Depot stock (SPEC §5.2 supply): a depot pair keeps, above the article's stock_min, a
# reserve of `cover` times an upper estimate of what its group's vans ask (the vans' actual
# requests are ~0.25 of that estimate, 0.55 at the 90th percentile, on tiny). SCARCE_SHARE of
# the depot pairs that serve vans get a cover well below the request, the others above it.
GROUP_HORIZON_DAYS = 30
SCARCE_SHARE = 0.35
SCARCE_COVER = (0.02, 0.12)
AMPLE_COVER = (0.80, 1.20)


def size_stock_limits(mean_daily_demand: np.ndarray, lead_time_days: np.ndarray,
                      lot_size: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Article ``stock_min``/``stock_max`` from the demand they will see, with planner noise.

    The minimum roughly covers the lead-time demand and the maximum adds 10-30 days
    of demand; ~12 % of articles are kept without minimum (order only after a stockout).
    """
    n = len(mean_daily_demand)
    cover = mean_daily_demand * np.maximum(lead_time_days, 1) * rng.uniform(0.6, 1.4, n)
    stock_min = np.ceil(cover).astype(np.int64)
    stock_min[rng.random(n) < ZERO_MIN_SHARE] = 0
    top_up = np.maximum(1, np.ceil(mean_daily_demand * rng.uniform(10.0, 30.0, n))).astype(np.int64)
    stock_max = stock_min + top_up + rng.integers(0, 3, n)
    stock_max = np.maximum(stock_max, np.where(lot_size > 1, stock_min + lot_size, stock_max))
    return stock_min, stock_max


def depot_stock_limits(site: np.ndarray, article: np.ndarray, depot_pair: np.ndarray, is_depot_site: np.ndarray,
                       stock_min: np.ndarray, stock_max: np.ndarray, pair_daily: np.ndarray,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per pair, the min/max the simulation replenishes to: the article's limits for vans and
    for depot pairs no van of the group stocks; for a depot pair serving vans, the limits
    raised by a reserve = cover x the group's request over the horizon.

    The group's request of an article is estimated from above as the sum over its vans of
    ``stock_max + GROUP_HORIZON_DAYS x daily demand`` (a van's request when its stock runs
    down over the whole horizon with no receipt). With cover >= 0.8 the depot can serve its
    vans; with cover <= 0.12 (SCARCE_SHARE of the pairs) the vans' requests mostly exceed the
    supply ``on_hand - stock_min``: the articles a group must share (data_generation/README.md).
    """
    pair_min = stock_min[article].astype(np.int64)
    pair_max = stock_max[article].astype(np.int64)
    serving = depot_pair >= 0
    group_need = np.bincount(depot_pair[serving],
                             weights=stock_max[article[serving]] + GROUP_HORIZON_DAYS * pair_daily[serving],
                             minlength=len(site))
    depot = np.flatnonzero(is_depot_site[site] & (group_need > 0))
    scarce = rng.random(len(depot)) < SCARCE_SHARE
    cover = np.where(scarce, rng.uniform(*SCARCE_COVER, len(depot)), rng.uniform(*AMPLE_COVER, len(depot)))
    reserve = np.ceil(cover * group_need[depot]).astype(np.int64)
    pair_min[depot] += reserve
    pair_max[depot] += reserve + np.ceil(0.25 * reserve).astype(np.int64)
    return pair_min, pair_max


class OrderBook:
    """Open purchase orders as parallel arrays, in creation order (order numbers ascending)."""

    def __init__(self, n_pairs: int) -> None:
        self.number = np.empty(0, dtype=np.int64)
        self.pair = np.empty(0, dtype=np.int64)
        self.expected = np.empty(0, dtype=np.int64)
        self.arrival = np.empty(0, dtype=np.int64)
        self.quantity = np.empty(0, dtype=np.int64)
        self.on_order = np.zeros(n_pairs, dtype=np.int64)
        self._next_number = 1

    def __len__(self) -> int:
        return len(self.number)

    def receive(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Remove the orders arriving on ``day``; return their (pair, quantity)."""
        arriving = self.arrival <= day
        pair, quantity = self.pair[arriving], self.quantity[arriving]
        keep = ~arriving
        for name in ("number", "pair", "expected", "arrival", "quantity"):
            setattr(self, name, getattr(self, name)[keep])
        self.on_order -= np.bincount(pair, weights=quantity, minlength=len(self.on_order)).astype(np.int64)
        return pair, quantity

    def place(self, day: int, pair: np.ndarray, quantity: np.ndarray, lead_time_days: np.ndarray,
              rng: np.random.Generator) -> None:
        expected = day + np.maximum(lead_time_days, 1)
        delay = np.where(rng.random(len(pair)) < LATE_SHARE, rng.integers(1, MAX_DELAY_DAYS + 1, len(pair)), 0)
        numbers = np.arange(self._next_number, self._next_number + len(pair), dtype=np.int64)
        self._next_number += len(pair)
        self.number = np.concatenate([self.number, numbers])
        self.pair = np.concatenate([self.pair, pair])
        self.expected = np.concatenate([self.expected, expected])
        self.arrival = np.concatenate([self.arrival, expected + delay])
        self.quantity = np.concatenate([self.quantity, quantity])
        self.on_order += np.bincount(pair, weights=quantity, minlength=len(self.on_order)).astype(np.int64)


def orders_to_place(on_hand: np.ndarray, on_order: np.ndarray, stock_min: np.ndarray,
                    stock_max: np.ndarray, lot_size: np.ndarray,
                    orderable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs at or below their minimum position, with the whole-lot quantity up to the maximum."""
    position = on_hand + on_order
    due = np.flatnonzero(orderable & (position <= stock_min) & (position < stock_max))
    lots = -(-(stock_max[due] - position[due]) // lot_size[due])
    return due, lots * lot_size[due]


def transfers_to_send(on_hand: np.ndarray, depot_pair: np.ndarray, stock_min: np.ndarray,
                      stock_max: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A few depot-to-van transfers: (van pair, depot pair, quantity).

    Eligible: van pairs below minimum whose home depot holds more than its own minimum;
    each depot pair serves at most one van per day so it never goes below its minimum.
    """
    depot_stock = np.where(depot_pair >= 0, on_hand[np.maximum(depot_pair, 0)], 0)
    spare = depot_stock - stock_min
    eligible = np.flatnonzero((depot_pair >= 0) & (on_hand < stock_min) & (spare > 0))
    chosen = eligible[rng.random(len(eligible)) < TRANSFER_SHARE]
    _, first = np.unique(depot_pair[chosen], return_index=True)
    van = chosen[np.sort(first)]
    quantity = np.minimum(stock_max[van] - on_hand[van], spare[van])
    return van, depot_pair[van], quantity
