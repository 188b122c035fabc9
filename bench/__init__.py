"""The benchmark: okr-sync against the naive way over a generated company (`python -m bench`)."""
