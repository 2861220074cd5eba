-- Create a database file inside the warehouse folder.
ATTACH '{warehouse_dir}/evil.duckdb' AS evil
