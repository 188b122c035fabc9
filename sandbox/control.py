"""Control routes under `/_sandbox`: let a benchmark in another process read and steer the sandbox.

The benchmark runs the sandbox in a process of its own, so that the process it measures
holds only okr-sync; these routes carry across the process boundary what it used to read
from memory: the request counts per endpoint, their reset, the sandbox's own peak RSS and
CPU time, a change of a share of the items between two runs, and the requests of a run,
recorded for a replay (sandbox/recording.py). The prefix lies outside `/jira` and `/github`,
so it can never shadow a tracker path.
"""

from __future__ import annotations

import json
import os
import resource
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from sandbox.server import Sandbox

CONTROL_PREFIX = "/_sandbox"

# Changes `fraction` of the items (seeded) and says how many per tracker, e.g. {"jira": 200}.
ItemChanger = Callable[["Sandbox", float, int], dict[str, int]]

_ROUTES = Map(
    [
        Rule("/requests", endpoint="requests", methods=["GET"]),
        Rule("/reset-counts", endpoint="reset_counts", methods=["POST"]),
        Rule("/process", endpoint="process", methods=["GET"]),
        Rule("/mutate", endpoint="mutate", methods=["POST"]),
        Rule("/record", endpoint="record", methods=["POST"]),
        Rule("/recorded", endpoint="recorded", methods=["GET"]),
    ]
)


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


class ControlApp:
    """WSGI app for `/_sandbox/*`; reads the sandbox's apps at request time (they start later)."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, _ = _ROUTES.bind_to_environ(environ).match()
        except HTTPException as exc:
            response: Response = _json({"message": exc.description}, exc.code or 404)
        else:
            response = getattr(self, f"_{endpoint}")(request)
        return response(environ, start_response)

    def _requests(self, request: Request) -> Response:
        """Requests per endpoint and tracker since the last reset."""
        jira, github = self.box.jira_app, self.box.github_app
        return _json(
            {
                "jira": dict(jira.requests) if jira is not None else {},
                "github": dict(github.requests) if github is not None else {},
            }
        )

    def _reset_counts(self, request: Request) -> Response:
        for app in (self.box.jira_app, self.box.github_app):
            if app is not None:
                app.reset_counts()
        return _json({"reset": True})

    def _process(self, request: Request) -> Response:
        """The sandbox process's id, lifetime peak RSS (Linux: ru_maxrss in KiB) and CPU time."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return _json(
            {
                "pid": os.getpid(),
                "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
                "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            }
        )

    def _mutate(self, request: Request) -> Response:
        """Body `{"fraction": 0.01, "seed": 7}`: change that share of the items, say how many."""
        changer = self.box.item_changer
        if changer is None:
            return _json({"message": "this sandbox was started without an item changer"}, 404)
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
            fraction = float(body["fraction"])
            seed = int(body.get("seed", 1))
        except (ValueError, KeyError, TypeError) as exc:
            return _json({"message": f"expected {{'fraction': float, 'seed': int}}: {exc}"}, 400)
        if not 0 <= fraction <= 1:
            return _json({"message": "fraction must lie between 0 and 1"}, 400)
        return _json(changer(self.box, fraction, seed))

    def _record(self, request: Request) -> Response:
        """Record the trackers' requests from now on (forgetting any earlier recording)."""
        self.box.recorder.start()
        return _json({"recording": True})

    def _recorded(self, request: Request) -> Response:
        """Stop recording; the requests recorded, in arrival order."""
        return _json([recorded.as_json() for recorded in self.box.recorder.take()])
