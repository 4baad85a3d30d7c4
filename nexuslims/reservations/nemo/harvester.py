"""The NEMO harvester: sessions from usage events, reservations from question answers.

Harvest
    For each server, the usage events of known tools that *ended* in the window
    ``(last harvest - overlap, until]``. Querying by end (not start) finds an event
    that began before the last harvest and ended after it; the overlap catches events
    written late or edited after they were harvested.

Reservation
    For a session, in this order: the usage event's post-run answers (``run_data``),
    its pre-run answers (``pre_run_data``), then the reservation on the same tool that
    overlaps the session most (searched within two days either side). The first that
    answers any of the questions is used, whole.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from nexuslims.errors import HarvesterError
from nexuslims.model.session import Instrument, Session
from nexuslims.reservations import (
    HarvestedSession,
    HarvestResult,
    NoConsent,
    NoReservation,
    Project,
    Reservation,
    ReservationAnswer,
)
from nexuslims.reservations.nemo import questions
from nexuslims.reservations.nemo.client import Json, NemoClient
from nexuslims.reservations.nemo.config import NemoServer, NemoSettings, tool_id

logger = logging.getLogger(__name__)

#: How far either side of a session reservations are looked for.
RESERVATION_SEARCH = dt.timedelta(days=2)


@dataclass
class _Source:
    """Where a session's answers came from."""

    kind: str  # "usage event" or "reservation"
    url: str
    start: dt.datetime
    end: dt.datetime
    user: int | None
    operator: int | None
    project: int | None
    data: dict[str, Any]
    title: str | None = None


