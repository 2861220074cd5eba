-- A file read in a CTE.
WITH s AS (SELECT content FROM read_text('{secret_file}')) SELECT * FROM s
