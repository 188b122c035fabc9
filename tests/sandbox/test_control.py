"""The `/_sandbox` control routes: counts, their reset, the process's RSS and item changes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import pytest

from bench.changes import touch_items
from sandbox.server import Sandbox, SandboxOptions, build_sandbox

ANCHOR = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _box(*, with_changer: bool) -> Sandbox:
    return build_sandbox(
        SandboxOptions(seed=3, anchor=ANCHOR),
        jira_issues=200,
        jira_projects=2,
        github_repos=2,
        github_pulls=40,
        github_issues=20,
        item_changer=(lambda box, f, s: asdict(touch_items(box, f, seed=s)))
        if with_changer
        else None,
    )


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with _box(with_changer=True).start() as running:
        yield running


def _call(url: str, method: str = "GET", body: object = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_counts_are_read_and_reset_over_http(box: Sandbox) -> None:
    headers = {"Authorization": "Bearer sandbox-github-token"}
    for _ in range(3):
        request = urllib.request.Request(f"{box.github_url}/rate_limit", headers=headers)
        urllib.request.urlopen(request, timeout=10).close()
    status, counts = _call(f"{box.url}/_sandbox/requests")
    assert status == 200
    assert counts["github"] == {"rate_limit": 3}
    assert counts["jira"] == {}
    assert _call(f"{box.url}/_sandbox/reset-counts", "POST", {})[0] == 200
    assert _call(f"{box.url}/_sandbox/requests")[1] == {"jira": {}, "github": {}}


def test_mutate_changes_the_served_items(box: Sandbox) -> None:
    issues = len(box.jira_data.issues)
    github_items = len(box.github_data.all_items)
    status, changed = _call(f"{box.url}/_sandbox/mutate", "POST", {"fraction": 0.1, "seed": 2})
    assert status == 200
    assert changed == {"jira": round(issues * 0.1), "github": round(github_items * 0.1)}
    newest = max(issue.updated for issue in box.jira_data.issues)
    assert newest > ANCHOR  # the changed issues were updated now, after the data set's end


def test_mutate_rejects_bad_input_and_a_missing_changer(box: Sandbox) -> None:
    url = f"{box.url}/_sandbox/mutate"
    assert _call(url, "POST", {"fraction": 2})[0] == 400
    assert _call(url, "POST", {"seed": 1})[0] == 400
    assert _call(f"{box.url}/_sandbox/nothing-here")[0] == 404
    with _box(with_changer=False).start() as bare:
        assert _call(f"{bare.url}/_sandbox/mutate", "POST", {"fraction": 0.1})[0] == 404


def test_process_reports_its_own_peak_rss_and_cpu(box: Sandbox) -> None:
    status, process = _call(f"{box.url}/_sandbox/process")
    assert status == 200
    assert process["peak_rss_mb"] > 0 and isinstance(process["pid"], int)
    assert process["cpu_s"] > 0  # this test process is the sandbox's: it built the data set
