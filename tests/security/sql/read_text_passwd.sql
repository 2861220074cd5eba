-- Read a system file whole (issue 13).
SELECT content FROM read_text('/etc/passwd')
