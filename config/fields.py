"""Field names a metric may use, checked against what its source's items carry.

A name no item carries does not fail at run time: every item simply lacks it, and a share
or a mean over nothing looks like a real 0% or "no data". So a name is refused when the
mapping file is read, with the closest known name. Jira items also carry the site's own
fields, which only the server knows; on Jira, a name close to a known one is refused (it is
almost surely a typo, and a site field of that name can still be named by its id) and any
other name is left for the server to resolve.
"""

from __future__ import annotations

import difflib

from connectors.base import (
    NUMERIC_FIELDS,
    PULL_REQUEST_FIELDS,
    SITE_FIELD_SOURCES,
    SOURCE_FIELDS,
)

TRACKER_NAMES = {"jira": "Jira", "github": "GitHub"}


def unknown_field(name: str, source: str, *, issues_only: bool = False) -> str | None:
    """Why `source`'s items (GitHub issues alone, with `issues_only`) cannot carry a field
    called `name`, or None when they can."""
    known = SOURCE_FIELDS[source]
    if issues_only and name in PULL_REQUEST_FIELDS:
        return f"'{name}' is a field of pull requests: issues never have it (use pulls)"
    if name in known:
        return None
    tracker = TRACKER_NAMES[source]
    close = difflib.get_close_matches(name, sorted(known), n=1)
    if source in SITE_FIELD_SOURCES:
        if not close:
            return None  # a field of the Jira site, resolved by name or id when fetched
        return (
            f"'{name}' is not a field of {tracker} items (did you mean '{close[0]}'? "
            f"a {tracker} field of this name can be named by its id, customfield_NNNNN)"
        )
    if close:
        return f"'{name}' is not a field of {tracker} items (did you mean '{close[0]}'?)"
    return f"'{name}' is not a field of {tracker} items: use one of " + ", ".join(sorted(known))


def not_numeric(name: str, source: str) -> str | None:
    """Why `name` cannot be summed or averaged, or None when it is (or may be) a number."""
    if name not in SOURCE_FIELDS[source] or name in NUMERIC_FIELDS:
        return None  # a site field: its values are checked when computed
    numeric = sorted(NUMERIC_FIELDS & SOURCE_FIELDS[source])
    return f"'{name}' is not a number: use one of " + ", ".join(numeric)