class NemoHarvester:
    """Harvests sessions from, and resolves reservations on, every configured NEMO server."""

    name = "nemo"

    def __init__(self, settings: NemoSettings):
        self.settings = settings
        self.clients = {s.address: NemoClient(s, timeout=settings.timeout,
                                              retries=settings.retries,
                                              backoff=settings.backoff)
                        for s in settings.servers}

    # ------------------------------------------------------------------ harvest

    def harvest(self, instruments: Mapping[str, Instrument],
                last_harvest: Mapping[str, dt.datetime], until: dt.datetime,
                since: dt.datetime | None = None) -> HarvestResult:
        """Sessions on known instruments that ended since each server's last harvest.

        A server that cannot be asked is reported in ``errors``; the others are
        harvested all the same.
        """
        result = HarvestResult()
        until = min(until, dt.datetime.now(dt.UTC))  # never claim to know the future
        for server in self.settings.servers:
            tools: dict[int, Instrument] = {}
            for inst in instruments.values():
                if (inst.harvester or "").strip().lower() == self.name \
                        and server.owns(inst.api_url):
                    tid = tool_id(inst.api_url)
                    if tid is not None:
                        tools.setdefault(tid, inst)
            if not tools:
                continue
            last = last_harvest.get(server.address)
            start = since if since is not None else (
                last - self.settings.overlap if last is not None
                else until - self.settings.first_harvest)
            try:
                found = self._harvest_server(server, tools, start, until)
            except HarvesterError as exc:
                result.errors[server.address] = str(exc)
                continue
            result.sessions.extend(found)
            # The window must reach back to the last harvest for the marker to move,
            # so a --from backfill never skips what lies between.
            if last is None:
                result.harvested_until[server.address] = until
            elif since is None or since <= last:
                result.harvested_until[server.address] = max(until, last)
            else:
                result.harvested_until[server.address] = last
        return result

    def _harvest_server(self, server: NemoServer, tools: dict[int, Instrument],
                        start: dt.datetime, until: dt.datetime) -> list[HarvestedSession]:
        client = self.clients[server.address]
        known = client.tools()
        missing = sorted(set(tools) - set(known))
        for tid in missing:
            logger.warning("instrument %s names NEMO tool %d, which %s does not have: check "
                           "its api_url", tools[tid].pid, tid, server.address)
        wanted = sorted(set(tools) & set(known))
        if not wanted or start >= until:
            return []
        events = client.get_list("usage_events/", {
            "end__gt": server.format_time(start), "end__lte": server.format_time(until),
            "tool_id__in": ",".join(map(str, wanted))})
        sessions = []
        for event in events:
            try:
                instrument = tools[int(event["tool"])]
                begin = server.parse_time(event["start"])
                end = server.parse_time(event["end"]) if event.get("end") else None
            except (KeyError, TypeError, ValueError) as exc:
                raise HarvesterError(f"NEMO server {server.address} sent a usage event "
                                     f"that cannot be read ({exc!r}): {_brief(event)}") from exc
            if end is None or end > until:
                continue  # still running: harvested once it has ended
            user = client.user(_id(event.get("user")))
            tz = instrument.tzinfo
            sessions.append(HarvestedSession(
                identifier=f"{server.address}usage_events/?id={event['id']}",
                instrument=instrument.pid, start=begin.astimezone(tz), end=end.astimezone(tz),
                user=(user or {}).get("username")))
        return sessions

    # ------------------------------------------------------------------ reservation

    def reservation_for(self, session: Session) -> ReservationAnswer:
        """The reservation of a session on a NEMO tool.

        Raises
        ------
        HarvesterError
            The instrument matches no configured server, or the server could not be
            asked; the session should wait for a later pass.
        """
        inst = session.instrument
        server = self.settings.server_for(inst.api_url)
        if server is None:
            raise HarvesterError(
                f"instrument {inst.pid}'s api_url {inst.api_url!r} is on no configured NEMO "
                "server: set NX_NEMO_ADDRESS_<N> to the /api/ root it starts with")
        tid = tool_id(inst.api_url)
        if tid is None:
            raise HarvesterError(f"instrument {inst.pid}'s api_url {inst.api_url!r} names no "
                                 f"tool: it should read {server.address}tools/?id=<tool id>")
        client = self.clients[server.address]
        source = self._answers_source(server, client, session, tid)
        if source is None:
            return NoReservation(f"no usage event answers and no reservation on "
                                 f"{server.address} for tool {tid} overlapping the session")
        answers = questions.parse_answers(source.data, source=source.url)
        if not answers.consented:
            why = "was not answered" if answers.consent is None \
                else f"was answered {answers.consent!r}"
            return NoConsent(f"data consent of the {source.kind} {source.url} {why}")
        return self._reservation(server, client, session, tid, source, answers)

    def _answers_source(self, server: NemoServer, client: NemoClient, session: Session,
                        tid: int) -> _Source | None:
        event_id = _usage_event_id(server, session.identifier)
        if event_id is not None:
            event = client.usage_event(event_id)
            if event is not None:
                for key in ("run_data", "pre_run_data"):
                    data = self._load(server, event.get(key), f"usage event {event_id} {key}")
                    if questions.has_answers(data):
                        return _Source(
                            "usage event", f"{server.root}event_details/usage/{event_id}/",
                            self._time(server, event.get("start"), session.start),
                            self._time(server, event.get("end"), session.end),
                            _id(event.get("user")), _id(event.get("operator")),
                            _id(event.get("project")), data)
        return self._best_reservation(server, client, session, tid)

    def _best_reservation(self, server: NemoServer, client: NemoClient, session: Session,
                          tid: int) -> _Source | None:
        found = client.get_list("reservations/", {
            "tool_id": tid, "cancelled": "false",
            "start__lt": server.format_time(session.end + RESERVATION_SEARCH),
            "end__gt": server.format_time(session.start - RESERVATION_SEARCH)})
        best: tuple[dt.timedelta, _Source] | None = None
        for res in found:
            try:
                start, end = server.parse_time(res["start"]), server.parse_time(res["end"])
            except (KeyError, TypeError, ValueError):
                logger.warning("NEMO reservation %s on %s has unreadable times: skipped",
                               res.get("id"), server.address)
                continue
            overlap = min(end, session.end) - max(start, session.start)
            if overlap <= dt.timedelta(0) or (best is not None and overlap <= best[0]):
                continue
            data = self._load(server, res.get("question_data"), f"reservation {res.get('id')}")
            best = (overlap, _Source(
                "reservation", f"{server.root}event_details/reservation/{res.get('id')}/",
                start, end, _id(res.get("user")), None, _id(res.get("project")), data,
                title=(res.get("title") or None)))
        return best[1] if best else None

    def _reservation(self, server: NemoServer, client: NemoClient, session: Session,
                     tid: int, source: _Source, answers: questions.Answers) -> Reservation:
        tz = session.instrument.tzinfo
        people = []
        for user_id in dict.fromkeys(u for u in (source.user, source.operator) if u):
            person = _person(client.user(user_id))
            if person:
                people.append(person)
        if not people and session.user:
            people.append(session.user)
        project = client.project(source.project)
        projects = []
        if project or answers.project_id:
            projects.append(Project(
                name=(project or {}).get("name") or None,
                project_id=answers.project_id
                or (project or {}).get("application_identifier") or None))
        tool = client.tools().get(tid, {})
        title = answers.title or source.title or (
            f"{tool.get('name') or session.instrument.display_name} session on "
            f"{source.start.astimezone(tz):%Y-%m-%d}")
        return Reservation(title=title, start=source.start.astimezone(tz),
                           end=source.end.astimezone(tz), experimenters=people,
                           motivation=answers.purpose, samples=answers.samples,
                           projects=projects, url=source.url)

    @staticmethod
    def _load(server: NemoServer, raw: Any, what: str) -> dict[str, Any]:
        try:
            return questions.load(raw)
        except ValueError as exc:
            logger.warning("NEMO server %s: %s is not readable question data (%s); ignored",
                           server.address, what, exc)
            return {}

    @staticmethod
    def _time(server: NemoServer, raw: Any, default: dt.datetime) -> dt.datetime:
        try:
            return server.parse_time(raw) if raw else default
        except (TypeError, ValueError):
            return default

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def _usage_event_id(server: NemoServer, identifier: str) -> int | None:
    """The usage event id of a session harvested from ``server``, else None."""
    prefix = f"{server.address}usage_events/"
    if not identifier.startswith(prefix):
        return None
    values = parse_qs(urlsplit(identifier).query).get("id", [])
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


def _id(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("id")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _person(user: Json | None) -> str | None:
    """``First Last (username)``, or whatever part of it NEMO has."""
    if not user:
        return None
    full = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p).strip()
    username = (user.get("username") or "").strip()
    if full and username:
        return f"{full} ({username})"
    return full or username or None


def _brief(event: Json) -> str:
    return str({k: event.get(k) for k in ("id", "tool", "start", "end")})
