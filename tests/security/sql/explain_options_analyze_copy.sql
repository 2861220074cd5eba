-- The same with the parenthesised option list.
EXPLAIN (ANALYZE, FORMAT json) COPY (SELECT 1) TO '{warehouse_file}' (FORMAT csv, USE_TMP_FILE false)
