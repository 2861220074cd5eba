-- PRAGMA comes back from the parser rewritten as a SELECT; still refused.
PRAGMA version
