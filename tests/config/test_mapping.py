"""The mapping file: the DESIGN.md contract loads, and every error names its place and line."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from textwrap import dedent

import pytest
from pydantic import TypeAdapter

from config.github_filters import ANY_TIME
from config.loader import MappingError, MappingIssue, load_mapping, load_mapping_text
from config.mapping import MappingFile
from config.metric_models import ManualMetric, Metric
from connectors.base import DateWindow, GitHubListSelector, GitHubSearchSelector, JiraSelector

TODAY = date(2026, 11, 20)
EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
METRIC: TypeAdapter[Metric] = TypeAdapter(Metric)

# Copied verbatim from DESIGN.md ("The mapping file (contract)").
DESIGN_EXAMPLE = """\
version: 1
period: 2026-Q4                 # default for all; or {start: 2026-10-01, end: 2026-12-31}
objectives:
  - id: quality                 # stable id: the store's key; titles may change
    title: Ship a product customers trust
    owner: cto
    level: company              # company | team | individual (free text allowed)
    key_results:
      - id: p1-bugs
        title: Cut open P1 bugs from 40 to 5
        start: 40               # or `auto`: the first value seen in the period
        target: 5               # target < start means lower is better
        metric:
          source: jira
          type: count
          jql: project = APP AND priority = Highest AND statusCategory != Done
  - id: delivery
    parent: quality             # alignment: rolls up into its parent
    owner: platform-team
    level: team
    key_results:
      - id: lead-time
        title: Median PR lead time under 24 h
        start: 60
        target: 24
        unit: h
        metric:
          source: github
          type: median
          field: lead_time_hours          # merged_at - created_at
          pulls: {repo: acme/api, merged: period}
      - id: bugs-closed
        title: Close 50 customer bugs
        target: 50
        metric: {source: jira, type: count, jql: 'project = APP AND type = Bug AND resolved >= "{period.start}"'}
      - id: review-share
        title: 90% of merged PRs approved before merge
        target: 90
        unit: '%'
        metric:
          type: formula
          expr: 100 * approved / merged
          inputs:
            approved: {source: github, type: count, search: 'repo:acme/api is:pr is:merged review:approved merged:{period}'}
            merged:   {source: github, type: count, search: 'repo:acme/api is:pr is:merged merged:{period}'}
      - id: nps
        title: NPS above 40
        target: 40
        metric: {type: manual}          # set with `run.py checkin nps 37 --note "..."`
"""


def load(text: str) -> MappingFile:
    return load_mapping_text(dedent(text), source_name="okrs.yaml", today=TODAY)


def one_metric(metric: str) -> str:
    """A file of one key result measured by `metric` (written on line 10)."""
    return f"""\
version: 1
period: 2026-Q4
objectives:
  - id: a
    title: A
    key_results:
      - id: k
        title: K
        target: 5
        metric: {metric}
