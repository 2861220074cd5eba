-- isolate: DuckDB 1.5.6 aborts the process when this connection closes.
-- The same, as a table function inside a SELECT.
SELECT * FROM enable_logging(storage = 'file', storage_path = '{outside_dir}/logs')
