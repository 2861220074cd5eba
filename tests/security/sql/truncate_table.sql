-- TRUNCATE parses as DELETE.
TRUNCATE raw.stock_levels