"""


def only_issue(text: str) -> MappingIssue:
    with pytest.raises(MappingError) as info:
        load(text)
    assert len(info.value.errors) == 1, str(info.value)
    return info.value.errors[0]


# --- what loads -------------------------------------------------------------------------


def test_design_example_loads() -> None:
    mapping = load(DESIGN_EXAMPLE)
    assert mapping.version == 1
    assert mapping.period.github_range == "2026-10-01..2026-12-31"
    assert [o.id for o in mapping.objectives] == ["quality", "delivery"]
    delivery = mapping.objective("delivery")
    assert delivery.parent == "quality" and delivery.title == "delivery"  # title defaults to id
    assert mapping.children("quality") == [delivery]
    assert [kr.id for _, kr in mapping.key_results()] == [
        "p1-bugs",
        "lead-time",
        "bugs-closed",
        "review-share",
        "nps",
    ]

    p1 = mapping.key_result("p1-bugs")
    assert (p1.kind, p1.start, p1.target, p1.period) == ("linear", 40.0, 5.0, mapping.period)
    assert p1.metric.selector(mapping.period) == JiraSelector(
        "project = APP AND priority = Highest AND statusCategory != Done"
    )

    lead = mapping.key_result("lead-time")
    assert lead.metric.source == "github" and lead.metric.field == "lead_time_hours"
    assert lead.metric.pulls is not None
    assert lead.metric.pulls.windows(mapping.period) == {
        "merged": DateWindow(date(2026, 10, 1), date(2026, 12, 31))
    }
    assert lead.metric.selector(mapping.period) == GitHubListSelector(
        repo="acme/api",
        kind="pull_request",
        merged=DateWindow(date(2026, 10, 1), date(2026, 12, 31)),
    )

    closed = mapping.key_result("bugs-closed")
    assert closed.start == 0.0  # linear start defaults to 0
    assert closed.metric.jql == 'project = APP AND type = Bug AND resolved >= "2026-10-01"'
    assert closed.metric.jql_template == (
        'project = APP AND type = Bug AND resolved >= "{period.start}"'
    )

    share = mapping.key_result("review-share")
    assert share.metric.formula is not None
    assert share.metric.formula.names == frozenset({"approved", "merged"})
    assert share.metric.inputs is not None
    approved = share.metric.inputs["approved"]
    assert approved.search == (
        "repo:acme/api is:pr is:merged review:approved merged:2026-10-01..2026-12-31"
    )
    assert approved.search_template is not None and "{period}" in approved.search_template
    assert approved.selector(mapping.period) == GitHubSearchSelector(approved.search)
    assert share.metric.formula.evaluate({"approved": 45, "merged": 50}) == 90.0

    nps = mapping.key_result("nps")
    assert nps.metric.type == "manual" and isinstance(nps.metric, ManualMetric)


@pytest.mark.parametrize("name", ["team.yaml", "demo.yaml"])
def test_shipped_examples_load(name: str) -> None:
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip(f"{name} not written yet")
    mapping = load_mapping(path, today=TODAY)
    ids = [kr.id for _, kr in mapping.key_results()]
    assert len(ids) == len(set(ids)) >= 5


def test_team_example_covers_the_metric_types() -> None:
    mapping = load_mapping(EXAMPLES / "team.yaml", today=TODAY)
    types = {kr.metric.type for _, kr in mapping.key_results()}
    assert {"count", "sum", "percent_done", "mean", "median", "p90", "share", "formula"} <= types
    assert "manual" in types
    toil = mapping.key_result("ops-toil")
    assert toil.period is not None and toil.period.label == "2026-11"
    assert toil.metric.jql is not None and '"2026-11-30"' in toil.metric.jql  # its own period
    assert toil.metric.selector(toil.period) == JiraSelector(
        toil.metric.jql, approximate_count=True
    )


def test_period_as_mapping_and_kind_defaults() -> None:
    mapping = load(
        """\
        version: 1
        period: {start: 2026-10-15, end: 2026-11-14}
        thresholds: {on_track: 0.8, at_risk: 0.5}
        objectives:
          - id: o
            title: O
            key_results:
              - {id: m, title: M, kind: milestone, metric: {type: manual}}
              - {id: b, title: B, kind: baseline, metric: {type: manual}}
              - {id: s, title: S, start: auto, target: 3, metric: {type: manual}}
              - {id: band, title: Band, kind: band, min: 1, max: 2, metric: {type: manual}}
        """
    )
    assert mapping.period.github_range == "2026-10-15..2026-11-14"
    assert mapping.thresholds is not None and mapping.thresholds.on_track == 0.8
    assert (mapping.key_result("m").start, mapping.key_result("m").target) == (0.0, 1.0)
    assert (mapping.key_result("b").start, mapping.key_result("b").target) == ("auto", None)
    assert mapping.key_result("s").start == "auto"


def test_github_filters_to_selectors() -> None:
    mapping = load(
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: o
            title: O
            key_results:
              - id: bugs
                title: Bugs
                target: 1
                metric:
                  type: count
                  issues: {repo: acme/mobile, state: open, labels: [bug, p1], created: 2026-10-01..2026-10-31}
              - id: merged
                title: Merged
                target: 1
                metric:
                  type: count
                  pulls: {repo: acme/web, state: merged}
        """
    )
    period = mapping.period
    bugs = mapping.key_result("bugs").metric
    assert bugs.source == "github"
    assert bugs.selector(period) == GitHubListSelector(
        repo="acme/mobile",
        kind="issue",
        state="open",
        labels=("bug", "p1"),
        created=DateWindow(date(2026, 10, 1), date(2026, 10, 31)),
    )
    merged = mapping.key_result("merged").metric.selector(period)
    assert isinstance(merged, GitHubListSelector)
    assert (merged.state, merged.merged) == ("closed", ANY_TIME)


