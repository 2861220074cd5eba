-- A macro hiding a file read.
CREATE MACRO passwd() AS TABLE SELECT content FROM read_text('/etc/passwd')
