-- Overwrite a data file through the name the views read it by.
COPY (SELECT 1) TO 'reassort://raw.stock_levels/0.parquet' (FORMAT csv, USE_TMP_FILE false)
