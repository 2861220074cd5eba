-- Install an extension from a chosen repository.
FORCE INSTALL httpfs FROM 'http://example.invalid'
