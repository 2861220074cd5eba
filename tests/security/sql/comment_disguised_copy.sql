-- SELECT everywhere in comments; the statement is still a COPY.
/* SELECT */ COPY/**/(SELECT 1)/**/TO '{warehouse_file}' (FORMAT csv, USE_TMP_FILE false) -- SELECT
