-- Load an outside file into a table.
COPY raw.stock_levels FROM '{secret_file}'
