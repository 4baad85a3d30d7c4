"""The ASGI application: settings, database engine, templates, routes, headers."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from nexuslims import __version__, db
from nexuslims.web.auth import ReadAccess
from nexuslims.web.guard import BodyLimit, RememberPeer, TokenFirst
from nexuslims.web.settings import WebSettings
from nexuslims.web.templating import render, templates

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
#: How much of a refused value an error message quotes: never a whole body back.
QUOTE_AT_MOST = 120
#: No inline script or style, nothing from elsewhere: what a page shows cannot run code.
CSP = ("default-src 'self'; img-src 'self'; script-src 'self'; style-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class SecurityHeaders:
    """ASGI middleware adding CSP and friends to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for key, value in ((b"content-security-policy", CSP.encode()),
                                   (b"x-content-type-options", b"nosniff"),
                                   (b"referrer-policy", b"same-origin"),
                                   (b"x-frame-options", b"DENY")):
                    if key not in names:
                        headers.append((key, value))
                message["headers"] = headers
            await send(message)

        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, send_with_headers)


def create_app(web: WebSettings, engine: Engine | None = None) -> FastAPI:
    """The web application over the site ``web`` describes.

    Parameters
    ----------
    engine
        The session database; opened from the settings when not given. Records written
        before the record index existed are indexed once, at start.
    """
    from nexuslims.web import api, pages

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        if engine is None:
            assert web.settings.db_url is not None
            app.state.engine = db.make_engine(web.settings.db_url)
            db.require_head(app.state.engine)
        from nexuslims.record.index import backfill

        backfill(app.state.engine)
        for name in app.state.templates.list_templates():  # compiled now, not on a request
            app.state.templates.get_template(name)
        yield
        if engine is None:
            app.state.engine.dispose()

    app = FastAPI(title="nexuslims", version=__version__, lifespan=lifespan,
                  root_path=web.root_path, docs_url=None, redoc_url=None,
                  description="Records built by nexuslims, the builder's state, and session "
                  "logging for instrument PCs. Reading follows NX_WEB_AUTH; logging sessions "
                  "needs `Authorization: Bearer <token>` from `nexuslims tokens create`.")
    app.state.web = web
    app.state.engine = engine
    app.state.templates = templates()
    app.mount("/static", StaticFiles(packages=[("nexuslims.web", "static")]), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        wants_json = request.url.path.startswith(f"{web.root_path}/api/") \
            or request.url.path.startswith("/api/")
        if wants_json:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                headers=exc.headers)
        return render(request, "error.html", status_code=exc.status_code,
                      status=exc.status_code, message=str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # Say what is wrong and where, never echo the input back (it may be megabytes).
        errors = [{"loc": [str(p) for p in e.get("loc", ())][:6],
                   "msg": str(e.get("msg", "invalid"))[:QUOTE_AT_MOST]}
                  for e in exc.errors()[:10]]
        # A malformed URL (path or query) is a plain bad request; a body keeps 422.
        in_url = all(e["loc"][:1] in (["path"], ["query"]) for e in errors)
        return JSONResponse({"detail": errors}, status_code=400 if in_url else 422)

    # Added innermost first: RememberPeer sees the connection before the proxy headers
    # are believed; the token is checked before the body limit buffers a streamed body,
    # and both before any route reads one.
    app.add_middleware(BodyLimit, limit=web.max_body_bytes)
    app.add_middleware(TokenFirst)
    app.add_middleware(ReadAccess, web=web)
    app.add_middleware(ProxyHeadersMiddleware,
                       trusted_hosts=[str(n) for n in web.trusted_proxies])
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RememberPeer)
    return app
