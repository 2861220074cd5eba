-- Read a system file through the CSV reader (issue 13).
SELECT * FROM read_csv('/etc/passwd', sep = ':', header = false)
