-- A checkpoint as a table function inside a SELECT.
SELECT * FROM force_checkpoint()
