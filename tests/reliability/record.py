"""What the reliability tests tried and saw, for RELIABILITY.md.

A test calls `record(...)` once its assertions have passed. Under `make reliability`
(`python -m tests.reliability.report`) the rows go to the JSON-lines file named by
`OKRSYNC_RELIABILITY_LOG`; in a plain `make test` they go nowhere.
"""

from __future__ import annotations

import json
import os
import threading

LOG_VARIABLE = "OKRSYNC_RELIABILITY_LOG"
# Read once, at import: many tests clear every OKRSYNC_ variable before they run.
_LOG_PATH = os.environ.get(LOG_VARIABLE)
_lock = threading.Lock()


def record(area: str, case: str, tried: int, outcome: str) -> None:
    """One row of the table: what was tried (`case`), how many times, and what happened."""
    path = _LOG_PATH
    if not path:
        return
    line = json.dumps({"area": area, "case": case, "tried": tried, "outcome": outcome})
    with _lock, open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
