-- Write rows.
INSERT INTO raw.stock_levels SELECT * FROM raw.stock_levels
