-- SQL in a string, parsed only when query() runs.
SELECT * FROM query('SELECT content FROM read_text(''{secret_file}'')')
