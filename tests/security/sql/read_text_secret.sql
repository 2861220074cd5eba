-- Read a file outside the warehouse.
SELECT content FROM read_text('{secret_file}')
