"""The engine: plan, fetch, compute, score, store, report; and the command line."""
