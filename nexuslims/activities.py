"""Cluster stage: group a session's files into acquisition activities.

OWNER: clustering helper. Contract below; implementation to follow.
"""

from __future__ import annotations

from collections.abc import Sequence


def cluster_mtimes(mtimes: Sequence[float], sensitivity: float = 1.0) -> list[float]:
    """Activity boundary times for these modification times (see module docs)."""
    raise NotImplementedError
