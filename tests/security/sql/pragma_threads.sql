-- A configuration change dressed as PRAGMA.
PRAGMA threads = 1
