-- SELECT inside a string literal.
COPY (SELECT 'SELECT 1; --' AS s) TO '{warehouse_file}' (FORMAT csv, USE_TMP_FILE false)
