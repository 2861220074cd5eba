-- An allowed kind (SUMMARIZE) around a file read.
SUMMARIZE SELECT * FROM read_csv('/etc/passwd', sep = ':', header = false)
