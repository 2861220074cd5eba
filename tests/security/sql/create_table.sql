-- Create a table (issue 13: refused before, refused still).
CREATE TABLE raw.copied AS SELECT * FROM raw.stock_levels
