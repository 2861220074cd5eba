-- Dump every table to a folder.
EXPORT DATABASE '{outside_dir}/dump'
