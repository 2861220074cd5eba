-- EXPLAIN ANALYZE runs what it explains.
EXPLAIN ANALYZE COPY (SELECT 1) TO '{warehouse_file}' (FORMAT csv, USE_TMP_FILE false)
