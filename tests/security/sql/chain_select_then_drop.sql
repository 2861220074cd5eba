-- Read, then drop the view.
SELECT * FROM raw.stock_levels; DROP VIEW raw.stock_levels
