"""The naive way: every key result on its own, all pages of its query, the clients' defaults.

No plan, no sharing, no server counts, no cache: a count pages through its items too. It is
the baseline the benchmark measures okr-sync against and the reference its values must equal.
"""

from __future__ import annotations

from datetime import datetime

from config.mapping import MappingFile
from config.settings import Settings
from connectors.base import OPTIONAL_FIELDS, Connector
from connectors.github import GitHubConnector
from connectors.jira import JiraConnector
from sync.metrics import compute, compute_formula
from sync.plan import MetricPlan, plan_queries

JIRA_LIBRARY_PAGE = 50  # the jira library's default maxResults
GITHUB_LIBRARY_PAGE = 30  # PyGithub's (and GitHub's) default per_page


def naive_connectors(settings: Settings, *, largest_pages: bool = False) -> dict[str, Connector]:
    """The clients with their default page sizes (or, for counting items, the largest)."""
    jira = settings.jira
    assert jira.url is not None and jira.token is not None
    return {
        "jira": JiraConnector(
            jira.url,
            email=jira.email,
            token=jira.token,
            flavour=jira.flavour,
            item_page_size=None if largest_pages else JIRA_LIBRARY_PAGE,
        ),
        "github": GitHubConnector(
            base_url=settings.github.base_url,
            token=settings.github.token,
            per_page=100 if largest_pages else GITHUB_LIBRARY_PAGE,
        ),
    }


def _metric(metric: MetricPlan, connectors: dict[str, Connector], as_of: datetime) -> float | None:
    connector = connectors[metric.selector.source]
    # Every descriptive field, as a script that takes the client's default fields gets them.
    items = connector.items(metric.selector, metric.needs | OPTIONAL_FIELDS)
    value = compute(metric.metric_type, items, field=metric.field, where=metric.where, as_of=as_of)
    return value.value


def naive_values(
    mapping: MappingFile, connectors: dict[str, Connector], *, as_of: datetime
) -> dict[str, float | None]:
    """Every key result's value, one after another, each from its own full fetch."""
    plan = plan_queries(mapping, today=as_of.date())
    values: dict[str, float | None] = {}
    for kr in plan.key_results:
        kr_id = kr.key_result.id
        if kr.metric is not None:  # a failure is not a value: it stops the benchmark
            values[kr_id] = _metric(kr.metric, connectors, as_of)
        elif kr.formula is not None:
            inputs = {name: _metric(m, connectors, as_of) for name, m in kr.inputs.items()}
            values[kr_id] = compute_formula(kr.formula, inputs).value
    return values
