"""Who may read the pages and who may log sessions.

Reading follows ``NX_WEB_AUTH``: ``open``, HTTP ``basic`` auth against one configured
account, or ``header``, where a reverse proxy that authenticated the user passes the
name in ``NX_WEB_USER_HEADER``; the header is believed only from the addresses in
``NX_WEB_TRUSTED_PROXIES`` (default: loopback). ``/healthz`` is always open.

Logging sessions (``POST /api/sessions/...``) needs a bearer token from
``nexuslims tokens create``, whatever the read mode.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from nexuslims.web.settings import WebSettings, trusted

#: Paths anyone may reach: monitoring, and the token-protected session API.
OPEN_PATHS = ("/healthz",)
#: Where the address that opened the connection is kept in the ASGI scope, before any
#: ``X-Forwarded-For`` rewriting (:class:`nexuslims.web.guard.RememberPeer`).
PEER = "nexuslims.peer"


def peer_of(scope: Scope) -> str | None:
    """The address that opened the connection (not one a header claims)."""
    if PEER in scope:
        return scope[PEER]
    client = scope.get("client")
    return client[0] if client else None


def is_token_endpoint(method: str, path: str) -> bool:
    """The session-logging endpoints, which check a bearer token instead."""
    return method == "POST" and path.startswith("/api/sessions/")


def reader_refusal(web: WebSettings, request: Request) -> Response | None:
    """Why ``request`` may not read (a 401 response), or None when it may."""
    if web.auth == "open":
        return None
    if web.auth == "header":
        if not trusted(web.trusted_proxies, peer_of(request.scope)):
            return PlainTextResponse(f"not signed in: {web.user_header} is only believed "
                                     "from the reverse proxy (NX_WEB_TRUSTED_PROXIES)",
                                     status_code=401)
        if (request.headers.get(web.user_header) or "").strip():
            return None
        return PlainTextResponse(f"not signed in: the reverse proxy did not pass "
                                 f"{web.user_header}", status_code=401)
    user, password = _basic_credentials(request.headers.get("authorization", ""))
    assert web.basic_user is not None and web.basic_password is not None
    if user is not None and password is not None \
            and hmac.compare_digest(user.encode(), web.basic_user.encode()) \
            and hmac.compare_digest(password.encode(), web.basic_password.encode()):
        return None
    return PlainTextResponse("sign in to read nexuslims records", status_code=401,
                             headers={"WWW-Authenticate": 'Basic realm="nexuslims"'})


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


def _basic_credentials(header: str) -> tuple[str | None, str | None]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else (None, None)


class ReadAccess:
    """ASGI middleware: every request but the open ones passes :func:`reader_refusal`."""

    def __init__(self, app: ASGIApp, web: WebSettings) -> None:
        self.app, self.web = app, web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root):]
            if path not in OPEN_PATHS and not is_token_endpoint(scope["method"], path):
                refusal = reader_refusal(self.web, Request(scope))
                if refusal is not None:
                    await refusal(scope, receive, send)
                    return
        await self.app(scope, receive, send)
