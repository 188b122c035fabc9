"""The dashboard as a WSGI application (Werkzeug): pages, SVG charts, JSON API, OpenAPI.

Read-only by construction: only GET and HEAD are routed. Every failure becomes a 4xx/5xx page
or JSON error; no traceback, secret or file path ever reaches a response.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    UnprocessableEntity,
)
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from config.periods import PeriodError
from config.settings import Settings
from sync.charts import chart_for
from sync.dashboard.api import (
    key_result_document,
    runs_document,
)
from sync.dashboard.openapi import openapi_document
from sync.dashboard.query_args import int_arg, query_arg, tree_filter
from sync.documents import Error, ErrorDetail, objectives_document
from sync.namespace_documents import namespaces_document
from sync.namespace_standing import namespace_standings
from sync.organization import EVERY_NAMESPACE, organization_document, organization_tree
from sync.presentation import scope_changes, scope_summary
from sync.rendering import render
from sync.standing import (
    ObjectiveInTree,
    UnknownCycle,
    cycles_held,
    key_result_detail,
    objective_tree,
    shown_in,
)
from sync.store import Store
from sync.store_errors import StoreError

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

# A request that waited `busy_wait_s` in vain is told to come back this much later.
RETRY_AFTER_S = 5


class DashboardApp:
    """Routes requests to views; one instance per store. At most `max_concurrent` requests
    are answered at once: the store's pool is sized to match (`serve`), so a burst gets a
    clean 503 with Retry-After instead of waiting on, then failing for, a connection."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self._turns = threading.BoundedSemaphore(settings.dashboard.max_concurrent)
        self._busy_wait_s = settings.dashboard.busy_wait_s
        token = settings.dashboard.token
        self._token = None if token is None else token.get_secret_value().encode()
        self.url_map = Map(
            [
                Rule("/", endpoint="tree"),
                Rule("/key-results/<kr_id>", endpoint="key_result"),
                Rule("/runs", endpoint="runs"),
                Rule("/namespaces", endpoint="namespaces"),
                Rule("/api/objectives", endpoint="api_objectives"),
                Rule("/api/key-results/<kr_id>", endpoint="api_key_result"),
                Rule("/api/runs", endpoint="api_runs"),
                Rule("/api/namespaces", endpoint="api_namespaces"),
                Rule("/openapi.json", endpoint="openapi"),
            ],
            strict_slashes=False,
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        if self._turns.acquire(timeout=self._busy_wait_s):
            try:
                response = self.respond(request)
            finally:
                self._turns.release()
        else:
            response = self.busy(request)
        response.headers.update(SECURITY_HEADERS)
        return response(environ, start_response)

    def busy(self, request: Request) -> Response:
        """503 for a request that found every turn taken; it is logged at DEBUG only."""
        log.debug("dashboard: busy, %s %s told to retry", request.method, request.path)
        is_api = request.path.startswith(("/api/", "/openapi.json"))
        message = (
            f"the dashboard is answering as many requests as it may; try again in {RETRY_AFTER_S} s"
        )
        response = self.error(request, 503, message, is_api)
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    def respond(self, request: Request) -> Response:
        is_api = request.path.startswith(("/api/", "/openapi.json"))
        try:
            self.authorize(request)
            adapter = self.url_map.bind_to_environ(request.environ)
            endpoint, values = adapter.match(method="GET")
            if request.method not in ("GET", "HEAD"):
                return self.error(request, 405, "this dashboard is read-only", is_api, allow=True)
            view: Callable[..., Response] = getattr(self, f"view_{endpoint}")
            return view(request, **values)
        except HTTPException as exc:
            code = exc.code or 500
            return self.error(request, code, exc.description or exc.name, is_api)
        except StoreError:
            log.exception("dashboard: the store cannot be read")
            return self.error(request, 503, ServiceUnavailable.description, is_api)
        except Exception:
            log.exception("dashboard: %s %s failed", request.method, request.path)
            return self.error(request, 500, InternalServerError.description, is_api)

    def authorize(self, request: Request) -> None:
        if self._token is None:
            return
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), self._token
        ):
            raise Unauthorized("a valid bearer token is required")

    def error(
        self, request: Request, code: int, message: str, is_api: bool, *, allow: bool = False
    ) -> Response:
        if is_api:
            response = json_response(Error(error=ErrorDetail(code=code, message=message)), code)
        else:
            page = render(
                "error.html", root=request.script_root, code=code, message=message, active=""
            )
            response = Response(page, status=code, mimetype="text/html")
        if code == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        if allow:
            response.headers["Allow"] = "GET, HEAD"
        return response

    # --- pages ---------------------------------------------------------------------------

    def scoped(self, request: Request) -> Store:
        """The store's reads in the namespace `?namespace=` names, else in the current one
        (the newest sync's); one the store does not hold is a 404 naming those it does."""
        given = query_arg(request, "namespace")
        if given is None:
            return self.store
        held = self.store.namespaces()
        if given not in held:
            raise NotFound(
                f"'namespace': no namespace '{given}' in the store (in the store: "
                f"{', '.join(held) or 'none yet'})"
            )
        return self.store.in_namespace(given)

    def shown(self, request: Request) -> Store:
        """The store's reads in the namespace `?namespace=` names and the cycle `?period=`
        names, else in the current ones."""
        store = self.scoped(request)
        given = query_arg(request, "period")
        try:
            return shown_in(store, given)
        except PeriodError as exc:
            raise UnprocessableEntity(f"'period': {exc}") from None
        except UnknownCycle as exc:
            raise NotFound(f"'period': {exc}") from None

    def every_namespace(self, request: Request) -> list[Store]:
        """`?namespace=*`: each namespace's reads in its current cycle, or in the one
        `?period=` names where the namespace holds it (a 404 when none does)."""
        given = query_arg(request, "period")
        shown = []
        for name in self.store.namespaces():
            try:
                shown.append(shown_in(self.store.in_namespace(name), given))
            except PeriodError as exc:
                raise UnprocessableEntity(f"'period': {exc}") from None
            except UnknownCycle:
                continue
        if not shown and given is not None:
            raise NotFound(f"'period': no namespace of the store holds the cycle {given}")
        return shown

    def view_organization(self, request: Request) -> Response:
        """The organization's tree (`sync.organization`): every namespace, aligned objectives
        under their parents, each row naming its namespace and linking into it."""
        wanted = tree_filter(request)
        stores = self.every_namespace(request)
        held = self.store.namespaces()
        cycles = {choice.key: choice for store in stores for choice in cycles_held(store)}
        period = query_arg(request, "period")
        kept = {"namespace": EVERY_NAMESPACE}
        if period is not None and stores and stores[0].cycle is not None:
            kept["period"] = stores[0].cycle
        return html_response(
            render(
                "tree.html",
                root=request.script_root,
                active="tree",
                rows=tree_rows(organization_tree(stores, wanted)),
                wanted=wanted,
                levels=sorted({o.level for s in stores for o in s.all_objectives() if o.level}),
                last_run=None,
                empty=not any(store.all_objectives() for store in stores),
                cycles=sorted(cycles.values(), key=lambda choice: choice.key, reverse=True),
                period=kept.get("period"),
                namespace=EVERY_NAMESPACE,
                namespaces=held,
                kept=kept,
                organization=True,
            )
        )

    def view_tree(self, request: Request) -> Response:
        if query_arg(request, "namespace") == EVERY_NAMESPACE:
            return self.view_organization(request)
        wanted = tree_filter(request)
        store = self.shown(request)
        held = self.store.namespaces()
        tree = objective_tree(store, wanted)
        levels = sorted({o.level for o in store.all_objectives() if o.level})
        runs = store.runs(limit=1)
        return html_response(
            render(
                "tree.html",
                root=request.script_root,
                active="tree",
                rows=tree_rows(tree),
                wanted=wanted,
                levels=levels,
                last_run=runs[0] if runs else None,
                empty=not store.all_objectives(),
                cycles=cycles_held(store),
                period=store.cycle,
                namespace=store.namespace,
                namespaces=held,
                kept=self.kept(request, store, held),
                organization=False,
            )
        )

    def view_key_result(self, request: Request, kr_id: str) -> Response:
        store = self.shown(request)
        detail = key_result_detail(store, kr_id)
        if detail is None:
            raise NotFound(f"no key result '{kr_id}' in the store")
        objective = next(
            (o for o in store.all_objectives() if o.id == detail.row.objective_id), None
        )
        return html_response(
            render(
                "key_result.html",
                root=request.script_root,
                active="",
                kr=detail.row,
                detail=detail,
                objective=objective,
                chart=chart_for(detail),
                history=list(reversed(detail.points)),
                scope_summary=scope_summary(detail.row.lineage),
                scope_changes=scope_changes(detail.row.lineage),
                kept=self.kept(request, store, self.store.namespaces()),
            )
        )

    def view_runs(self, request: Request) -> Response:
        limit = int_arg(request, "limit", default=50)
        store = self.scoped(request)
        return html_response(
            render(
                "runs.html",
                root=request.script_root,
                active="runs",
                runs=store.runs(limit=limit),
                namespace=store.namespace,
                kept=self.kept(request, store, self.store.namespaces(), period=False),
            )
        )

    def view_namespaces(self, request: Request) -> Response:
        return html_response(
            render(
                "namespaces.html",
                root=request.script_root,
                active="namespaces",
                namespaces=namespace_standings(self.store),
            )
        )

    def kept(
        self, request: Request, store: Store, held: list[str], *, period: bool = True
    ) -> dict[str, str]:
        """What a page's links keep of its query: the namespace, asked for or shown among
        the several `held` (the same ids live in several namespaces: a link must not land
        in another when the newest sync changes), and the cycle `?period=` chose; none for
        the current cycle, so that links follow the newest sync."""
        kept = {}
        if query_arg(request, "namespace") is not None or len(held) > 1:
            kept["namespace"] = store.namespace
        if period and query_arg(request, "period") is not None and store.cycle is not None:
            kept["period"] = store.cycle
        return kept

    # --- JSON API ------------------------------------------------------------------------

    def view_api_objectives(self, request: Request) -> Response:
        if query_arg(request, "namespace") == EVERY_NAMESPACE:
            stores = self.every_namespace(request)
            return json_response(organization_document(stores, tree_filter(request)))
        return json_response(objectives_document(self.shown(request), tree_filter(request)))

    def view_api_key_result(self, request: Request, kr_id: str) -> Response:
        document = key_result_document(self.shown(request), kr_id)
        if document is None:
            raise NotFound(f"no key result '{kr_id}' in the store")
        return json_response(document)

    def view_api_runs(self, request: Request) -> Response:
        limit = int_arg(request, "limit", default=20)
        return json_response(runs_document(self.scoped(request), limit))

    def view_api_namespaces(self, request: Request) -> Response:
        return json_response(namespaces_document(self.store))

    def view_openapi(self, request: Request) -> Response:
        return json_response(openapi_document())


