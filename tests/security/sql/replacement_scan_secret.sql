-- A quoted path in FROM is a hidden read_csv (replacement scan).
SELECT * FROM '{secret_file}'
