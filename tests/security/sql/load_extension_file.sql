-- Load native code from a file.
LOAD '{outside_dir}/evil.duckdb_extension'
