-- Overwrite a warehouse data file the default way (temporary file, then rename).
COPY (SELECT 1 AS a) TO '{warehouse_file}' (FORMAT parquet)
