-- USE changes the session (it parses as SET).
USE raw
