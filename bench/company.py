"""A generated company's OKRs: key results over every Jira project and GitHub repository.

Like a real company's, many key results read the same team query with different metrics
(points delivered, lead time, its p90, how many), so planning and caching have something to
share, and a few company-wide ones use GitHub searches and a formula.
"""

from __future__ import annotations

from datetime import date

import yaml


def _jira_team(project: str) -> list[dict[str, object]]:
    done = f'project = {project} AND statusCategory = Done AND resolved >= "{{period.start}}"'
    new = f'project = {project} AND created >= "{{period.start}}"'
    backlog = f"project = {project} AND statusCategory != Done"
    bugs = f'project = {project} AND type = Bug AND resolved >= "{{period.start}}"'
    p1 = f"project = {project} AND priority = Highest AND statusCategory != Done"
    reported = f'project = {project} AND type = Bug AND created >= "{{period.start}}"'
    return [
        {"title": "Open P1 bugs", "start": 20, "target": 0, "metric": {"type": "count", "jql": p1}},
        {"title": "Bugs reported", "target": 10, "metric": {"type": "count", "jql": reported}},
        {
            "title": "Story points delivered",
            "target": 800,
            "metric": {"type": "sum", "field": "story_points", "jql": done},
        },
        {
            "title": "Median lead time",
            "start": 400,
            "target": 100,
            "unit": "h",
            "metric": {"type": "median", "field": "lead_time_hours", "jql": done},
        },
        {
            "title": "p90 lead time",
            "start": 1500,
            "target": 500,
            "unit": "h",
            "metric": {"type": "p90", "field": "lead_time_hours", "jql": done},
        },
        {"title": "Work items done", "target": 500, "metric": {"type": "count", "jql": done}},
        {
            "title": "New work done",
            "target": 80,
            "unit": "%",
            "metric": {"type": "percent_done", "jql": new},
        },
        {
            "title": "Big items among new work",
            "target": 20,
            "unit": "%",
            "metric": {"type": "share", "where": "story_points >= 5", "jql": new},
        },
        {
            "title": "Backlog age",
            "start": 120,
            "target": 60,
            "unit": "d",
            "metric": {"type": "mean", "field": "age_days", "jql": backlog},
        },
        {
            "title": "Backlog points",
            "start": 3000,
            "target": 1500,
            "metric": {"type": "sum", "field": "story_points", "jql": backlog},
        },
        {
            "title": "Stale backlog share",
            "start": 60,
            "target": 30,
            "unit": "%",
            "metric": {"type": "share", "where": "age_days > 90", "jql": backlog},
        },
        {
            "title": "Bug cycle time",
            "start": 300,
            "target": 100,
            "unit": "h",
            "metric": {"type": "mean", "field": "cycle_time_hours", "jql": bugs},
        },
    ]


def _github_team(repo: str) -> list[dict[str, object]]:
    merged = {"repo": repo, "merged": "period"}
    open_pulls = {"repo": repo, "state": "open"}
    new_issues = {"repo": repo, "created": "period"}
    return [
        {
            "title": "Median PR lead time",
            "start": 72,
            "target": 24,
            "unit": "h",
            "metric": {"type": "median", "field": "lead_time_hours", "pulls": merged},
        },
        {
            "title": "p90 PR lead time",
            "start": 300,
            "target": 96,
            "unit": "h",
            "metric": {"type": "p90", "field": "lead_time_hours", "pulls": merged},
        },
        {"title": "PRs merged", "target": 200, "metric": {"type": "count", "pulls": merged}},
        {
            "title": "PRs merged within two days",
            "target": 80,
            "unit": "%",
            "metric": {"type": "share", "where": "lead_time_hours <= 48", "pulls": merged},
        },
        {
            "title": "Open PR age",
            "start": 30,
            "target": 7,
            "unit": "d",
            "metric": {"type": "mean", "field": "age_days", "pulls": open_pulls},
        },
        {
            "title": "Open PRs",
            "start": 40,
            "target": 10,
            "metric": {"type": "count", "pulls": open_pulls},
        },
        {
            "title": "New issues closed",
            "target": 70,
            "unit": "%",
            "metric": {"type": "percent_done", "issues": new_issues},
        },
        {"title": "Issues opened", "target": 50, "metric": {"type": "count", "issues": new_issues}},
        {
            "title": "Age of new issues",
            "start": 20,
            "target": 5,
            "unit": "d",
            "metric": {"type": "mean", "field": "age_days", "issues": new_issues},
        },
    ]


