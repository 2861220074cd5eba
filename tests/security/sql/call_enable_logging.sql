-- isolate: DuckDB 1.5.6 aborts the process when this connection closes.
-- Logging to a file changes settings behind lock_configuration.
CALL enable_logging(storage = 'file', storage_path = '{outside_dir}/logs')
