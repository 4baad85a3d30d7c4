"""The network edge: who sent a request, how large its body may be, the token first.

Three ASGI middlewares, outermost first:

- :class:`RememberPeer` keeps the address that opened the connection (before any
  ``X-Forwarded-For`` rewriting), so the proxy user header is believed only from
  ``NX_WEB_TRUSTED_PROXIES``;
- :class:`BodyLimit` refuses a body larger than ``NX_WEB_MAX_BODY_BYTES`` (by its
  ``Content-Length``, or as it streams in) with 413, before the app reads it;
- :class:`TokenFirst` checks the bearer token of the session-logging endpoints before
  a byte of their body is read, so a caller without a token costs one header lookup.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nexuslims.db.tokens import check_token
from nexuslims.web.auth import PEER, bearer_token, is_token_endpoint


def app_path(scope: Scope) -> str:
    """The request path without the app's root path."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


class RememberPeer:
    """Keep the connecting address before proxy headers replace it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            scope[PEER] = client[0] if client else None
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for a request body over ``limit`` bytes, whether declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.limit:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the server delivers no more than declared
            return
        # A streamed (chunked) body: read it here, up to the limit, then hand it on.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > self.limit:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": f"request body too large: at most {self.limit} "
                                 "bytes (NX_WEB_MAX_BODY_BYTES)"}, status_code=413,
                                headers={"Connection": "close"})
        await response(scope, receive, send)


class TokenFirst:
    """401 for the session-logging endpoints without a valid token, body unread."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_token_endpoint(scope["method"], app_path(scope)):
            token = bearer_token(Request(scope))
            engine: Any = scope["app"].state.engine
            found = await run_in_threadpool(check_token, engine, token) if token else None
            if found is None:
                response = JSONResponse(
                    {"detail": "a valid token is needed: send 'Authorization: Bearer "
                     "<token>' with a token from `nexuslims tokens create`"},
                    status_code=401, headers={"WWW-Authenticate": "Bearer",
                                              "Connection": "close"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
