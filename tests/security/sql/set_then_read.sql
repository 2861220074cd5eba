-- Unlock, re-enable file access, then read.
SET lock_configuration = false;
SET enable_external_access = true;
SELECT content FROM read_text('{secret_file}')