def test_today_placeholder_uses_the_given_day() -> None:
    mapping = load(
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: o
            title: O
            key_results:
              - {id: k, title: K, target: 1, metric: {type: count, jql: 'created <= "{today}"'}}
        """
    )
    assert mapping.key_result("k").metric.jql == 'created <= "2026-11-20"'


def test_metric_model_alone_infers_the_source() -> None:
    metric = METRIC.validate_python({"type": "p75", "field": "age_days", "jql": "project = WEB"})
    assert metric.source == "jira" and metric.percentile == 75


# --- one test per error class: exact location and line --------------------------------


def test_missing_jql() -> None:
    text = """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: quality
            title: Quality
            key_results:
              - id: p1
                title: P1
                target: 5
                metric: {type: count, jql: project = APP}
          - id: delivery
            title: Delivery
            key_results:
              - id: bugs
                title: Bugs
                target: 5
                metric:
                  source: jira
                  type: count
        """
    with pytest.raises(MappingError) as info:
        load(text)
    assert (
        str(info.value) == "okrs.yaml:17: objectives[1].key_results[0].metric.jql: field required"
    )
    assert info.value.errors == [
        MappingIssue("objectives[1].key_results[0].metric.jql", 17, "field required")
    ]


# Each file has one mistake: the issue says exactly where, on which line and what.
ONE_ISSUE: dict[str, tuple[str, MappingIssue]] = {
    "unknown key": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: o
            title: O
            key_results:
              - id: k
                title: K
                target: 5
                metric:
                  type: count
                  jqll: project = APP
        """,
        MappingIssue(
            "objectives[0].key_results[0].metric.jqll", 12, "unknown key (did you mean 'jql'?)"
        ),
    ),
    "unknown top level key": (
        """\
        version: 1
        period: 2026-Q4
        treshold: {on_track: 0.8}
        objectives:
          - {id: a, title: A}
        """,
        MappingIssue("treshold", 3, "unknown key (did you mean 'thresholds'?)"),
    ),
    "duplicate key result id": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: a
            title: A
            key_results:
              - {id: same, title: One, target: 1, metric: {type: manual}}
          - id: b
            title: B
            key_results:
              - {id: other, title: Two, target: 1, metric: {type: manual}}
              - {id: same, title: Three, target: 1, metric: {type: manual}}
        """,
        MappingIssue(
            "objectives[1].key_results[1].id",
            12,
            "duplicate key result id 'same' (first at objectives[0].key_results[0].id)",
        ),
    ),
    "duplicate objective id": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: a
            title: A
          - id: b
            title: B
          - id: a
            title: Again
        """,
        MappingIssue(
            "objectives[2].id", 8, "duplicate objective id 'a' (first at objectives[0].id)"
        ),
    ),
    "missing parent": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: a
            title: A
          - id: b
            title: B
            parent: c
        """,
        MappingIssue("objectives[1].parent", 8, "unknown parent 'c': no objective has this id"),
    ),
    "alignment cycle": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: root
            title: Root
          - id: a
            title: A
            parent: c
          - id: b
            title: B
            parent: a
          - id: c
            title: C
            parent: b
        """,
        MappingIssue("objectives[1].parent", 8, "alignment cycle: a -> c -> b -> a"),
    ),
    "self parent is a cycle": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - {id: a, title: A, parent: a}
        """,
        MappingIssue("objectives[0].parent", 4, "alignment cycle: a -> a"),
    ),
    "bad period": (
        """\
        version: 1
        period: 2026-Q5
        objectives:
          - {id: a, title: A}
        """,
        MappingIssue(
            "period",
            2,
            "'2026-Q5' is not a period: use 2026-Q1..Q4, 2026-H1/H2, 2026, 2026-11 or {start, end}",
        ),
    ),
    "bad key result period": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: a
            title: A
            key_results:
              - id: k
                title: K
                target: 1
                period: {start: 2026-12-01, end: 2026-11-01}
                metric: {type: manual}
        """,
        MappingIssue(
            "objectives[0].key_results[0].period",
            10,
            "period end 2026-11-01 is before its start 2026-12-01",
        ),
    ),
    "bad placeholder": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: a
            title: A
            key_results:
              - id: k
                title: K
                target: 1
                metric:
                  type: formula
                  expr: x + y
                  inputs:
                    x: {type: count, jql: 'project = APP'}
                    y:
                      type: count
                      search: 'repo:acme/api merged:{period.__class__}'
        """,
        MappingIssue(
            "objectives[0].key_results[0].metric.inputs.y.search",
            17,
            "unknown placeholder '{period.__class__}': allowed are "
            "{period}, {period.start}, {period.end}, {today}",
        ),
    ),
    "formula name not in inputs": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: a
            title: A
            key_results:
              - id: k
                title: K
                target: 90
                metric:
                  type: formula
                  expr: 100 * approved / merged
                  inputs:
                    approved: {type: count, search: 'is:pr review:approved'}
                    merged: {type: count, search: 'is:pr is:merged'}
                    closed: {type: count, search: 'is:pr is:closed'}
        """,
        MappingIssue(
            "objectives[0].key_results[0].metric.inputs.closed",
            16,
            "input 'closed' is not used in '100 * approved / merged'",
        ),
    ),
    "formula input missing": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: a
            title: A
            key_results:
              - id: k
                title: K
                target: 90
                metric:
                  type: formula
                  expr: 100 * approved / merged
                  inputs:
                    approved: {type: count, search: 'is:pr review:approved'}
        """,
        MappingIssue(
            "objectives[0].key_results[0].metric.expr",
            12,
            "'merged' is not one of the inputs (approved)",
        ),
    ),
    "bad percentile": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: a
            title: A
            key_results:
              - id: k
                title: K
                target: 24
                metric:
                  type: p100
                  field: lead_time_hours
                  pulls: {repo: acme/api, merged: period}
        """,
        MappingIssue(
            "objectives[0].key_results[0].metric.type",
            11,
            "'p100' is not a metric type: use count, sum, percent_done, mean, median, "
            "p1..p99 (e.g. p90), share, formula or manual",
        ),
    ),
    "band min not below max": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: a
            title: A
            key_results:
              - id: k
                title: K
                kind: band
                min: 20
                max: 5
                metric: {type: manual}
        """,
        MappingIssue("objectives[0].key_results[0].min", 10, "min (20) must be below max (5)"),
    ),
    "duplicate yaml key": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: a
            title: A
            key_results:
              - id: k
                title: K
                target: 5
                target: 6
                metric: {type: manual}
        """,
        MappingIssue(
            "objectives[0].key_results[0].target", 10, "duplicate key 'target' (first on line 9)"
        ),
    ),
}


