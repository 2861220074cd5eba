-- List a system folder.
SELECT * FROM glob('/etc/*')
