-- Drop a view.
DROP VIEW raw.stock_levels
