"""Which metric model a metric as written is: its keys checked before pydantic picks one.

A metric's `type` names its computation and its one selector key (`jql`, `search`,
`issues`, `pulls`) its source; together they are the tag of the model that validates it
(config/metric_models.py). Here, on the mapping as written and without changing it, each
mistake of shape gets one message at its own key (a key another type uses, a second or a
missing selector, a source that contradicts the selector) instead of the union's
"no member matched"; the source a selector implies is filled in.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Literal

from config.locations import FieldIssues, Loc, unknown_key_message
from config.vocabulary import (
    METRIC_TYPE_CHOICES,
    MetricType,
    is_metric_type,
)

Source = Literal["jira", "github"]
Computation = Literal["count", "percent_done", "statistic", "share", "formula", "manual"]

SELECTOR_SOURCE: dict[str, Source] = {
    "jql": "jira",
    "search": "github",
    "issues": "github",
    "pulls": "github",
}
SELECTORS = tuple(SELECTOR_SOURCE)
# Every key a metric may have, in the order messages list them.
EVERY_KEY = (
    "type",
    "source",
    *SELECTORS,
    "field",
    "where",
    "scope",
    "expr",
    "inputs",
    "count_mode",
)
SCOPES = ("frozen", "live")
OWN_KEYS: dict[Computation, frozenset[str]] = {
    "count": frozenset(),
    "percent_done": frozenset({"scope"}),
    "statistic": frozenset({"field"}),
    "share": frozenset({"where", "scope"}),
    "formula": frozenset({"expr", "inputs"}),
    "manual": frozenset(),
}
_COMPUTATIONS: dict[str, Computation] = {
    MetricType.COUNT: "count",
    MetricType.PERCENT_DONE: "percent_done",
    MetricType.SHARE: "share",
    MetricType.FORMULA: "formula",
    MetricType.MANUAL: "manual",
}
_KEPT_WHEN_NULL = frozenset({"type", "count_mode"})


def computation_of(metric_type: str) -> Computation:
    """The model family of a metric type: sum, mean, median and p<N> share one."""
    return _COMPUTATIONS.get(metric_type, "statistic")


def keys_of(computation: Computation, selector: str | None) -> frozenset[str]:
    """The keys the model of this computation and selector takes."""
    keys = {"type", "count_mode", *OWN_KEYS[computation]}
    if selector is not None:
        keys |= {"source", selector}
    return frozenset(keys)


def tag_of(computation: Computation, selector: str | None) -> str:
    """The union tag of a model: `count:jql`, `statistic:pulls`, `formula` ..."""
    return computation if selector is None else f"{computation}:{selector}"


def written_tag(data: Any) -> str | None:
    """The tag of a metric as written (after `written_metric`) or of a built model."""
    if not isinstance(data, Mapping):
        tag = getattr(type(data), "TAG", None)
        return tag if isinstance(tag, str) else None
    metric_type = data.get("type")
    if not is_metric_type(metric_type):
        return None
    computation = computation_of(metric_type)
    if computation in ("formula", "manual"):
        return computation
    chosen = [name for name in SELECTORS if name in data]
    return tag_of(computation, chosen[0]) if len(chosen) == 1 else None


def written_metric(data: Any) -> Any:
    """A metric as written with its source filled in, or `FieldIssues` for its shape.

    A key set to null counts as not written, as it always has."""
    if not isinstance(data, Mapping):
        return data
    written = {k: v for k, v in data.items() if v is not None or k in _KEPT_WHEN_NULL}
    issues: list[tuple[Loc, str]] = [
        ((str(key),), unknown_key_message(str(key), EVERY_KEY))
        for key in written
        if key not in EVERY_KEY
    ]
    metric_type = written.get("type")
    if "type" not in written:
        issues.append((("type",), "field required"))
    elif not is_metric_type(metric_type):
        issues.append(
            (("type",), f"{metric_type!r} is not a metric type: use {METRIC_TYPE_CHOICES}")
        )
    if issues or not is_metric_type(metric_type):
        raise FieldIssues(issues)
    computation = computation_of(metric_type)
    if computation in ("formula", "manual"):
        issues += _computed_elsewhere(written, metric_type, computation)
        source = None
    else:
        source, more = _item_metric(written, metric_type, computation)
        issues += more
    if issues:
        raise FieldIssues(issues)
    return written if source is None else {**written, "source": source}


def _computed_elsewhere(
    written: Mapping[str, Any], metric_type: str, computation: Computation
) -> list[tuple[Loc, str]]:
    """A formula or manual metric: no selector, and a formula's expr over its inputs."""
    unused = [key for key in EVERY_KEY if key not in keys_of(computation, None)]
    issues: list[tuple[Loc, str]] = [
        ((key,), f"not used by a {metric_type} metric") for key in unused if key in written
    ]
    if written.get("count_mode", "exact") != "exact":
        issues.append((("count_mode",), f"not used by a {metric_type} metric"))
    if computation == "manual":
        return issues
    inputs = written.get("inputs")
    if "expr" not in written:
        issues.append((("expr",), "field required"))
    if not inputs:
        issues.append((("inputs",), "field required: a formula needs named inputs"))
    if "expr" in written and isinstance(inputs, Mapping):
        for name, sub in inputs.items():
            sub_type = sub.get("type") if isinstance(sub, Mapping) else None
            if sub_type in (MetricType.FORMULA, MetricType.MANUAL):
                issues.append((("inputs", name, "type"), f"an input cannot be a {sub_type} metric"))
            if isinstance(sub, Mapping) and sub.get("scope") == "frozen":
                message = (
                    "a formula's input cannot freeze its scope: only a key result's own metric"
                )
                issues.append((("inputs", name, "scope"), message))
    return issues


