"""Page templates: the Jinja2 environment (autoescaped) and rendering one page for a request."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from nexuslims import __version__
from nexuslims.web import views


def templates() -> jinja2.Environment:
    """The page templates; every value is HTML-escaped unless a template says otherwise."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("nexuslims.web", "templates"),
                             autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = views.when
    env.filters["duration"] = views.duration
    env.filters["breakable"] = breakable
    env.filters["inline_code"] = inline_code
    env.filters["urldecode"] = unquote
    env.globals["version"] = __version__
    return env


def breakable(name: object) -> Markup:
    """A file name or identifier that may wrap after ``_ . - /`` rather than mid-word
    (escaped; only ``<wbr>`` is added)."""
    return Markup("<wbr>").join(escape(part) for part in _BREAK_AFTER.split(str(name)))


def inline_code(text: object) -> Markup:
    """Text whose Markdown ```code``` spans become ``<code>`` (escaped, nothing else
    interpreted): the API descriptions are written for both the page and OpenAPI tools."""
    parts = str(text or "").replace("``", "`").split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: shown as written
        return Markup(escape(str(text or "")))
    return Markup("").join(Markup("<code>{}</code>").format(p) if i % 2 else escape(p)
                           for i, p in enumerate(parts))


_BREAK_AFTER = re.compile(r"(?<=[_./-])")


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` for ``request``."""
    env: jinja2.Environment = request.app.state.templates
    html = env.get_template(name).render(request=request,
                                         root=request.scope.get("root_path", ""), **context)
    return HTMLResponse(html, status_code=status_code)
