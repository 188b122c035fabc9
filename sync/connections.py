"""The connectors a run reads: one per tracker the plan needs, built from the settings, each
with its own rate governor; a tracker that cannot be used is kept as its error, which costs
only the key results that read it."""

from __future__ import annotations

import logging

from config.settings import Settings
from connectors.base import Connector, ConnectorError
from connectors.ratelimit import RateGovernor

log = logging.getLogger(__name__)


def build_connectors(
    settings: Settings, sources: set[str]
) -> dict[str, Connector | ConnectorError]:
    """Connect to each tracker the plan needs; an unusable one is kept as its error."""
    connectors: dict[str, Connector | ConnectorError] = {}
    for source in sorted(sources):
        try:
            connectors[source] = _connect(settings, source)
        except ConnectorError as exc:
            # DEBUG: each key result it costs is reported with this error, once
            log.debug("cannot use %s: %s", source, exc)
            connectors[source] = exc
    return connectors


def _connect(settings: Settings, source: str) -> Connector:
    if source == "jira":
        from connectors.jira import JiraConnector

        jira = settings.jira
        if not jira.url or jira.token is None:
            raise ConnectorError(
                "Jira is not configured: set OKRSYNC_JIRA__URL and OKRSYNC_JIRA__TOKEN "
                "(and OKRSYNC_JIRA__EMAIL for Jira Cloud)"
            )
        return JiraConnector(
            jira.url,
            email=jira.email,
            token=jira.token,
            flavour=jira.flavour,
            timeout=(min(10.0, jira.timeout_s), jira.timeout_s),
            story_points_field=jira.story_points_field,
            governor=RateGovernor("jira", budget_s=settings.incremental.rate_wait_budget_s),
        )
    from connectors.github import GitHubConnector

    github = settings.github
    return GitHubConnector(
        base_url=github.base_url,
        token=github.token,
        timeout=github.timeout_s,
        governor=RateGovernor("github", budget_s=settings.incremental.rate_wait_budget_s),
    )
