"""Bearer tokens of the session-logging API (``api_tokens``), stored only as hashes.

A token is 32 random bytes (URL-safe text, prefixed ``nxl_``); the table keeps
``sha256:<hex>`` of it, so a copy of the database gives nobody a usable token. A
token may be bound to one instrument: it can then log sessions only for that one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nexuslims.db.engine import translated
from nexuslims.db.schema import api_tokens

PREFIX = "nxl_"


@dataclass(frozen=True)
class ApiToken:
    """One token as listed (never the token itself)."""

    id: int
    instrument: str | None
    note: str | None
    created: dt.datetime
    revoked: dt.datetime | None
    last_used: dt.datetime | None


def token_hash(token: str) -> str:
    """``sha256:<hex>`` of a token (the algorithm travels with the value)."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(engine: Engine, *, instrument: str | None = None, note: str | None = None,
                 now: dt.datetime | None = None) -> tuple[int, str]:
    """Make a new token and store its hash; return (its id, the token).

    The token is returned once, here; it cannot be read back later.
    """
    token = PREFIX + secrets.token_urlsafe(32)
    with translated(engine.url, "creating an API token"), engine.begin() as conn:
        result = conn.execute(sa.insert(api_tokens).values(
            token_hash=token_hash(token), instrument=instrument, note=note,
            created=now or dt.datetime.now(dt.UTC)))
        return int(result.inserted_primary_key[0]), token  # type: ignore[index]


def list_tokens(engine: Engine) -> list[ApiToken]:
    """Every token, revoked ones too, oldest first."""
    t = api_tokens
    with translated(engine.url, "listing API tokens"), engine.connect() as conn:
        return [ApiToken(r.id, r.instrument, r.note, r.created, r.revoked, r.last_used)
                for r in conn.execute(sa.select(t).order_by(t.c.id))]


def revoke_token(engine: Engine, token_id: int, *, now: dt.datetime | None = None) -> bool:
    """Revoke token ``token_id``; False if there is no such token or it was revoked."""
    t = api_tokens
    with translated(engine.url, f"revoking API token {token_id}"), engine.begin() as conn:
        result = conn.execute(sa.update(t).where(t.c.id == token_id, t.c.revoked.is_(None))
                              .values(revoked=now or dt.datetime.now(dt.UTC)))
        return bool(result.rowcount)


def check_token(engine: Engine, token: str) -> ApiToken | None:
    """The live token ``token`` is, or None (unknown or revoked).

    Looked up by its hash, then compared in constant time.
    """
    wanted = token_hash(token)
    t = api_tokens
    with translated(engine.url, "checking an API token"), engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.token_hash == wanted)).first()
    if row is None or row.revoked is not None \
            or not hmac.compare_digest(row.token_hash, wanted):
        return None
    return ApiToken(row.id, row.instrument, row.note, row.created, row.revoked, row.last_used)


def touch_token(engine: Engine, token_id: int, *, now: dt.datetime | None = None) -> None:
    """Remember when a token was last used (shown by ``tokens list``)."""
    with translated(engine.url, f"updating API token {token_id}"), engine.begin() as conn:
        conn.execute(sa.update(api_tokens).where(api_tokens.c.id == token_id)
                     .values(last_used=now or dt.datetime.now(dt.UTC)))
