-- Session state is not the query path's business.
SET VARIABLE stolen = 1
