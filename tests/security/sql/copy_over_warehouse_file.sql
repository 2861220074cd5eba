-- The issue's total loss: a warehouse data file overwritten in place with 4 bytes.
COPY (SELECT 1) TO '{warehouse_file}' (FORMAT csv, HEADER false, USE_TMP_FILE false)
