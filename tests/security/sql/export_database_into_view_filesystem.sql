-- Dump every table into the views' filesystem.
EXPORT DATABASE 'reassort://raw.stock_levels'
