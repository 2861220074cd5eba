-- Undo the configuration lock.
RESET lock_configuration
