"""The ``elabftw`` destination: one eLabFTW experiment per session, never two.

For each record (settings in :mod:`nexuslims.export.elabftw_client`):

1. find the session's experiment: the id remembered in ``export_targets``, if eLabFTW
   still has it; else the experiment whose ``Session id`` extra field is the session's
   (``GET experiments?extended=extrafield:...``, then ``?q=<session id>``); else create
   one (``POST``), and
   remember its id the moment the 201 arrives. The POST already carries the session id,
   so an experiment whose 201 was lost is found by the next try, not made again;
2. set its title, HTML body, extra fields (session id, instrument, start, end, user,
   links to the web page and to the CDCS record when that destination has it),
   category and status (``PATCH``), and its tags (instrument, user, ``NexusLIMS``);
3. attach what it lacks: the XML record, every preview and JSON sidecar, and the
   ``.eln`` package when the ``eln`` destination made one. An upload of the same name
   and sha256 (or, for files of 100 MB or more, which eLabFTW does not hash, the same
   size) is kept; a changed one is replaced (eLabFTW archives the old one).

A rebuilt session updates its experiment the same way. Connection errors, timeouts
and 5xx are retried within the pass (``NX_ELABFTW_RETRIES`` tries, 1 s, 2 s... apart),
each retry starting again from step 1; a refused key (401/403) is a configuration
error naming ``NX_ELABFTW_API_KEY``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from lxml import etree

from nexuslims.export.base import ExportResult, Failure, RecordFile, Target, retried
from nexuslims.export.crate import extra_fields, keywords
from nexuslims.export.elabftw_client import ELabFTWClient, ELabFTWSettings
from nexuslims.export.eln import published_links, web_links
from nexuslims.export.summary import RecordSummary, file_fact, html_summary, read_summary

if TYPE_CHECKING:
    from nexuslims.config import Settings

logger = logging.getLogger(__name__)

SESSION_FIELD = "Session id"
HTML = 1
"""eLabFTW's ``content_type`` for an HTML body."""


@dataclass(frozen=True)
class Attachment:
    """A file the experiment should carry."""

    name: str
    path: Path
    sha256: str
    size: int
    comment: str


