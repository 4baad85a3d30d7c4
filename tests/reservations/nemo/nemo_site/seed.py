"""Seed a NEMO test database through the Django ORM: ``python seed.py world.json``.

Runs in NEMO's own virtual environment (DJANGO_SETTINGS_MODULE=settings). The world
file lists objects with explicit ids; times are ISO strings. Reservation
``question_data`` is written here because NEMO 8 cannot take it over REST.
"""

import datetime as dt
import json
import sys

import django

django.setup()

from NEMO.models import (  # noqa: E402
    Account,
    Project,
    Reservation,
    Tool,
    UsageEvent,
    User,
)
from rest_framework.authtoken.models import Token  # noqa: E402


def when(text):
    return dt.datetime.fromisoformat(text) if text else None


def answers(value):
    return json.dumps(value) if isinstance(value, dict) else value


def main(path):
    with open(path) as fh:
        world = json.load(fh)
    admin = User.objects.create(id=1, username="admin", first_name="Site", last_name="Admin",
                                email="admin@example.org", is_superuser=True, is_staff=True)
    Token.objects.create(user=admin, key=world["token"])
    for u in world.get("users", []):
        User.objects.create(email=f"{u['username']}@example.org", **u)
    account = Account.objects.create(id=1, name="Test account")
    for p in world.get("projects", []):
        Project.objects.create(account=account, **p)
    for t in world.get("tools", []):
        Tool.objects.create(_operational=True, **t)
    for r in world.get("reservations", []):
        Reservation.objects.create(
            id=r["id"], user_id=r["user"], creator_id=r["user"], tool_id=r["tool"],
            project_id=r.get("project"), start=when(r["start"]), end=when(r["end"]),
            short_notice=False, cancelled=r.get("cancelled", False),
            title=r.get("title", ""), question_data=answers(r.get("question_data")))
    for e in world.get("usage_events", []):
        UsageEvent.objects.create(
            id=e["id"], user_id=e["user"], operator_id=e.get("operator", e["user"]),
            project_id=e["project"], tool_id=e["tool"], start=when(e["start"]),
            end=when(e.get("end")),
            run_data=answers(e.get("run_data")), pre_run_data=answers(e.get("pre_run_data")))


if __name__ == "__main__":
    main(sys.argv[1])
