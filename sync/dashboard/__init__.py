"""The read-only web dashboard: server-rendered pages, SVG charts and a JSON API.

`make_dashboard_app(store, settings)` is the one entry point; `serve` and the daemon mount it.
"""

from sync.dashboard.app import make_dashboard_app

__all__ = ["make_dashboard_app"]
