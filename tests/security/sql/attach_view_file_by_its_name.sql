-- Open a data file as a read-write database through the views' filesystem.
ATTACH '{view_file}' AS data (READ_WRITE)
