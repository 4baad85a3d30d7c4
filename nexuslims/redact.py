"""Secrets never leave the process: the one place that knows them and removes them.

Servers echo what they were sent (a CDCS answering HTTP 500 with the request headers
in its body), and those answers end up in log lines, ``events.jsonl``, the export log,
the build history and the terminal. Every such text goes through :func:`redact`:

- the values of every secret setting (names with TOKEN, PASSWORD, SECRET, KEY...,
  and NexusLIMS 1.x's ``nexusLIMS_pass``), as given and in the forms they travel in
  (URL-quoted, JSON-escaped, and ``user:password`` as HTTP Basic sends it,
  base64-encoded);
- the password of any URL in the settings (``NX_DB_URL``, a proxy);
- whatever follows ``Authorization:`` in header-like text, and the password of a URL
  written ``scheme://user:password@host``, known or not.

:func:`register` learns the secrets from the settings (``load_settings`` calls it) and
makes every log record pass through :func:`redact` (a log-record factory, so every
handler, per-pass log files and ``events.jsonl`` included, gets clean text). The
database layer redacts what it stores, errors redact their message, and the exporter
redacts what a destination answered.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Mapping
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
#: Names of settings whose values are secret.
SECRET_NAME = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|API_?KEY|PRIVATE_?KEY|CREDENTIAL"
                         r"|^nexusLIMS_pass$", re.IGNORECASE)
#: Names of settings that hold a user name (paired with secrets for HTTP Basic).
USER_NAME = re.compile(r"USER(NAME)?$|LOGIN$|^nexusLIMS_user$", re.IGNORECASE)
#: Shorter values are not masked: they would blank ordinary words everywhere.
MIN_LENGTH = 4

_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization\\?[\"']?\s*[:=]\s*\\?[\"']?)"
                     r"(?:(basic|bearer|token|digest)\s+)?[^\s\"'\\,;}]+")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@", re.IGNORECASE)

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()
_factory_installed = False


def secrets_in(env: Mapping[str, str]) -> set[str]:
    """Every secret value in ``env``, in each form it may be seen in."""
    plain: set[str] = set()
    users: set[str] = set()
    for name, value in env.items():
        if not isinstance(value, str) or not value.strip():
            continue
        if SECRET_NAME.search(name):
            plain.add(value)
        elif USER_NAME.search(name):
            users.add(value)
        if "://" in value:
            try:
                parts = urlsplit(value.strip())
                password = parts.password
            except ValueError:
                continue
            if password:
                plain.update({password, unquote(password)})  # as written, and as sent
                if parts.username:
                    users.add(parts.username)
    found = set(plain)
    for secret in plain:
        found.add(quote(secret, safe=""))
        found.add(json.dumps(secret)[1:-1])  # as events.jsonl and JSON bodies write it
        for user in users:
            basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
            found.update({basic, basic.rstrip("=")})
    return {s for s in found if len(s) >= MIN_LENGTH}


def register(env: Mapping[str, str]) -> None:
    """Know the secrets of ``env`` (the settings in force) and redact every log record.

    The secrets replace those registered before: a process runs with one set of
    settings, and a value that is no longer a secret must not blank ordinary text.
    """
    global _secrets, _factory_installed
    with _lock:
        # Longest first, so a secret that contains another is masked whole.
        _secrets = tuple(sorted(secrets_in(env), key=len, reverse=True))
        if not _factory_installed:
            logging.setLogRecordFactory(_redacting_factory(logging.getLogRecordFactory()))
            _factory_installed = True


def redact(text: str) -> str:
    """``text`` without any known secret, Authorization value or URL password."""
    if not text:
        return text
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2) + ' ' if m.group(2) else ''}{MASK}",
                       text)
    return _URL_PASSWORD.sub(rf"\g<1>{MASK}@", text)


def redacted(text: str | None) -> str | None:
    """:func:`redact` for optional text (database columns)."""
    return None if text is None else redact(text)


def _clean(record: logging.LogRecord) -> None:
    # At creation, not in a handler's filter: every handler (the terminal, the per-pass
    # log file, events.jsonl, a web app's) then gets the same clean record.
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: logging reports it later, as it would anyway
        return
    # The template stays known (filters may tell kinds of lines apart by it).
    record.template = record.msg
    clean = redact(message)
    if clean != message and not _redact_arguments(record, clean):
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _redact_arguments(record: logging.LogRecord, clean: str) -> bool:
    """Redact the template and each text argument, keeping their shape, when that
    cleans the whole message: formatters that read ``record.args`` themselves (uvicorn's
    access log unpacks five of them) keep working. False when it does not suffice."""
    args = record.args
    if isinstance(args, tuple):
        shaped: object = tuple(redact(a) if isinstance(a, str) else a for a in args)
    elif isinstance(args, dict):
        shaped = {k: redact(v) if isinstance(v, str) else v for k, v in args.items()}
    else:
        return False
    msg = redact(record.msg) if isinstance(record.msg, str) else record.msg
    try:
        if (msg % shaped if shaped else msg) != clean:
            return False
    except (TypeError, ValueError, KeyError):
        return False
    record.msg, record.args = msg, shaped  # type: ignore[assignment]
    return True


def _redacting_factory(base):  # type: ignore[no-untyped-def]
    def factory(*args, **kwargs):  # type: ignore[no-untyped-def]
        record = base(*args, **kwargs)
        _clean(record)
        return record

    return factory
