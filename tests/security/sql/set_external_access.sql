-- Switch file access back on.
SET enable_external_access = true
