-- Rename a view.
ALTER VIEW raw.stock_levels RENAME TO gone
