-- Bypass the views and open a data file directly.
SELECT * FROM read_parquet('{warehouse_file}')
