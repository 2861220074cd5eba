-- Delete rows.
DELETE FROM raw.stock_levels
