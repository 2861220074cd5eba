-- Exfiltrate a table to a file outside the warehouse.
COPY raw.stock_levels TO '{outside_dir}/stolen.csv'
