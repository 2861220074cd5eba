-- VACUUM / ANALYZE write statistics.
VACUUM
