-- EXPLAIN ANALYZE of a SELECT that reads a file.
EXPLAIN ANALYZE SELECT content FROM read_text('{secret_file}')