@pytest.mark.parametrize(("text", "expected"), ONE_ISSUE.values(), ids=ONE_ISSUE.keys())
def test_one_mistake_is_one_issue_at_its_place(text: str, expected: MappingIssue) -> None:
    assert only_issue(text) == expected


# The same, where the message is checked by the words that matter.
ONE_ISSUE_SAYING: dict[str, tuple[str, str, int, tuple[str, ...]]] = {
    "missing selector without source": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: o
            title: O
            key_results:
              - id: k
                title: K
                target: 5
                metric:
                  type: count
        """,
        "objectives[0].key_results[0].metric",
        10,
        ("a selector is required",),
    ),
    "hostile formula": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: a
            title: A
            key_results:
              - id: k
                title: K
                target: 90
                metric:
                  type: formula
                  expr: __import__('os').system('true')
                  inputs:
                    x: {type: count, search: 'is:pr'}
        """,
        "objectives[0].key_results[0].metric.expr",
        12,
        ("is not allowed in a formula",),
    ),
    "bad ids": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: Quality Team
            title: A
        """,
        "objectives[0].id",
        4,
        ("'Quality Team' is not a valid id",),
    ),
    "wrong types show the value": (
        """\
        version: 1
        period: 2026-Q4
        objectives:
          - id: a
            title: A
            key_results:
              - {id: k, title: K, target: forty, metric: {type: manual}}
        """,
        "objectives[0].key_results[0].target",
        7,
        (
            "input should be a valid number",
            "'forty'",
        ),
    ),
}


@pytest.mark.parametrize(
    ("text", "location", "line", "fragments"),
    ONE_ISSUE_SAYING.values(),
    ids=ONE_ISSUE_SAYING.keys(),
)
def test_one_mistake_is_one_issue_saying_what(
    text: str, location: str, line: int, fragments: tuple[str, ...]
) -> None:
    issue = only_issue(text)
    assert (issue.location, issue.line) == (location, line)
    assert all(fragment in issue.message for fragment in fragments), issue


def chain_mapping(depth: int, top_parent: str | None = None) -> str:
    """Objectives o0 <- o1 <- ... each aligned to the one before; `top_parent` aligns o0."""
    lines = ["version: 1", "period: 2026-Q4", "objectives:"]
    for i in range(depth):
        parent = f"o{i - 1}" if i else top_parent
        lines.append(f"  - {{id: o{i}, title: O{i}" + (f", parent: {parent}}}" if parent else "}"))
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(30)  # checking each objective's walk to the root anew took 40 s and more
def test_a_2400_objective_chain_is_checked_in_linear_time() -> None:
    mapping = load(chain_mapping(2400))
    assert [o.parent for o in mapping.objectives[:3]] == [None, "o0", "o1"]
    assert mapping.objectives[-1].parent == "o2398"


@pytest.mark.timeout(30)
def test_a_cycle_through_a_2400_objective_chain_is_reported_once() -> None:
    issue = only_issue(chain_mapping(2400, top_parent="o2399"))
    assert issue.location == "objectives[0].parent"
    chain = " -> ".join(f"o{i}" for i in [0, *range(2399, -1, -1)])
    assert issue.message == f"alignment cycle: {chain}"


def test_yaml_syntax_error() -> None:
    with pytest.raises(MappingError) as info:
        load(
            """\
            version: 1
            period: 2026-Q4
            objectives:
              - id: a
                title: [unclosed
            """
        )
    assert len(info.value.errors) == 1
    issue = info.value.errors[0]
    assert issue.location == "" and issue.line == 6
    assert issue.message.startswith("YAML syntax error: ")
    assert str(info.value).startswith("okrs.yaml:6: YAML syntax error: ")


# --- more of the checks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "location", "fragment"),
    [
        ("{type: sum, jql: x}", "metric.field", "field required: sum needs a numeric field"),
        ("{type: count, field: age_days, jql: x}", "metric.field", "not used by a count metric"),
        ("{type: share, jql: x}", "metric.where", "field required: share needs a where"),
        ("{type: count, where: 'a > 1', jql: x}", "metric.where", "only share metrics"),
        ("{type: share, where: 'a.b > 1', jql: x}", "metric.where", "attribute access 'a.b'"),
        ("{type: count, jql: x, search: y}", "metric.search", "only one selector per metric"),
        ("{type: count, source: github, jql: x}", "metric.source", "jql selects jira items"),
        ("{type: count, source: github}", "metric.search", "field required"),
        ("{type: manual, jql: x}", "metric.jql", "not used by a manual metric"),
        ("{type: count, count_mode: approximate, search: x}", "metric.count_mode", "Jira only"),
        ("{type: mean, field: f, count_mode: approximate, jql: x}", "metric.count_mode", "count"),
        (
            "{type: count, issues: {repo: acme/api, state: merged}}",
            "metric.issues.state",
            "never merged",
        ),
        ("{type: count, pulls: {repo: acme}}", "metric.pulls.repo", "is not a repository"),
        (
            """{type: count, pulls: {repo: a/b, labels: ['nosuch" repo:acme/web is:pr "x']}}""",
            "metric.pulls.labels[0]",
            "label 'nosuch\" repo:acme/web is:pr \"x' cannot be searched on GitHub: a quote ends",
        ),
        (
            "{type: count, issues: {repo: a/b, labels: [bug, 'p1,p2']}}",
            "metric.issues.labels[1]",
            "label 'p1,p2' cannot be searched on GitHub: a comma means \"or\"",
        ),
        (
            "{type: count, issues: {repo: a/b, labels: [' bug']}}",
            "metric.issues.labels[0]",
            "label ' bug' has spaces around it",
        ),
        (
            "{type: count, pulls: {repo: a/b, merged: lastweek}}",
            "metric.pulls.merged",
            "is not a window",
        ),
        ("{type: p0, field: f, jql: x}", "metric.type", "'p0' is not a metric type"),
        (
            "{type: formula, expr: a, inputs: {a: {type: manual}}}",
            "metric.inputs.a.type",
            "cannot be a manual",
        ),
        ("{type: formula, inputs: {a: {type: count, jql: x}}}", "metric.expr", "field required"),
        (
            "{type: formula, expr: 'a / 0', inputs: {a: {type: count, jql: x}}}",
            "metric.expr",
            "division by zero",
        ),
        ("{type: count, jql: 'x = {nope}'}", "metric.jql", "unknown placeholder '{nope}'"),
        ("{type: count, jql: 'x = {period'}", "metric.jql", "unbalanced"),
        ("5", "metric", "input should be a mapping with a type (got 5)"),
        ("{type: count, source: gitlab, jql: x}", "metric.source", "'jira' or 'github'"),
        ("{type: count, search: x, sorce: github}", "metric.sorce", "did you mean 'source'"),
        ("{type: count, pulls: {repo: a/b, stat: open}}", "metric.pulls.stat", "'state'?"),
        (
            "{type: formula, expr: a, inputs: {a: {type: count, pulls: {repo: a/b, lables: []}}}}",
            "metric.inputs.a.pulls.lables",
            "did you mean 'labels'?",
        ),
        (
            "{type: formula, expr: a, inputs: {a: {type: formula, expr: '1'}}}",
            "metric.inputs.a.type",
            "an input cannot be a formula metric",
        ),
    ],
)
def test_metric_checks(metric: str, location: str, fragment: str) -> None:
    issue = only_issue(one_metric(metric))
    assert issue.location == f"objectives[0].key_results[0].{location}"
    assert issue.line == 10
    assert fragment in issue.message


@pytest.mark.parametrize(
    "metric",
    [
        "{type: manual, count_mode: exact}",
        "{type: count, jql: x, field: null, source: null}",
        "{type: p50, field: age_days, search: x, count_mode: exact}",
    ],
)
def test_what_a_metric_always_accepted_still_loads(metric: str) -> None:
    """`count_mode: exact` anywhere and keys set to null were accepted before the union."""
    load(one_metric(metric))


def test_formula_division_by_zero_at_runtime() -> None:
    metric = METRIC.validate_python(
        {
            "type": "formula",
            "expr": "a / b",
            "inputs": {"a": {"type": "count", "jql": "x"}, "b": {"type": "count", "jql": "y"}},
        }
    )
    assert metric.formula is not None
    with pytest.raises(ValueError, match="division by zero in 'a / b'"):
        metric.formula.evaluate({"a": 1, "b": 0})


@pytest.mark.parametrize(
    ("fields", "location", "fragment"),
    [
        ("target: 5\n    kind: stay_above\n    start: 3", "start", "not used by kind stay_above"),
        ("kind: stay_below", "target", "field required"),
        ("start: 3", "target", "field required"),
        ("start: 5\n    target: 5", "target", "target equals start"),
        ("kind: baseline\n    target: 5", "target", "not used by kind baseline"),
        ("kind: milestone\n    target: 3", "target", "target is 1"),
        ("kind: band\n    min: 1", "max", "field required"),
        ("target: 5\n    min: 1", "min", "not used by kind linear"),
        ("target: 5\n    start: soon", "start", "start must be a number, auto or period_start"),
        ("target: .inf", "target", "finite number"),
        ("target: 5\n    weight: 0", "weight", "greater than 0"),
        ("target: 5\n    kind: sideways", "kind", "input should be 'linear'"),
    ],
)
def test_key_result_kind_checks(fields: str, location: str, fragment: str) -> None:
    body = fields.replace("\n    ", "\n" + " " * 16)
    text = f"""\
        version: 1
        period: 2026-Q4
        objectives:
          - id: a
            title: A
            key_results:
              - id: k
                title: K
                {body}
                metric: {{type: manual}}
        """
    issue = only_issue(text)
    assert issue.location == f"objectives[0].key_results[0].{location}", issue
    assert fragment in issue.message, issue
    # a missing field points at its key result (line 7), a wrong one at its own line
    assert issue.line is not None and 7 <= issue.line <= 11


@pytest.mark.parametrize(
    ("field", "location", "limit"),
    [
        ("unit", "objectives[0].key_results[0].unit", 50),
        ("level", "objectives[0].level", 100),
        ("owner", "objectives[0].owner", 200),
    ],
)
def test_text_longer_than_the_store_keeps_is_refused(field: str, location: str, limit: int) -> None:
    """What validation accepts, every store keeps: PostgreSQL's columns have these widths."""
    value = "<b>[x]</b> " + "é" * (limit - 10)  # one character over the limit
    objective_field = f"{field}: '{value}'" if field != "unit" else "level: team"
    kr_field = f"unit: '{value}'" if field == "unit" else "unit: h"
    issue = only_issue(
        f"""\
        version: 1
        period: 2026-Q4
        objectives:
          - id: a
            title: A
            {objective_field}
            key_results:
              - id: k
                title: K
                target: 4
                {kr_field}
                metric: {{type: manual}}
        """
    )
    assert issue.location == location, issue
    assert issue.line == (11 if field == "unit" else 6)
    assert f"at most {limit} characters" in issue.message, issue
    fits = value[:-1]
    doc = load(
        f"""\
        version: 1
        period: 2026-Q4
        objectives:
          - id: a
            title: A
            {objective_field.replace(value, fits)}
            key_results:
              - {{id: k, title: K, target: 4, {kr_field.replace(value, fits)}, metric: {{type: manual}}}}
        """
    )
    objective = doc.objectives[0]
    assert fits in (objective.level, objective.owner, objective.key_results[0].unit)


def test_several_issues_are_all_reported() -> None:
    with pytest.raises(MappingError) as info:
        load(
            """\
            version: 2
            period: 2026-Q4
            objectives:
              - id: a
                title: A
                owner: [x]
            """
        )
    assert [(e.location, e.line) for e in info.value.errors] == [
        ("version", 1),
        ("objectives[0].owner", 6),
    ]
    assert len(str(info.value).splitlines()) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        (
            "- a\n- b\n",
            "the file must be a mapping with version, period and objectives, not a list",
        ),
        (
            "just text\n",
            "the file must be a mapping with version, period and objectives, not a str",
        ),
        ("a: &x [*x]\n", "recursive or too deeply nested YAML aliases"),
    ],
)
def test_unusable_documents(text: str, message: str) -> None:
    with pytest.raises(MappingError) as info:
        load_mapping_text(text, source_name="okrs.yaml", today=TODAY)
    assert [e.message for e in info.value.errors] == [message]
    assert "\n" not in str(info.value)


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(MappingError, match="expands to more than"):
        load_mapping_text("\n".join(lines), source_name="bomb.yaml", today=TODAY)


