-- Open a data file as a read-write database through the views' filesystem.
ATTACH 'reassort://raw.stock_levels/0.parquet' AS data (READ_WRITE)
