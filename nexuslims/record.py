"""Build stage: the XML Experiment record of one session.

OWNER: record helper. Contract below; implementation to follow.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from nexuslims.extraction import Dataset
from nexuslims.reservations import Reservation
from nexuslims.sessions import Instrument

NAMESPACE = "https://data.nist.gov/od/dm/nexus/experiment/v1.0"


@dataclass
class Activity:
    """An acquisition activity: datasets acquired close together in time."""

    seqno: int
    start: dt.datetime
    datasets: list[Dataset]


def build_record(
    reservation: Reservation, instrument: Instrument, activities: list[Activity]
) -> bytes:
    """The record as UTF-8 XML bytes."""
    raise NotImplementedError
