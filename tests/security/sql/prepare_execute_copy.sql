-- Hide the COPY behind a prepared statement.
PREPARE overwrite AS COPY (SELECT 1) TO '{warehouse_file}' (FORMAT csv, USE_TMP_FILE false);
EXECUTE overwrite