class ELabFTWDestination:
    """Keeps one eLabFTW experiment per session up to date."""

    name = "elabftw"
    priority = 150

    @classmethod
    def check(cls, settings: Settings) -> list[str]:
        """Problems of the ``NX_ELABFTW_*`` settings."""
        problems = ELabFTWSettings.read(settings.env)[1]
        if settings.instrument_data_path is None:
            problems.append("NX_ELABFTW_URL needs NX_INSTRUMENT_DATA_PATH (the previews and "
                            "files the experiment describes)")
        return problems

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep):
        config, problems = ELabFTWSettings.read(settings.env)
        assert config is not None and settings.instrument_data_path is not None, problems
        self.client = ELabFTWClient(config)
        self.env = dict(settings.env)
        self.data_root = settings.instrument_data_path
        self.derived_root = settings.data_path
        self.sleep = sleep

    def export(self, record: RecordFile) -> ExportResult:
        """Create or update the session's experiment; report, never raise."""
        try:
            summary = read_summary(record.read(), session_identifier=record.session_identifier,
                                   name=record.name, data_root=self.data_root,
                                   derived_root=self.derived_root)
            wanted = attachments(record, summary)
        except etree.XMLSyntaxError as exc:
            return ExportResult.failed(Failure.REJECTED, f"record {record.path} is not XML: {exc}")
        except OSError as exc:
            return ExportResult.failed(Failure.UNAVAILABLE,
                                       f"cannot read {exc.filename or record.path}: "
                                       f"{exc.strerror or exc}")
        fields = self.fields(record, summary)
        published = retried(lambda: self.publish(record, summary, fields, wanted),
                            tries=self.client.config.tries, sleep=self.sleep,
                            later="the next pass continues with the same experiment")
        if isinstance(published, ExportResult):
            return published
        experiment_id, created, sent = published
        url = self.experiment_url(experiment_id)
        logger.info("session %s: eLabFTW experiment %s %s, %d file(s) sent",
                    record.session_identifier, experiment_id,
                    "created" if created else "updated", sent)
        return ExportResult.ok(str(experiment_id), url, created=created,
                               uploaded=sent, attachments=len(wanted))

    def experiment_url(self, experiment_id: int) -> str:
        """Where people open the experiment."""
        return f"{self.client.site}experiments.php?mode=view&id={experiment_id}"

    def fields(self, record: RecordFile, summary: RecordSummary) -> dict[str, Any]:
        """The experiment's title, body, extra fields, category and status."""
        links = {**web_links(self.env, record.session_identifier),
                 **published_links(record.published)}
        fields: dict[str, Any] = {"title": summary.title, "body": html_summary(summary),
                                  "content_type": HTML,
                                  "metadata": extra_fields(summary, links)}
        config = self.client.config
        if config.category is not None:
            fields["category"] = config.category
        if config.status is not None:
            fields["status"] = config.status
        return fields

    def publish(self, record: RecordFile, summary: RecordSummary, fields: dict[str, Any],
                wanted: list[Attachment]) -> tuple[int, bool, int]:
        """One try: the experiment found or made, brought up to date; (id, created, sent)."""
        experiment_id, experiment = self.find(record)
        created = experiment is None
        if experiment is None:
            experiment_id = self.client.create(fields)
            record.memory.remember(Target(str(experiment_id),
                                          self.experiment_url(experiment_id),
                                          {"server": self.client.site}))
            have_tags: set[str] = set()
        else:
            self.client.patch(experiment_id, fields)
            have_tags = set(filter(None, str(experiment.get("tags") or "").split("|")))
        for tag in keywords(summary):
            if tag not in have_tags:
                self.client.add_tag(experiment_id, tag)
        return experiment_id, created, self.attach(experiment_id, wanted)

    def find(self, record: RecordFile) -> tuple[int, dict[str, Any] | None]:
        """The session's experiment and what eLabFTW says of it; (0, None) if it has none."""
        remembered = record.memory.recall()
        if remembered is not None and (remembered.target_id or "").isdigit():
            experiment = self.client.experiment(int(remembered.target_id or 0))
            if experiment is not None:
                return int(remembered.target_id or 0), experiment
            logger.warning("eLabFTW experiment %s of session %s is gone; looking for it by "
                           "its session id", remembered.target_id, record.session_identifier)
            record.memory.forget()
        found = self.client.find(SESSION_FIELD, record.session_identifier)
        if not found:
            return 0, None
        if len(found) > 1:
            logger.warning("eLabFTW has %d experiments of session %s; updating the oldest, %s",
                           len(found), record.session_identifier, found[0]["id"])
        experiment_id = int(found[0]["id"])
        record.memory.remember(Target(str(experiment_id), self.experiment_url(experiment_id),
                                      {"server": self.client.site, "found_by": SESSION_FIELD}))
        return experiment_id, found[0]

    def attach(self, experiment_id: int, wanted: list[Attachment]) -> int:
        """Upload what is missing or changed; how many files were sent."""
        have = {u.get("real_name"): u for u in self.client.uploads(experiment_id)}
        sent = 0
        for item in wanted:
            current = have.get(item.name)
            if current is not None and same_file(current, item):
                continue
            self.client.upload(experiment_id, item.name, item.path, item.comment,
                               replace=int(current["id"]) if current is not None else None)
            sent += 1
        return sent


def same_file(upload: dict[str, Any], item: Attachment) -> bool:
    """Whether an upload is ``item``: same sha256, or (no hash: 100 MB or more) same size."""
    digest = upload.get("hash")
    if digest:
        return str(digest).lower() == item.sha256
    return upload.get("filesize") == item.size


def attachments(record: RecordFile, summary: RecordSummary) -> list[Attachment]:
    """The record, each preview and sidecar, and the ``.eln`` package if there is one."""
    out: list[Attachment] = []
    names: set[str] = set()

    def add(path: Path, comment: str, name: str | None = None) -> None:
        fact = file_fact(path.parent, path.name)
        if fact is None or any(a.path == path for a in out):
            return
        name = name or path.name
        if name in names:  # two files of one name in different folders
            name = f"{len(out)}-{name}"
        names.add(name)
        out.append(Attachment(name, path, fact.sha256, fact.size, comment))

    add(record.path, "NexusLIMS: the XML record of the session")
    for ds in (d for a in summary.activities for d in a.datasets if d.file is not None):
        if ds.preview is not None:
            add(ds.preview.path, f"NexusLIMS: preview of {Path(ds.file.relative).name}"
                if ds.file else "NexusLIMS: preview")
        if ds.sidecar is not None:
            add(ds.sidecar.path, "NexusLIMS: metadata extracted from "
                f"{Path(ds.file.relative).name}" if ds.file else "NexusLIMS: metadata")
    package = record.published.get("eln", "")
    if package.startswith("file://"):
        add(Path(unquote(urlsplit(package).path)), "NexusLIMS: the session as a .eln package")
    return out
