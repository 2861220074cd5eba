"""The projection horizon H of SPEC §3 (`stock.horizon_days`): its default lives here once, so
the receipts, the projection, the run parameter and the analysts' curves cannot drift apart
when the SPEC's 30 days change."""

#: H, days projected after D (SPEC §3 default).
DEFAULT_HORIZON_DAYS = 30
