"""A generated company's OKRs: key results over every Jira project and GitHub repository.

Like a real company's, most key results ask a query of their own, and some read the same team
query with different metrics (points delivered, lead time, how many): one to three key
results a query, so planning and caching have something to share without being flattered.
A few company-wide ones use GitHub searches and a formula, and the monorepo's key results
read its open pull requests and this period's merges under years of closed ones.
"""

from __future__ import annotations

from datetime import date

import yaml


def _jira_team(project: str) -> list[dict[str, object]]:
    """Twelve key results on eight queries: five read by one key result, the others by two
    or three (a team's dashboard shares a few queries; most key results ask their own)."""
    done = f'project = {project} AND statusCategory = Done AND resolved >= "{{period.start}}"'
    stories_done = (
        f"project = {project} AND type = Story AND statusCategory = Done "
        f'AND resolved >= "{{period.start}}"'
    )
    new = f'project = {project} AND created >= "{{period.start}}"'
    backlog = f"project = {project} AND statusCategory != Done"
    urgent_backlog = f"{backlog} AND priority in (Highest, High)"
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
            "title": "p90 lead time of stories",
            "start": 1500,
            "target": 500,
            "unit": "h",
            "metric": {"type": "p90", "field": "lead_time_hours", "jql": stories_done},
        },
        {
            "title": "New work done",
            "target": 80,
            "unit": "%",
            "metric": {"type": "percent_done", "jql": new},
        },
        {
            "title": "Backlog age",
            "start": 120,
            "target": 60,
            "unit": "d",
            "metric": {"type": "mean", "field": "age_days", "jql": backlog},
        },
        {
            "title": "Urgent backlog points",
            "start": 300,
            "target": 100,
            "metric": {"type": "sum", "field": "story_points", "jql": urgent_backlog},
        },
        {
            "title": "Bug cycle time",
            "start": 300,
            "target": 100,
            "unit": "h",
            "metric": {"type": "mean", "field": "cycle_time_hours", "jql": bugs},
        },
        {"title": "Work items done", "target": 500, "metric": {"type": "count", "jql": done}},
        {
            "title": "Big items among new work",
            "target": 20,
            "unit": "%",
            "metric": {"type": "share", "where": "story_points >= 5", "jql": new},
        },
        {
            "title": "Stale backlog share",
            "start": 60,
            "target": 30,
            "unit": "%",
            "metric": {"type": "share", "where": "age_days > 90", "jql": backlog},
        },
    ]


def _github_team(repo: str) -> list[dict[str, object]]:
    """Nine key results on five listings: two read by one key result, three shared."""
    merged = {"repo": repo, "merged": "period"}
    bug_fixes = {"repo": repo, "merged": "period", "labels": ["bug"]}
    open_pulls = {"repo": repo, "state": "open"}
    new_issues = {"repo": repo, "created": "period"}
    customer_issues = {"repo": repo, "state": "open", "labels": ["customer"]}
    return [
        {
            "title": "Median PR lead time",
            "start": 72,
            "target": 24,
            "unit": "h",
            "metric": {"type": "median", "field": "lead_time_hours", "pulls": merged},
        },
        {
            "title": "p90 lead time of bug fixes",
            "start": 300,
            "target": 96,
            "unit": "h",
            "metric": {"type": "p90", "field": "lead_time_hours", "pulls": bug_fixes},
        },
        {"title": "PRs merged", "target": 200, "metric": {"type": "count", "pulls": merged}},
        {
            "title": "Open PR age",
            "start": 30,
            "target": 7,
            "unit": "d",
            "metric": {"type": "mean", "field": "age_days", "pulls": open_pulls},
        },
        {
            "title": "New issues closed",
            "target": 70,
            "unit": "%",
            "metric": {"type": "percent_done", "issues": new_issues},
        },
        {
            "title": "Open customer issues",
            "start": 10,
            "target": 2,
            "metric": {"type": "count", "issues": customer_issues},
        },
        {
            "title": "PRs merged within two days",
            "target": 80,
            "unit": "%",
            "metric": {"type": "share", "where": "lead_time_hours <= 48", "pulls": merged},
        },
        {
            "title": "Open PRs",
            "start": 40,
            "target": 10,
            "metric": {"type": "count", "pulls": open_pulls},
        },
        {"title": "Issues opened", "target": 50, "metric": {"type": "count", "issues": new_issues}},
    ]


def _big_repo(repo: str) -> list[dict[str, object]]:
    """The monorepo: years of closed pull requests under a few open ones and this period's."""
    open_pulls = {"repo": repo, "state": "open"}
    merged = {"repo": repo, "merged": "period"}
    return [
        {
            "title": "Open pull requests",
            "start": 1200,
            "target": 300,
            "metric": {"type": "count", "pulls": open_pulls},
        },
        {
            "title": "PRs merged",
            "target": 2000,
            "metric": {"type": "count", "pulls": merged},
        },
        {
            "title": "Open PR age",
            "start": 400,
            "target": 30,
            "unit": "d",
            "metric": {"type": "mean", "field": "age_days", "pulls": open_pulls},
        },
        {
            "title": "Median PR lead time",
            "start": 72,
            "target": 24,
            "unit": "h",
            "metric": {"type": "median", "field": "lead_time_hours", "pulls": merged},
        },
        {
            "title": "Stale open PRs",
            "start": 90,
            "target": 20,
            "unit": "%",
            "metric": {"type": "share", "where": "age_days > 90", "pulls": open_pulls},
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
    projects: list[str],
    repos: list[str],
    *,
    org: str,
    start: date,
    end: date,
    key_results: int,
    big_repo: str | None = None,
) -> str:
    """The mapping file (YAML) of a company with `key_results` key results: every pool
    gives its first key result, then its second, and so on, until there are enough."""
    groups: list[tuple[str, str, list[dict[str, object]]]] = [
        (f"team-{p.lower()}", f"Team {p} delivers", _jira_team(p)) for p in projects
    ]
    groups += [(f"repo-{r.split('/')[-1]}", f"{r} ships smoothly", _github_team(r)) for r in repos]
    if big_repo is not None:
        name = big_repo.split("/")[-1]
        groups.append((f"repo-{name}", f"{big_repo} keeps moving", _big_repo(big_repo)))
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
