-- Transactions are not the query path's business.
BEGIN TRANSACTION
