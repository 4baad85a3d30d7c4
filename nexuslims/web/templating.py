"""Page templates: the Jinja2 environment (autoescaped) and rendering one page for a request."""

from __future__ import annotations

from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from nexuslims import __version__
from nexuslims.web import views


def templates() -> jinja2.Environment:
    """The page templates; every value is HTML-escaped unless a template says otherwise."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("nexuslims.web", "templates"),
                             autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = views.when
    env.filters["duration"] = views.duration
    env.globals["version"] = __version__
    return env


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` for ``request``."""
    env: jinja2.Environment = request.app.state.templates
    html = env.get_template(name).render(request=request,
                                         root=request.scope.get("root_path", ""), **context)
    return HTMLResponse(html, status_code=status_code)
