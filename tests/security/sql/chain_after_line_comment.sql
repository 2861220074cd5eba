-- A line comment does not end the chain.
SELECT 1 -- harmless
; ATTACH '{other_database}' AS other (READ_WRITE); DELETE FROM other.victim
