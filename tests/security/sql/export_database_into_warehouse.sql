-- Dump every table into the warehouse folder.
EXPORT DATABASE '{warehouse_dir}/dump'