def make_dashboard_app(store: Store, settings: Settings) -> WSGIApp:
    """The dashboard as a WSGI app, to serve on its own or mount (e.g. by the daemon)."""
    return DashboardApp(store, settings)


def tree_rows(tree: list[ObjectiveInTree]) -> list[dict[str, Any]]:
    """Tree-ordered objectives (with depth) as rows {objective, step, level}: `step` is how
    much deeper (1) or shallower (0 or less) a row's list is than the row before it, so the
    page nests its lists in one loop, not by recursion, which a 1,000-deep chain exhausted."""
    rows: list[dict[str, Any]] = []
    open_depths: list[int] = []  # depths of the objectives whose lists are open above
    previous = 0
    for objective in tree:
        while open_depths and open_depths[-1] >= objective.depth:
            open_depths.pop()
        level = len(open_depths)
        rows.append({"objective": objective, "step": level - previous, "level": level})
        open_depths.append(objective.depth)
        previous = level
    return rows


def html_response(page: str) -> Response:
    return Response(page, mimetype="text/html")


def json_response(document: BaseModel | dict[str, Any], status: int = 200) -> Response:
    """A response model (`sync.documents`) as JSON, or the OpenAPI document (a plain dict)."""
    body = document.model_dump(mode="json") if isinstance(document, BaseModel) else document
    return Response(json.dumps(body, indent=2), status=status, mimetype="application/json")
