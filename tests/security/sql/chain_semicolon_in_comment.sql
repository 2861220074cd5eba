-- A ';' inside a comment, then a real one.
SELECT 1 /* ; */ ; COPY (SELECT 1) TO '{warehouse_file}' (FORMAT csv, USE_TMP_FILE false)
