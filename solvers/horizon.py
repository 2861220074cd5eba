"""The two windows of SPEC §3: the projection horizon H (`stock.horizon_days`) and the history
window N (`stock.history_days`, `urgence.history_days`). Their defaults live here once, so the
receipts, the projection, the forecast, the backtest, ABC, the run parameters and the
analysts' curves cannot drift apart when the SPEC's 30 and 182 days change."""

#: H, days projected after D (SPEC §3 default).
DEFAULT_HORIZON_DAYS = 30
#: N, days of consumption history D-N+1..D (SPEC §3 default; ABC uses the same window, §4).
DEFAULT_HISTORY_DAYS = 182
