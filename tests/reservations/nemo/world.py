"""The facility the NEMO tests run: two NEMO servers, their users, tools and events.

Server A keeps correct times (TIME_ZONE America/New_York). Server B is a site whose
NEMO believes it runs in UTC while staff type Denver wall-clock times: nexuslims reads
it with ``NX_NEMO_TZ_2=America/Denver`` and naive query times.

All events lie before ``NOW1``, except E8, still running at ``NOW1``.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")
DENVER = ZoneInfo("America/Denver")
UTC = dt.UTC

NOW1 = dt.datetime(2024, 11, 5, 17, 0, tzinfo=UTC)
NOW2 = dt.datetime(2024, 11, 5, 21, 0, tzinfo=UTC)

TOKEN_A = "a1" * 20
TOKEN_B = "b2" * 20


def ny(text: str) -> str:
    """An ISO time with New York's offset on that day."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=NY).isoformat()


def group(*samples: dict) -> dict:
    return {"type": "group", "name": "sample_group", "title": "Samples",
            "user_input": {str(i): s for i, s in enumerate(samples)}}


def answers(title: str | None = None, purpose: str | None = None,
            project_id: str | None = None, consent: str | None = None,
            samples: tuple[dict, ...] = ()) -> dict:
    """Question data in NEMO's stored form (``{name: {type, user_input}}``)."""
    data: dict = {}
    for name, value in (("experiment_title", title), ("experiment_purpose", purpose),
                        ("project_id", project_id), ("data_consent", consent)):
        if value is not None:
            data[name] = {"type": "radio" if name == "data_consent" else "textbox",
                          "name": name, "user_input": value}
    if samples:
        data["sample_group"] = group(*samples)
    return data


USERS_A = [
    {"id": 2, "username": "ada", "first_name": "Ada", "last_name": "Lovelace"},
    {"id": 3, "username": "grace", "first_name": "Grace", "last_name": "Hopper"},
]
PROJECTS_A = [
    {"id": 1, "name": "Grain Boundaries", "application_identifier": "P-100"},
    {"id": 2, "name": "Catalysts", "application_identifier": "P-200"},
]
TOOLS_A = [{"id": 1, "name": "Titan TEM"}, {"id": 2, "name": "Quanta SEM"},
           {"id": 3, "name": "Krios"}]

E1_SAMPLES = (
    {"sample_name": "PID-0001", "sample_or_pid": "PID", "sample_details": "grid 3, region B",
     "periodic_table": ["Fe", "O", "fe"]},
    {"sample_name": "steel coupon", "sample_or_pid": "Sample Name",
     "sample_details": "polished", "periodic_table": ["Cr", "Ni"]},
)

RESERVATIONS_A = [
    # E1's reservation: its answers lose to E1's own run_data.
    {"id": 1, "user": 2, "tool": 1, "project": 1, "start": ny("2024-11-01T08:30"),
     "end": ny("2024-11-01T11:30"),
     "question_data": answers("Reservation title R1", consent="Agree")},
    # For E3: R3 overlaps most; R3b less; R3c covers it all but was cancelled.
    {"id": 3, "user": 2, "tool": 1, "project": 1, "start": ny("2024-11-02T08:30"),
     "end": ny("2024-11-02T11:00"),
     "question_data": answers("Reservation title R3", "Mapping precipitates",
                              "P-100-b", "Agree",
                              ({"sample_name": "alloy 7", "sample_or_pid": "Sample Name",
                                "sample_details": "as cast", "periodic_table": ["Al", "Zn"]},))},
    {"id": 4, "user": 2, "tool": 1, "project": 1, "start": ny("2024-11-02T11:00"),
     "end": ny("2024-11-02T13:00"), "question_data": answers("Wrong: less overlap",
                                                             consent="Agree")},
    {"id": 5, "user": 2, "tool": 1, "project": 1, "start": ny("2024-11-02T07:00"),
     "end": ny("2024-11-02T14:00"), "cancelled": True,
     "question_data": answers("Wrong: cancelled", consent="Agree")},
    # E4: consent refused; E5: consent never asked.
    {"id": 6, "user": 3, "tool": 2, "project": 2, "start": ny("2024-11-02T13:45"),
     "end": ny("2024-11-02T15:15"),
     "question_data": answers("Private work", consent="Disagree")},
    {"id": 7, "user": 2, "tool": 2, "project": 1, "start": ny("2024-11-02T15:45"),
     "end": ny("2024-11-02T17:15"), "question_data": answers("No consent question")},
]

