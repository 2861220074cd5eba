-- Read a file outside the warehouse as bytes.
SELECT content FROM read_blob('{secret_file}')
