"""One loopback HTTP server: Jira under `/jira`, GitHub under `/github`.

The real `jira` and PyGithub clients talk to it exactly as they would to the real services,
so the demo, the tests and the benchmark exercise the real connector code.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import SecretStr
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Response

from sandbox.control import CONTROL_PREFIX, ControlApp, ItemChanger
from sandbox.faults import FaultInjector
from sandbox.github_api import GitHubApp
from sandbox.github_data import GitHubDataset, build_github_dataset
from sandbox.github_timeline import build_timeline_dataset
from sandbox.jira_api import JiraApp
from sandbox.jira_data import JiraDataset, build_jira_dataset
from sandbox.recording import RequestRecorder

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger(__name__)

JiraFlavour = Literal["cloud", "server"]

# Credentials the sandbox accepts. They are fake and printed on purpose.
SANDBOX_JIRA_EMAIL = "demo@example.com"
SANDBOX_JIRA_TOKEN = "sandbox-jira-token"
SANDBOX_GITHUB_TOKEN = "sandbox-github-token"


class QuietRequestHandler(WSGIRequestHandler):
    """One line per request is noise in the demo and the tests: log requests at DEBUG."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s -> %s", self.command, self.path, code)


@dataclass
class SandboxOptions:
    seed: int = 7
    jira_flavour: JiraFlavour = "cloud"
    anchor: datetime | None = None  # "now" of the data set; default: the current time
    latency_s: float = 0.0  # added to every request, for measurement
    search_limit_per_minute: int | None = None  # enforce GitHub's search limit (403 beyond it)
    time_scale: float = 1.0  # > 1 shortens GitHub's rate-limit windows (60 s / time_scale)
    jira_rate_limit_per_s: float | None = None  # Jira answers 429 + Retry-After beyond it
    # Field lists a Cloud search answers with ids alone. As documented, only `id`; a stricter
    # look-alike also reads the `issuekey` the `jira` library sends for "id" that way.
    jira_bare_id_fields: frozenset[str] = frozenset({"id"})
    # > 0: a GitHub listing's later pages come from its first within this many seconds
    # (sandbox/listing_reuse.py), so the benchmark's 400,000-item listings stay linear.
    github_listing_reuse_s: float = 0.0
    # GitHub's data: the generated organisation, or acme/timeline alone, whose items have
    # scripted event logs over a quarter (sandbox/github_timeline.py, for backfill)
    github_data: Literal["generated", "timeline"] = "generated"


@dataclass
class Sandbox:
    """A running sandbox: its URLs, credentials and the data set it serves."""

    options: SandboxOptions
    jira_data: JiraDataset
    github_data: GitHubDataset
    host: str = "127.0.0.1"
    port: int = 0
    jira_app: JiraApp | None = field(default=None, repr=False)
    github_app: GitHubApp | None = field(default=None, repr=False)
    faults: FaultInjector = field(default_factory=FaultInjector, repr=False)  # tests arm faults
    recorder: RequestRecorder = field(  # the requests of a run, for bench/replay.py
        default_factory=lambda: RequestRecorder(ignored_prefix=CONTROL_PREFIX), repr=False
    )
    item_changer: ItemChanger | None = field(default=None, repr=False)  # POST /_sandbox/mutate
    _server: BaseWSGIServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def jira_url(self) -> str:
        return f"{self.url}/jira"

    @property
    def github_url(self) -> str:
        return f"{self.url}/github"

    def settings_env(self) -> dict[str, str]:
        """The settings that point okr-sync at this sandbox, in env-var form."""
        return {
            "OKRSYNC_JIRA__URL": self.jira_url,
            "OKRSYNC_JIRA__EMAIL": SANDBOX_JIRA_EMAIL,
            "OKRSYNC_JIRA__TOKEN": SANDBOX_JIRA_TOKEN,
            "OKRSYNC_JIRA__FLAVOUR": self.options.jira_flavour,
            "OKRSYNC_GITHUB__BASE_URL": self.github_url,
            "OKRSYNC_GITHUB__TOKEN": SANDBOX_GITHUB_TOKEN,
        }

    def jira_settings(self) -> dict[str, object]:
        """Field values for okr-sync's `JiraSettings`."""
        return {
            "url": self.jira_url,
            "email": SANDBOX_JIRA_EMAIL,
            "token": SecretStr(SANDBOX_JIRA_TOKEN),
            "flavour": self.options.jira_flavour,
        }

    def github_settings(self) -> dict[str, object]:
        """Field values for okr-sync's `GitHubSettings`."""
        return {"base_url": self.github_url, "token": SecretStr(SANDBOX_GITHUB_TOKEN)}

    def start(self, port: int = 0) -> Sandbox:
        self.jira_app = JiraApp(
            self.jira_data,
            flavour=self.options.jira_flavour,
            email=SANDBOX_JIRA_EMAIL,
            token=SANDBOX_JIRA_TOKEN,
            latency_s=self.options.latency_s,
            rate_limit_per_s=self.options.jira_rate_limit_per_s,
            bare_id_fields=self.options.jira_bare_id_fields,
        )
        self.github_app = GitHubApp(
            self.github_data,
            token=SANDBOX_GITHUB_TOKEN,
            latency_s=self.options.latency_s,
            search_limit_per_minute=self.options.search_limit_per_minute,
            time_scale=self.options.time_scale,
            listing_reuse_s=self.options.github_listing_reuse_s,
        )
        root = Response("okr-sync sandbox: /jira and /github\n", mimetype="text/plain")
        mounts: dict[str, WSGIApplication] = {
            "/jira": self.jira_app,
            "/github": self.github_app,
            CONTROL_PREFIX: ControlApp(self),  # counts and item changes for the benchmark
        }
        app = DispatcherMiddleware(root, mounts)
        self._server = make_server(
            self.host,
            port,
            self.faults.wrap(self.recorder.wrap(app)),
            threaded=True,
            request_handler=QuietRequestHandler,
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="okrsync-sandbox", daemon=True
        )
        self._thread.start()
        log.info("sandbox serving on %s (jira %s)", self.url, self.options.jira_flavour)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def build_sandbox(
    options: SandboxOptions | None = None,
    *,
    jira_issues: int | None = None,
    jira_projects: int | None = None,
    github_repos: int | None = None,
    github_pulls: int | None = None,
    github_issues: int | None = None,
    history_days: int | None = None,
    github_big_repo_pulls: int | None = None,
    item_changer: ItemChanger | None = None,
) -> Sandbox:
    """Generate the data set (deterministic for a seed and an anchor) without serving it.

    A size left None is the data set generator's own default (a year of history, no big
    repository), which the demo and the tests use.
    """
    options = options or SandboxOptions()
    anchor = options.anchor or datetime.now(UTC).replace(microsecond=0)
    options.anchor = anchor
    jira_size = {"n_issues": jira_issues, "n_projects": jira_projects, "history_days": history_days}
    github_size = {
        "n_repos": github_repos,
        "n_pulls": github_pulls,
        "n_issues": github_issues,
        "history_days": history_days,
        "big_repo_closed_pulls": github_big_repo_pulls,
    }
    return Sandbox(
        options=options,
        jira_data=build_jira_dataset(
            seed=options.seed,
            anchor=anchor,
            **{name: size for name, size in jira_size.items() if size is not None},
        ),
        github_data=(
            build_timeline_dataset(seed=options.seed, anchor=anchor)
            if options.github_data == "timeline"
            else build_github_dataset(
                seed=options.seed,
                anchor=anchor,
                **{name: size for name, size in github_size.items() if size is not None},
            )
        ),
        item_changer=item_changer,
    )
