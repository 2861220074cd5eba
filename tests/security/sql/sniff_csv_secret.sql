-- Sniff an outside file (the sniffer reads its first rows).
SELECT * FROM sniff_csv('{secret_file}')
