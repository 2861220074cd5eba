-- IMPORT DATABASE makes the parser itself read schema.sql from the folder.
IMPORT DATABASE '{outside_dir}/import_me'