USAGE_A = [
    {"id": 1, "user": 2, "project": 1, "tool": 1, "start": ny("2024-11-01T09:00"),
     "end": ny("2024-11-01T11:00"),
     "run_data": answers("Run-data title", "Imaging grain boundaries", None, "Agree",
                         E1_SAMPLES),
     "pre_run_data": answers("Pre-run title that loses", consent="Agree")},
    {"id": 2, "user": 3, "operator": 2, "project": 2, "tool": 1,
     "start": ny("2024-11-01T13:00"), "end": ny("2024-11-01T15:00"),
     "run_data": "", "pre_run_data": answers("Pre-run title", "Catalyst survey", "C-9",
                                             "yes")},
    {"id": 3, "user": 2, "project": 1, "tool": 1, "start": ny("2024-11-02T09:00"),
     "end": ny("2024-11-02T12:00")},
    {"id": 4, "user": 3, "project": 2, "tool": 2, "start": ny("2024-11-02T14:00"),
     "end": ny("2024-11-02T15:00")},
    {"id": 5, "user": 2, "project": 1, "tool": 2, "start": ny("2024-11-02T16:00"),
     "end": ny("2024-11-02T17:00")},
    {"id": 6, "user": 3, "project": 2, "tool": 2, "start": ny("2024-11-03T10:00"),
     "end": ny("2024-11-03T11:00")},
    # Across the end of DST: 00:30 EDT to 03:30 EST, four real hours.
    {"id": 7, "user": 2, "project": 1, "tool": 1, "start": "2024-11-03T00:30:00-04:00",
     "end": "2024-11-03T03:30:00-05:00",
     "run_data": answers("Overnight tomography", consent="Agree")},
    # Still running at NOW1 (no end yet); ended before NOW2 in the edit test.
    {"id": 8, "user": 3, "project": 2, "tool": 1, "start": "2024-11-05T16:00:00+00:00",
     "end": None, "run_data": answers("Started before the harvest", consent="Agree")},
    # A tool no instrument uses: never harvested.
    {"id": 9, "user": 2, "project": 1, "tool": 3, "start": ny("2024-11-02T09:00"),
     "end": ny("2024-11-02T10:00")},
    # No files (yet): stays TO_BE_BUILT, so editing its end updates it.
    {"id": 10, "user": 2, "project": 1, "tool": 2, "start": ny("2024-11-04T15:00"),
     "end": ny("2024-11-04T16:00"), "run_data": answers("Waiting for files", consent="Agree")},
]

WORLD_A = {"token": TOKEN_A, "users": USERS_A, "projects": PROJECTS_A, "tools": TOOLS_A,
           "reservations": RESERVATIONS_A, "usage_events": USAGE_A}

# Server B stores Denver wall-clock times labelled UTC.
WORLD_B = {
    "token": TOKEN_B,
    "users": [{"id": 2, "username": "marie", "first_name": "Marie", "last_name": "Curie"}],
    "projects": [{"id": 1, "name": "Radium", "application_identifier": "R-1"}],
    "tools": [{"id": 1, "name": "Helios FIB"}],
    "reservations": [],
    "usage_events": [
        {"id": 1, "user": 2, "project": 1, "tool": 1, "start": "2024-11-01T10:00:00+00:00",
         "end": "2024-11-01T12:00:00+00:00",
         "run_data": answers("Helios lamella", "Lift-out", consent="Agree",
                             samples=({"sample_name": "PID-B7", "sample_or_pid": "PID",
                                       "periodic_table": ["Si"]},))},
    ],
}

# Instruments of the nexuslims database: (pid, server, tool id, folder).
INSTRUMENTS = [
    ("titan", "A", 1, "Titan"),
    ("quanta", "A", 2, "Quanta"),
    ("helios", "B", 1, "Helios"),
]

# Plain text files the sessions find: (folder, name, aware mtime).
FILES = [
    ("Titan", "e1_a.txt", dt.datetime(2024, 11, 1, 9, 30, tzinfo=NY)),
    ("Titan", "e1_b.txt", dt.datetime(2024, 11, 1, 10, 40, tzinfo=NY)),
    ("Titan", "e2_a.txt", dt.datetime(2024, 11, 1, 14, 0, tzinfo=NY)),
    ("Titan", "e3_a.txt", dt.datetime(2024, 11, 2, 10, 0, tzinfo=NY)),
    ("Quanta", "e4_a.txt", dt.datetime(2024, 11, 2, 14, 30, tzinfo=NY)),
    ("Quanta", "e5_a.txt", dt.datetime(2024, 11, 2, 16, 30, tzinfo=NY)),
    ("Quanta", "e6_a.txt", dt.datetime(2024, 11, 3, 10, 30, tzinfo=NY)),
    # E7, across the DST change: 01:15 EDT, 01:15 EST (the repeated hour), 03:00 EST.
    ("Titan", "e7_a.txt", dt.datetime(2024, 11, 3, 5, 15, tzinfo=UTC)),
    ("Titan", "e7_b.txt", dt.datetime(2024, 11, 3, 6, 15, tzinfo=UTC)),
    ("Titan", "e7_c.txt", dt.datetime(2024, 11, 3, 8, 0, tzinfo=UTC)),
    ("Titan", "e8_a.txt", dt.datetime(2024, 11, 5, 17, 30, tzinfo=UTC)),
    ("Helios", "b1_a.txt", dt.datetime(2024, 11, 1, 11, 0, tzinfo=DENVER)),
    ("Plain", "plain_a.txt", dt.datetime(2024, 11, 1, 12, 0, tzinfo=NY)),
]
