-- A file read deep in a subquery.
SELECT (SELECT max(content) FROM read_text('{secret_file}')) AS c FROM raw.stock_levels
