"""Field names in `field`, `where` and formula inputs are checked against their source's items."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import NUMERIC_FIELDS, SOURCE_FIELDS
from sync.cli import main
from tests.config.test_mapping import load, one_metric, only_issue


@pytest.mark.parametrize(
    ("metric", "location", "message"),
    [
        (
            "{type: share, where: 'approvals >= 1', pulls: {repo: acme/api}}",
            "metric.where",
            "'approvals' is not a field of GitHub items (did you mean 'approved'?)",
        ),
        (
            "{type: share, where: reviewed, search: 'repo:acme/api is:pr'}",
            "metric.where",
            "'reviewed' is not a field of GitHub items: use one of age_days, approved, assignee, "
            "author, base, container, cycle_time_hours, draft, kind, labels, lead_time_hours, "
            "review_time_hours, status, status_category, title",
        ),
        (
            "{type: median, field: leadtime, pulls: {repo: acme/api, state: merged}}",
            "metric.field",
            "'leadtime' is not a field of GitHub items (did you mean 'lead_time_hours'?)",
        ),
        (
            "{type: sum, field: story_points, issues: {repo: acme/api}}",
            "metric.field",
            "'story_points' is not a field of GitHub items",
        ),
        (
            "{type: share, where: approved, issues: {repo: acme/api}}",
            "metric.where",
            "'approved' is a field of pull requests: issues never have it (use pulls)",
        ),
        (
            "{type: mean, field: cycle_time_hours, issues: {repo: acme/api, state: closed}}",
            "metric.field",
            "'cycle_time_hours' is a field of pull requests: issues never have it (use pulls)",
        ),
        (
            "{type: median, field: leadtime, jql: project = APP}",
            "metric.field",
            "'leadtime' is not a field of Jira items (did you mean 'lead_time_hours'? "
            "a Jira field of this name can be named by its id, customfield_NNNNN)",
        ),
        (
            "{type: share, where: 'review_time_hours < 24', jql: project = APP}",
            "metric.where",
            "'review_time_hours' is not a field of Jira items",
        ),
        (
            "{type: mean, field: title, jql: project = APP}",
            "metric.field",
            "'title' is not a number: use one of age_days, cycle_time_hours, lead_time_hours, "
            "story_points",
        ),
        (
            "{type: formula, expr: 100 * a, inputs: {a: {type: share, where: 'approvd', "
            "search: 'repo:acme/api is:pr'}}}",
            "metric.inputs.a.where",
            "'approvd' is not a field of GitHub items (did you mean 'approved'?)",
        ),
    ],
)
def test_unknown_field_names_are_refused_where_written(
    metric: str, location: str, message: str
) -> None:
    issue = only_issue(one_metric(metric))
    assert issue.location == f"objectives[0].key_results[0].{location}"
    assert issue.line == 10
    assert issue.message.startswith(message)


@pytest.mark.parametrize("source", sorted(SOURCE_FIELDS))
def test_every_field_a_source_provides_loads(source: str) -> None:
    selector = "jql: project = APP" if source == "jira" else "pulls: {repo: acme/api}"
    names = sorted(SOURCE_FIELDS[source])
    where = " or ".join(f"{name} != None" for name in names)
    metrics = [f"{{type: share, where: '{where}', {selector}}}"]
    metrics += [
        f"{{type: mean, field: {name}, {selector}}}"
        for name in sorted(NUMERIC_FIELDS & SOURCE_FIELDS[source])
    ]
    for metric in metrics:
        load(one_metric(metric))


@pytest.mark.parametrize("name", ["Business Value", "customfield_10050", "Severity"])
def test_jira_site_fields_are_left_to_the_server(name: str) -> None:
    loaded = load(one_metric(f"{{type: sum, field: '{name}', jql: project = APP}}"))
    assert loaded.key_result("k").metric.field == name


def test_validate_exits_2_on_an_unknown_field(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clean_okrsync_env: None,
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "okrs.yaml"
    path.write_text(one_metric("{type: share, where: 'approvals >= 1', pulls: {repo: acme/api}}"))
    assert main(["validate", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:10: objectives[0].key_results[0].metric.where: 'approvals'" in err
    assert "Traceback" not in err
