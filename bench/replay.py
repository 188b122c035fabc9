"""Replay a run's requests with a client that only fetches and decodes them.

The floor counts latency alone, as if the sandbox answered and the HTTP stack ran for free.
On a small machine neither is free: the sandbox renders every page in Python and shares the
cores with the process under test. Replaying the very requests of okr-sync's first run, in
the same chains (a page that needs the previous page's token waits for it), at the same
per-tracker concurrency, with plain `requests` sessions and `response.json()` and nothing
else, measures what moving those pages costs here before any client does anything with
them; the first run's wall time over the replay's is okr-sync's own overhead.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests

from sandbox.recording import RecordedRequest

JIRA_PREFIX = "/jira"
TOKEN_PARAM = "nextPageToken"


@dataclass
class Chain:
    """Requests that must follow one another (pages of one listing), in recorded order."""

    tracker: str
    requests: list[RecordedRequest] = field(default_factory=list)


def chains_of(recorded: list[RecordedRequest]) -> list[Chain]:
    """Group recorded requests by chain, in order of first arrival."""
    chains: dict[str, Chain] = {}
    for position, request in enumerate(recorded):
        tracker = "jira" if request.path.startswith(JIRA_PREFIX) else "github"
        key = request.chain if request.chain is not None else f"#{position}"
        chains.setdefault(key, Chain(tracker)).requests.append(request)
    return list(chains.values())


class ReplayError(RuntimeError):
    """The sandbox did not answer a replayed request as it answered the run."""


@dataclass(frozen=True)
class Credentials:
    jira_email: str
    jira_token: str
    github_token: str


def replay(
    base_url: str,
    recorded: list[RecordedRequest],
    *,
    concurrency: Mapping[str, int],
    credentials: Credentials,
) -> dict[str, int]:
    """Send the recorded requests again; requests sent per tracker."""
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        made: requests.Session = local.session
        return made

    def send(request: RecordedRequest, tracker: str, query: str) -> Any:
        headers = {"Accept": "application/json"}
        auth: tuple[str, str] | None = None
        if tracker == "jira":
            auth = (credentials.jira_email, credentials.jira_token)
        else:
            headers["Authorization"] = f"token {credentials.github_token}"
        if request.content_type:
            headers["Content-Type"] = request.content_type
        url = f"{base_url}{request.path}" + (f"?{query}" if query else "")
        response = session().request(
            request.method,
            url,
            data=request.body.encode() or None,
            headers=headers,
            auth=auth,
            timeout=60,
        )
        if response.status_code >= 400:
            raise ReplayError(f"{request.method} {request.path}: {response.status_code}")
        return response.json()

    def run_chain(chain: Chain) -> None:
        token: str | None = None
        for request in chain.requests:
            query = request.query
            if token is not None:  # this run's snapshot, not the recorded run's
                pairs = [(k, v) for k, v in parse_qsl(query) if k != TOKEN_PARAM]
                query = urlencode([*pairs, (TOKEN_PARAM, token)])
            body = send(request, chain.tracker, query)
            token = body.get(TOKEN_PARAM) if isinstance(body, dict) else None

    chains = chains_of(recorded)
    pools = {
        tracker: ThreadPoolExecutor(max_workers=max(1, concurrency.get(tracker, 1)))
        for tracker in {chain.tracker for chain in chains}
    }
    try:
        futures = [pools[chain.tracker].submit(run_chain, chain) for chain in chains]
        for future in futures:
            future.result()
    finally:
        for pool in pools.values():
            pool.shutdown(wait=True)
    sent = {"jira": 0, "github": 0}
    for chain in chains:
        sent[chain.tracker] += len(chain.requests)
    return sent