def test_python_tags_are_not_constructed() -> None:
    with pytest.raises(MappingError, match="YAML syntax error"):
        load_mapping_text(
            "version: !!python/object/apply:os.system ['true']\n",
            source_name="okrs.yaml",
            today=TODAY,
        )


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as info:
        load_mapping(tmp_path / "okrs.yaml")
    assert str(info.value) == f"{tmp_path / 'okrs.yaml'}: file not found"
    with pytest.raises(MappingError, match="is a directory"):
        load_mapping(tmp_path)


def test_load_mapping_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "okrs.yaml"
    path.write_text(DESIGN_EXAMPLE, encoding="utf-8")
    mapping = load_mapping(path, today=TODAY)
    assert mapping.key_result("nps").title == "NPS above 40"
    path.write_bytes(b"version: 1\nperiod: \xff\n")
    with pytest.raises(MappingError, match="not UTF-8"):
        load_mapping(path)


# --- scope and start: period_start (issue 15) -----------------------------------------------


@pytest.mark.parametrize(
    ("metric", "location", "fragment"),
    [
        (
            "{type: count, scope: frozen, jql: 'project = A'}",
            "metric.scope",
            "only percent_done and share metrics take a scope",
        ),
        (
            "{type: sum, field: story_points, scope: live, jql: 'project = A'}",
            "metric.scope",
            "only percent_done and share metrics take a scope",
        ),
        (
            "{type: percent_done, scope: frozn, jql: 'project = A'}",
            "metric.scope",
            "'frozn' is not a scope: use frozen or live (did you mean 'frozen'?)",
        ),
        (
            "{type: share, where: approved, scope: '[b]<i>', pulls: {repo: acme/api}}",
            "metric.scope",
            "'[b]<i>' is not a scope: use frozen or live",
        ),
        ("{type: manual, scope: frozen}", "metric.scope", "not used by a manual metric"),
        (
            "{type: formula, expr: a, inputs: {a: {type: percent_done, scope: frozen, "
            "jql: 'project = A'}}}",
            "metric.inputs.a.scope",
            "a formula's input cannot freeze its scope",
        ),
    ],
)
def test_a_scope_is_checked_where_it_is_written(metric: str, location: str, fragment: str) -> None:
    issue = only_issue(one_metric(metric))
    assert issue.location == f"objectives[0].key_results[0].{location}", issue
    assert fragment in issue.message, issue
    assert issue.line == 10


def test_scope_and_period_start_load() -> None:
    mapping = load(
        one_metric("{type: percent_done, scope: frozen, jql: 'project = A'}").replace(
            "target: 5", "target: 5\n        start: period_start"
        )
    )
    kr = mapping.objectives[0].key_results[0]
    assert kr.start == "period_start"
    assert getattr(kr.metric, "scope", None) == "frozen"
    live = load(one_metric("{type: share, where: approved, pulls: {repo: acme/api}}"))
    assert getattr(live.objectives[0].key_results[0].metric, "scope", None) == "live"


def test_a_manual_key_result_cannot_start_at_the_period_start() -> None:
    issue = only_issue(
        one_metric("{type: manual}").replace("target: 5", "target: 5\n        start: period_start")
    )
    assert issue.location == "objectives[0].key_results[0].start", issue
    assert "a manual key result has none" in issue.message
