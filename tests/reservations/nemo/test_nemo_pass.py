"""Full passes against real NEMO servers: harvested sessions become records."""

from __future__ import annotations

import sqlite3

import pytest
from lxml import etree

from nexuslims.pipeline import run_pass
from tests.reservations.nemo import world

pytestmark = pytest.mark.integration
NS = {"nx": "https://data.nist.gov/od/dm/nexus/experiment/v1.0"}


def rows(site, sql: str, *args):
    with sqlite3.connect(site.db_file) as con:
        return con.execute(sql, args).fetchall()


def test_smoke(site):
    summary = run_pass(site.settings, now=world.NOW1)
    for o in summary.outcomes:
        print(o.identifier, o.status, o.message)
    print(rows(site, "select * from session_log"))
    print(rows(site, "select * from harvest_state"))
    assert 0