def _scope_issues(
    written: Mapping[str, Any], metric_type: str, computation: Computation
) -> list[tuple[Loc, str]]:
    """`scope` freezes a set of items: percent_done and share have one, other types none."""
    if "scope" not in written:
        return []
    if computation not in ("percent_done", "share"):
        message = (
            f"only percent_done and share metrics take a scope (a set of items frozen at the "
            f"period's start), not {metric_type}"
        )
        return [(("scope",), message)]
    scope = written["scope"]
    if scope in SCOPES:
        return []
    close = difflib.get_close_matches(str(scope), SCOPES, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return [(("scope",), f"{scope!r} is not a scope: use frozen or live{hint}")]


def _item_metric(
    written: Mapping[str, Any], metric_type: str, computation: Computation
) -> tuple[Source | None, list[tuple[Loc, str]]]:
    """An item metric: one selector, the source it implies, the keys its type takes."""
    issues: list[tuple[Loc, str]] = [
        ((key,), f"not used by a {metric_type} metric")
        for key in ("expr", "inputs")
        if key in written
    ]
    if "field" in written and computation != "statistic":
        issues.append((("field",), f"not used by a {metric_type} metric"))
    if "where" in written and computation != "share":
        issues.append((("where",), f"only share metrics take a where condition, not {metric_type}"))
    issues += _scope_issues(written, metric_type, computation)
    given = written.get("source")
    if given not in (None, "jira", "github"):
        issues.append((("source",), f"input should be 'jira' or 'github' (got {given!r})"))
        given = None
    chosen = [name for name in SELECTORS if name in written]
    source: Source | None = None
    if len(chosen) > 1:
        found = " and ".join(chosen)
        issues.append(((chosen[1],), f"only one selector per metric: found {found}"))
    elif not chosen:
        if given == "jira":
            issues.append((("jql",), "field required"))
        elif given == "github":
            message = "field required: a github metric needs search, issues or pulls"
            issues.append((("search",), message))
        else:
            message = "a selector is required: jql (Jira), or search, issues or pulls (GitHub)"
            issues.append(((), message))
    else:
        source = SELECTOR_SOURCE[chosen[0]]
        if given is not None and given != source:
            message = f"{chosen[0]} selects {source} items, but source is {given}"
            issues.append((("source",), message))
    if computation == "statistic" and "field" not in written:
        issues.append((("field",), f"field required: {metric_type} needs a numeric field"))
    if computation == "share" and "where" not in written:
        issues.append((("where",), "field required: share needs a where condition"))
    if written.get("count_mode") == "approximate":
        if computation != "count":
            issues.append((("count_mode",), "approximate applies to count metrics only"))
        elif (source or given) == "github":
            issues.append((("count_mode",), "approximate counts exist for Jira only"))
    return source, issues
