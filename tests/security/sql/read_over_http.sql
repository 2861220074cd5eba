-- Read over the network.
SELECT * FROM read_csv('https://example.invalid/data.csv')