def _company(org: str) -> list[dict[str, object]]:
    merged = f"org:{org} is:pr is:merged merged:{{period}}"
    searches = [
        ("Open security issues", f"org:{org} is:issue is:open label:security"),
        ("Open customer bugs", f"org:{org} is:issue is:open label:bug label:customer"),
        (
            "Performance work merged",
            f"org:{org} is:pr is:merged label:performance merged:{{period}}",
        ),
        ("Docs PRs merged", f"org:{org} is:pr is:merged label:docs merged:{{period}}"),
    ]
    krs: list[dict[str, object]] = [
        {
            "title": "PRs approved before merge",
            "target": 90,
            "unit": "%",
            "metric": {
                "type": "formula",
                "expr": "100 * approved / merged",
                "inputs": {
                    "approved": {"type": "count", "search": f"{merged} review:approved"},
                    "merged": {"type": "count", "search": merged},
                },
            },
        },
        {
            "title": "PRs merged company-wide",
            "target": 2000,
            "metric": {"type": "count", "search": merged},
        },
    ]
    krs += [
        {"title": title, "start": 50, "target": 10, "metric": {"type": "count", "search": query}}
        for title, query in searches
    ]
    krs += [
        {
            "title": "Open P1 bugs company-wide",
            "start": 100,
            "target": 10,
            "metric": {
                "type": "count",
                "jql": "type = Bug AND priority = Highest AND statusCategory != Done",
            },
        },
        {
            "title": "Security work done",
            "target": 90,
            "unit": "%",
            "metric": {
                "type": "percent_done",
                "jql": 'labels = security AND created >= "{period.start}"',
            },
        },
    ]
    return krs


def company_mapping(
    projects: list[str], repos: list[str], *, org: str, start: date, end: date, key_results: int
) -> str:
    """The mapping file (YAML) of a company with `key_results` key results."""
    groups: list[tuple[str, str, list[dict[str, object]]]] = [
        (f"team-{p.lower()}", f"Team {p} delivers", _jira_team(p)) for p in projects
    ]
    groups += [(f"repo-{r.split('/')[-1]}", f"{r} ships smoothly", _github_team(r)) for r in repos]
    company = _company(org)
    objectives: list[dict[str, object]] = [
        {
            "id": "company",
            "title": "A product customers trust",
            "level": "company",
            "key_results": [],
        }
    ]
    pools = [company] + [krs for _, _, krs in groups]
    for objective_id, title, _ in groups:
        objectives.append(
            {
                "id": objective_id,
                "title": title,
                "level": "team",
                "parent": "company",
                "key_results": [],
            }
        )
    made = 0
    depth = 0
    while made < key_results:
        progressed = False
        for index, pool in enumerate(pools):
            if depth < len(pool) and made < key_results:
                kr = dict(pool[depth])
                owner = objectives[index]
                kr_list = owner["key_results"]
                assert isinstance(kr_list, list)
                kr["id"] = f"{owner['id']}-{depth + 1}"
                kr_list.append(kr)
                made += 1
                progressed = True
        if not progressed:
            raise ValueError(f"this company has only {made} key results, not {key_results}")
        depth += 1
    document = {
        "version": 1,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "objectives": [o for o in objectives if o["key_results"]],
    }
    return yaml.safe_dump(document, sort_keys=False, width=200)
