-- Overwrite a data file through the name the views read it by.
COPY (SELECT 1) TO '{view_file}' (FORMAT csv, USE_TMP_FILE false)
