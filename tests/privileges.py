"""Run test code as a user that file permissions apply to (root reads everything)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

NOBODY = 65534


def run_as_nobody(fn: Callable[[], object]) -> object:
    """``fn()`` in a forked child that has dropped to uid/gid 65534; its JSON result.

    As a non-root user, permissions already apply: ``fn()`` runs here.
    """
    if os.geteuid() != 0:
        return fn()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        status = 0
        try:
            os.close(read_end)
            try:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            except OSError as exc:
                payload = {"skip": f"cannot drop privileges: {exc}"}
            else:
                payload = {"value": fn()}
            os.write(write_end, json.dumps(payload).encode())
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            os.write(write_end, json.dumps({"error": repr(exc)}).encode())
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    outcome = json.loads(data)
    if "skip" in outcome:
        pytest.skip(outcome["skip"])
    assert "error" not in outcome, outcome.get("error")
    return outcome["value"]
