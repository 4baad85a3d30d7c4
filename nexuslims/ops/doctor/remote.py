"""Checks of the servers a pass talks to: NEMO, SharePoint, CDCS, eLabFTW, the mail server.

Each asks the cheapest question that proves the server answers and accepts our
credentials, with one try and the site's timeout; messages are those the pass itself
would give, which already say what to check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from nexuslims.errors import ConfigError, NexusLIMSError, shown_url
from nexuslims.ops.doctor.checks import FAILURE, OK, Check, Site


def check_nemo(site: Site) -> Iterable[Check]:
    """Each NEMO server answers and accepts its token (lists its tools)."""
    from nexuslims.reservations.nemo.client import NemoClient
    from nexuslims.reservations.nemo.config import parse_settings

    try:
        nemo = parse_settings(site.env)
    except ConfigError:
        return  # reported by the settings check
    if nemo is None:
        return
    for server in nemo.servers:
        name = f"NEMO {server.address}"
        client = NemoClient(server, timeout=min(site.timeout, nemo.timeout), retries=0,
                            backoff=0)
        try:
            tools = client.tools()
        except NexusLIMSError as exc:
            yield Check(name, FAILURE, str(exc))
            continue
        finally:
            client.close()
        mine = [i.pid for i in site.instruments
                if (i.harvester or "").lower() == "nemo" and server.owns(i.api_url)]
        yield Check(name, OK, f"answers, token accepted; {len(tools)} tool(s), "
                    f"{len(mine)} instrument(s) here")


def check_sharepoint(site: Site) -> Iterable[Check]:
    """The SharePoint site of each calendar answers with our account."""
    from nexuslims.reservations.sharepoint.client import SharePointClient
    from nexuslims.reservations.sharepoint.harvester import TZ_ACCEPT, TZ_PATH, site_root
    from nexuslims.reservations.sharepoint.settings import read_settings

    try:
        settings = read_settings(site.env)
    except ConfigError:
        return
    roots = sorted({site_root(i.api_url or "") or (i.api_url or "") for i in site.instruments
                    if (i.harvester or "").lower() == "sharepoint"})
    if settings is None or not roots:
        return
    client = SharePointClient(replace(settings, retries=0,
                                      timeout=min(site.timeout, settings.timeout)))
    try:
        for root in roots:
            name = f"SharePoint {shown_url(root)}"
            if not root.startswith(("http://", "https://")):
                yield Check(name, FAILURE, "an instrument's api_url is not a SharePoint feed "
                            "URL (<site>/_vti_bin/ListData.svc/<list>)")
                continue
            try:
                client.get(root + TZ_PATH, TZ_ACCEPT)
            except NexusLIMSError as exc:
                yield Check(name, FAILURE, str(exc))
            else:
                yield Check(name, OK, f"answers and accepts {settings.user}")
    finally:
        client.close()


def check_cdcs(site: Site) -> Iterable[Check]:
    """CDCS answers, the credentials work, and the records' template exists."""
    from nexuslims.export.cdcs import CDCSClient, CDCSSettings

    if not (site.env.get("NX_CDCS_URL") or site.env.get("cdcs_url")):
        return
    config, problems = CDCSSettings.read(site.env)
    if config is None:
        return  # reported by the settings check
    client = CDCSClient(replace(config, timeout=min(site.timeout, config.timeout)))
    name = f"CDCS {client.base}"
    try:
        template = client.template_id()
        client.find("nexuslims doctor: credentials check")  # needs a logged-in user
        if config.assign_public:
            client.public_workspace_id()
    except NexusLIMSError as exc:
        yield Check(name, FAILURE, str(exc))
        return
    finally:
        client.http.close()
    yield Check(name, OK, f"answers, credentials accepted, template "
                f"{config.template or 'the only one'} ({template})")


def check_elabftw(site: Site) -> Iterable[Check]:
    """eLabFTW answers ``GET /api/v2/info`` and accepts the API key."""
    from nexuslims.export.elabftw_client import ELabFTWClient, ELabFTWSettings

    if not site.env.get("NX_ELABFTW_URL"):
        return
    config, _problems = ELabFTWSettings.read(site.env)
    if config is None:
        return  # reported by the settings check
    client = ELabFTWClient(replace(config, timeout=min(site.timeout, config.timeout)))
    name = f"eLabFTW {client.site}"
    try:
        info = client.info()
    except NexusLIMSError as exc:
        yield Check(name, FAILURE, str(exc))
        return
    finally:
        client.http.close()
    yield Check(name, OK, f"answers, API key accepted (eLabFTW "
                f"{info.get('elabftw_version', 'of unknown version')})")


def check_mail(site: Site) -> Iterable[Check]:
    """The mail server answers and accepts the login (when alerts are configured)."""
    from nexuslims.ops.alerts.mail import MailError, check_mail_server, read_mail_settings

    try:
        mail = read_mail_settings(site.env)
    except ConfigError:
        return
    if mail is None:
        return
    name = f"mail {mail.server}"
    try:
        said = check_mail_server(replace(mail, timeout=min(site.timeout, mail.timeout)))
    except MailError as exc:
        yield Check(name, FAILURE, f"{exc}; alerts wait until it works")
        return
    yield Check(name, OK, said)


CHECKS = (check_nemo, check_sharepoint, check_cdcs, check_elabftw, check_mail)
