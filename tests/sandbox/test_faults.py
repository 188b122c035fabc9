"""The sandbox's fault injection, seen from a plain HTTP client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sandbox import faults
from sandbox.server import SANDBOX_GITHUB_TOKEN, Sandbox

AUTH = {"Authorization": f"token {SANDBOX_GITHUB_TOKEN}"}


@pytest.fixture
def box(sandbox: Sandbox) -> Iterator[Sandbox]:
    sandbox.faults.reset()
    yield sandbox
    sandbox.faults.reset()


def pulls(box: Sandbox, page: int, state: str = "closed") -> requests.Response:
    return requests.get(
        f"{box.github_url}/repos/acme/api/pulls",
        params={"state": state, "per_page": 5, "page": page},
        headers=AUTH,
        timeout=5,
    )


def test_an_error_fires_the_armed_number_of_times_then_passes(box: Sandbox) -> None:
    box.faults.arm("/github/repos/", faults.http_error(503, retry_after=7), times=2)
    first, second, third = (pulls(box, 1) for _ in range(3))
    assert first.status_code == second.status_code == 503
    assert first.headers["Retry-After"] == "7"
    assert third.status_code == 200
    assert box.faults.fired == 2


def test_only_matching_paths_and_parameters_are_hit(box: Sandbox) -> None:
    box.faults.arm("/github/repos/", faults.http_error(500), times=None, query="state=open")
    assert pulls(box, 1, state="closed").status_code == 200
    assert requests.get(f"{box.github_url}/rate_limit", headers=AUTH, timeout=5).ok
    assert pulls(box, 1, state="open").status_code == 500
    box.faults.reset()
    assert pulls(box, 1, state="open").status_code == 200


def test_rate_limits_say_when_to_come_back(box: Sandbox) -> None:
    box.faults.arm("/github/", faults.github_secondary_limit(30))
    box.faults.arm("/github/", faults.rate_limited(2))
    secondary, limited = pulls(box, 1), pulls(box, 1)
    assert secondary.status_code == 403 and secondary.headers["Retry-After"] == "30"
    assert "secondary rate limit" in secondary.json()["message"]
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"


def test_reset_drops_the_connection_without_an_answer(box: Sandbox) -> None:
    box.faults.arm("/github/", faults.connection_reset())
    with pytest.raises(requests.ConnectionError):
        pulls(box, 1)
    assert pulls(box, 1).ok


def test_latency_beyond_the_read_timeout_is_a_timeout(box: Sandbox) -> None:
    box.faults.arm("/github/", faults.latency(1.0))
    with pytest.raises(requests.Timeout):
        requests.get(f"{box.github_url}/rate_limit", headers=AUTH, timeout=0.3)


def test_malformed_and_truncated_bodies(box: Sandbox) -> None:
    box.faults.arm("/github/", faults.malformed_json())
    malformed = pulls(box, 1)
    assert malformed.status_code == 200
    with pytest.raises(ValueError):
        malformed.json()
    box.faults.arm("/github/", faults.truncated_page())
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        pulls(box, 1)


def test_shifted_page_repeats_the_previous_pages_last_item(box: Sandbox) -> None:
    clean = [[p["number"] for p in pulls(box, n).json()] for n in (1, 2)]
    box.faults.arm("/github/repos/", faults.shifted_page(), times=None)
    first = [p["number"] for p in pulls(box, 1).json()]
    second = [p["number"] for p in pulls(box, 2).json()]
    assert first == clean[0]
    assert second == [clean[0][-1], *clean[1]]
    box.faults.reset()
    reference = [p["number"] for p in pulls(box, 1, state="open").json()]
    box.faults.arm("/github/repos/", faults.shifted_page(), times=None)
    pulls(box, 1)  # the closed listing's first page: nothing to carry into another listing
    assert [p["number"] for p in pulls(box, 1, state="open").json()] == reference


def test_echoed_headers_carry_the_credentials(box: Sandbox) -> None:
    box.faults.arm("/github/", faults.echo_headers(500))
    answer = pulls(box, 1)
    assert answer.status_code == 500
    assert SANDBOX_GITHUB_TOKEN in answer.text


@pytest.mark.parametrize(
    ("fault", "status", "text"),
    [
        (faults.bad_credentials("github"), 401, "Bad credentials"),
        (faults.not_found("github"), 404, "Not Found"),
        (faults.jql_error("Field 'x' does not exist"), 400, "Field 'x' does not exist"),
    ],
)
def test_tracker_error_bodies(box: Sandbox, fault: faults.Fault, status: int, text: str) -> None:
    box.faults.arm("/github/", fault)
    answer = pulls(box, 1)
    assert answer.status_code == status
    assert text in answer.text
