"""Sessions stage: what the session log and the calendars say happened on an instrument.

:mod:`~nexuslims.sessions.logbook` logs sessions by hand or from an instrument PC;
:mod:`~nexuslims.sessions.harvest` takes new sessions from calendars that discover them.
Reservations themselves come from the harvester plug-ins in :mod:`nexuslims.reservations`.
"""
