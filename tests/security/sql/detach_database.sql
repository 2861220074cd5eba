-- Detach the database holding the views.
DETACH memory
