-- A harmless first statement, then the total loss (issue 13: ';'-chains).
SELECT 1; COPY (SELECT 1) TO '{warehouse_file}' (FORMAT csv, USE_TMP_FILE false)
