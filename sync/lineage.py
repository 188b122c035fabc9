"""A key result's value from the fetched data, with its lineage: the query, a link to the
same items in the tracker's own UI, how it was counted, which items it read (the first
MAX_LINEAGE_KEYS keys; the total always), and why there is no value when there is none."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from config.metric_models import FormulaMetric
from config.settings import Settings
from config.vocabulary import MetricType
from connectors.base import GitHubListSelector, GitHubSearchSelector, JiraSelector, Selector
from connectors.github_selectors import search_query_for
from sync.fetch import FetchResults
from sync.metrics import MetricValue, compute, compute_formula
from sync.plan import KeyResultPlan, MetricPlan

MAX_LINEAGE_KEYS = 1000  # item keys kept per value; the total is always kept


def query_link(selector: Selector, settings: Settings) -> str | None:
    """Where a person can see the same items in the tracker's own UI."""
    if isinstance(selector, JiraSelector):
        base = (settings.jira.url or "").rstrip("/")
        return f"{base}/issues/?jql={quote(selector.jql)}" if base else None
    web = github_web_url(settings.github.base_url)
    if isinstance(selector, GitHubSearchSelector):
        return f"{web}/search?q={quote(selector.query)}"
    if isinstance(selector, GitHubListSelector):
        # The very query a count asks the search API, so the page lists the counted items.
        kind = "pullrequests" if selector.kind == "pull_request" else "issues"
        return f"{web}/search?q={quote(search_query_for(selector))}&type={kind}"
    return None


def github_web_url(api_base: str | None) -> str:
    if not api_base:
        return "https://github.com"
    parts = urlsplit(api_base.rstrip("/"))
    path = parts.path.removesuffix("/api/v3")
    return f"{parts.scheme}://{parts.netloc}{path}"


def _metric_value(
    metric: MetricPlan, fetched: FetchResults, settings: Settings, as_of: datetime
) -> tuple[MetricValue | None, str | None, dict[str, Any]]:
    """Compute one tracker metric; return (value, error, lineage)."""
    selector = metric.selector
    lineage: dict[str, Any] = {
        "source": selector.source,
        "metric": metric.metric_type,
        "query": selector.describe(),
        "link": query_link(selector, settings),
        "fetched_at": as_of.isoformat(),
    }
    if selector in fetched.freshness:
        lineage["cache"] = fetched.freshness[selector]
    if metric.field:
        lineage["field"] = metric.field
    if metric.where_text:
        lineage["where"] = metric.where_text
    if metric.metric_type == MetricType.COUNT:
        outcome = fetched.for_count(selector)
        if outcome.error is not None or outcome.count is None:
            lineage["error"] = outcome.error
            return None, outcome.error or "no count returned", lineage
        lineage["count"] = outcome.count
        lineage["counted_by"] = "server" if selector in fetched.counts else "items"
        return MetricValue(float(outcome.count), outcome.count, None), None, lineage
    outcome = fetched.for_items(selector)
    if outcome.error is not None or outcome.items is None:
        lineage["error"] = outcome.error
        return None, outcome.error or "no items returned", lineage
    items = outcome.items
    lineage["items_total"] = len(items)
    lineage["items"] = [item.key for item in items[:MAX_LINEAGE_KEYS]]
    try:
        value = compute(
            metric.metric_type, items, field=metric.field, where=metric.where, as_of=as_of
        )
        if value.value is not None and not math.isfinite(value.value):
            raise ValueError(f"{metric.metric_type} is not a finite number ({value.value})")
    except (ValueError, ArithmeticError) as exc:  # e.g. an overflowing sum: never stored
        error = str(exc) if isinstance(exc, ValueError) else f"{metric.metric_type}: {exc}"
        lineage["error"] = error
        return None, error, lineage
    lineage["sample_size"] = value.sample_size
    if value.reason:
        lineage["note"] = value.reason
    return value, None, lineage


def compute_key_result(
    plan: KeyResultPlan, fetched: FetchResults, settings: Settings, as_of: datetime
) -> tuple[float | None, str | None, dict[str, Any]]:
    """The value of one key result from the fetched data, with its lineage."""
    if plan.metric is not None:
        value, error, lineage = _metric_value(plan.metric, fetched, settings, as_of)
        return (value.value if value else None), error, lineage
    assert plan.formula is not None
    inputs: dict[str, float | None] = {}
    input_lineage: dict[str, Any] = {}
    errors: list[str] = []
    for name, metric in plan.inputs.items():
        value, error, lineage = _metric_value(metric, fetched, settings, as_of)
        inputs[name] = value.value if value else None
        lineage["value"] = inputs[name]
        input_lineage[name] = lineage
        if error:
            errors.append(f"{name}: {error}")
    written = plan.key_result.metric
    lineage = {
        "metric": "formula",
        "expr": written.expr if isinstance(written, FormulaMetric) else None,
        "inputs": input_lineage,
        "fetched_at": as_of.isoformat(),
    }
    if errors:
        lineage["error"] = "; ".join(errors)
        return None, lineage["error"], lineage
    result = compute_formula(plan.formula, inputs)
    if result.reason:
        lineage["note"] = result.reason
    return result.value, None, lineage
