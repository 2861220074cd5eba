-- The issue's second loss: attach another database read-write and delete from it.
ATTACH '{other_database}' AS other (READ_WRITE);
DELETE FROM other.victim
