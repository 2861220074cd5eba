-- Comments between EXPLAIN, ANALYZE and the COPY.
/* EXPLAIN SELECT */ EXPLAIN -- SELECT
ANALYZE /* SELECT */ COPY (SELECT 1) TO '{warehouse_file}' (FORMAT csv, USE_TMP_FILE false)
