-- Load an extension (issue 13).
LOAD httpfs
