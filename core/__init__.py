"""The bottom layer: what every app shares (errors, client IP, ids, text and phone rules, rate
limits, local caches, the API's JSON and problem-details helpers). It imports no app of the
project; `scripts/check_imports.py` keeps it that way."""
