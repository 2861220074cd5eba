-- DuckDB allows its spill directory (.tmp) by default: write there.
COPY (SELECT 1) TO '.tmp/planted.csv'
