"""Sending alerts by email over SMTP, with NexusLIMS 2.x's setting names.

``NX_EMAIL_SMTP_HOST``, ``NX_EMAIL_SMTP_PORT``, ``NX_EMAIL_SMTP_USERNAME``,
``NX_EMAIL_SMTP_PASSWORD``, ``NX_EMAIL_USE_TLS`` (STARTTLS), ``NX_EMAIL_SENDER`` and
``NX_EMAIL_RECIPIENTS`` (comma-separated), so an existing 2.x ``.env`` works. The
certificate authorities trusted for STARTTLS are the system's, or
``NX_CERT_BUNDLE_FILE``. Every failure becomes a :class:`MailError` saying what to
check; the password never appears in it.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from nexuslims.config import file_setting, number_setting
from nexuslims.errors import ConfigError, NexusLIMSError

DEFAULT_TIMEOUT_S = 30.0


class MailError(NexusLIMSError):
    """The mail server could not be reached, refused us, or refused the message."""


@dataclass(frozen=True)
class MailSettings:
    """Where and how alert mail is sent."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    use_tls: bool = True
    ca_bundle: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"


def read_mail_settings(env: Mapping[str, str]) -> MailSettings | None:
    """The mail settings, or None when ``NX_EMAIL_SMTP_HOST`` is not set.

    Raises
    ------
    ConfigError
        Naming every email setting that is missing or wrong.
    """
    host = (env.get("NX_EMAIL_SMTP_HOST") or "").strip()
    if not host:
        return None
    problems: list[str] = []
    tls_raw = (env.get("NX_EMAIL_USE_TLS") or "true").strip().lower()
    if tls_raw not in ("true", "false", "1", "0", "yes", "no"):
        problems.append(f"NX_EMAIL_USE_TLS={tls_raw}: expects true or false")
    use_tls = tls_raw in ("true", "1", "yes")
    port = int(number_setting(env, "NX_EMAIL_SMTP_PORT", 587 if use_tls else 25, problems,
                              minimum=1, expects="a port number (e.g. 587)", whole=True))
    sender = (env.get("NX_EMAIL_SENDER") or "").strip()
    if "@" not in sender:
        problems.append(f"NX_EMAIL_SENDER={sender}: expects the address alerts come from, "
                        "e.g. nexuslims@example.org" if sender else
                        "NX_EMAIL_SENDER is not set: it expects the address alerts come from")
    recipients = tuple(r.strip() for r in (env.get("NX_EMAIL_RECIPIENTS") or "").split(",")
                       if r.strip())
    if not recipients or not all("@" in r for r in recipients):
        problems.append("NX_EMAIL_RECIPIENTS expects the comma-separated addresses alerts go "
                        "to, e.g. admin@example.org,team@example.org")
    username = (env.get("NX_EMAIL_SMTP_USERNAME") or "").strip() or None
    password = env.get("NX_EMAIL_SMTP_PASSWORD") or None
    if username and not password:
        problems.append("NX_EMAIL_SMTP_USERNAME is set but NX_EMAIL_SMTP_PASSWORD is not")
    bundle = file_setting(env, "NX_CERT_BUNDLE_FILE", problems,
                          "a PEM file of the certificate authorities to trust")
    if problems:
        raise ConfigError(problems)
    return MailSettings(host=host, port=port, sender=sender, recipients=recipients,
                        username=username, password=password, use_tls=use_tls,
                        ca_bundle=str(bundle) if bundle else None)


def _connect(settings: MailSettings) -> smtplib.SMTP:
    try:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"mail server {settings.server} cannot be reached ({_reason(exc)}): "
                        "check NX_EMAIL_SMTP_HOST and NX_EMAIL_SMTP_PORT") from None
    try:
        smtp.ehlo()
        if settings.use_tls:
            context = ssl.create_default_context(cafile=settings.ca_bundle)
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
    except smtplib.SMTPAuthenticationError as exc:
        smtp.close()
        raise MailError(f"mail server {settings.server} refused the login of "
                        f"{settings.username} (SMTP {exc.smtp_code}): check "
                        "NX_EMAIL_SMTP_USERNAME and NX_EMAIL_SMTP_PASSWORD") from None
    except ssl.SSLError as exc:
        smtp.close()
        raise MailError(f"STARTTLS with {settings.server} failed ({exc.reason or exc}): check "
                        "its certificate, NX_CERT_BUNDLE_FILE, or NX_EMAIL_USE_TLS") from None
    except (OSError, smtplib.SMTPException) as exc:
        smtp.close()
        raise MailError(f"mail server {settings.server} failed during "
                        f"{'STARTTLS/' if settings.use_tls else ''}login: {_reason(exc)}") \
            from None
    return smtp


def check_mail_server(settings: MailSettings) -> str:
    """Connect, STARTTLS and log in, without sending; what the server said.

    Raises
    ------
    MailError
    """
    smtp = _connect(settings)
    try:
        smtp.noop()
        return f"{settings.server} accepted " + (
            f"the login of {settings.username}" if settings.username else "the connection") + (
            " over STARTTLS" if settings.use_tls else "")
    finally:
        _quit(smtp)


def send_mail(settings: MailSettings, subject: str, body: str) -> None:
    """Send one plain-text message to every recipient.

    Raises
    ------
    MailError
        Nothing was sent (the caller keeps the alert for the next pass).
    """
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(body)
    smtp = _connect(settings)
    try:
        refused = smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"mail server {settings.server} did not take the alert: "
                        f"{_reason(exc)}") from None
    finally:
        _quit(smtp)
    if refused and len(refused) == len(settings.recipients):
        raise MailError(f"mail server {settings.server} refused every recipient: check "
                        "NX_EMAIL_RECIPIENTS")


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        return f"SMTP {exc.smtp_code} {text}".strip()
    if isinstance(exc, socket.timeout | TimeoutError):
        return "no answer in time"
    return getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
