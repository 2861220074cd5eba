-- An allowed kind (DESCRIBE) around a file read.
DESCRIBE SELECT content FROM read_text('{secret_file}')
