-- Climb out of the warehouse folder with '..'.
SELECT * FROM read_csv('{warehouse_dir}/../outside/secret.csv')
