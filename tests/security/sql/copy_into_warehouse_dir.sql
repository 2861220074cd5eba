-- Add a stray file next to the data, which a glob-based view would pick up.
COPY (SELECT * FROM raw.stock_levels) TO '{warehouse_dir}/raw/stock_levels/extra.parquet' (FORMAT parquet)
