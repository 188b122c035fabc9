"""The dashboard's query parameters, read and checked: the tree's filters, a trimmed text
parameter, a bounded count. A malformed one is a 400 naming it."""

from __future__ import annotations

from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Request

from sync.dashboard.api import RUNS_LIMIT_MAX
from sync.standing import TreeFilter

FILTER_MAX = 200


def tree_filter(request: Request) -> TreeFilter:
    values = {}
    for name in ("level", "owner", "objective"):
        given = request.args.get(name, "").strip()
        if len(given) > FILTER_MAX:
            raise BadRequest(f"'{name}' is longer than {FILTER_MAX} characters")
        values[name] = given or None
    return TreeFilter(
        level=values["level"],
        owner=values["owner"],
        objective=values["objective"],
        retired=request.args.get("all") == "1",
    )


def query_arg(request: Request, name: str) -> str | None:
    """A query parameter as given, trimmed; None when absent or blank."""
    given = request.args.get(name, "").strip()
    if len(given) > FILTER_MAX:
        raise BadRequest(f"'{name}' is longer than {FILTER_MAX} characters")
    return given or None


def int_arg(request: Request, name: str, *, default: int) -> int:
    given = request.args.get(name)
    if given is None:
        return default
    try:
        value = int(given)
    except ValueError:
        raise BadRequest(f"'{name}' must be a whole number") from None
    if not 1 <= value <= RUNS_LIMIT_MAX:
        raise BadRequest(f"'{name}' must be between 1 and {RUNS_LIMIT_MAX}")
    return value
