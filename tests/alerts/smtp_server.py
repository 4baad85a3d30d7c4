"""A real SMTP server on 127.0.0.1 for the alert tests: aiosmtpd with STARTTLS and AUTH.

The certificate is made at test time with ``openssl`` for ``127.0.0.1``; clients trust
it through ``NX_CERT_BUNDLE_FILE``. Logins other than ``USER``/``PASSWORD`` are refused,
and AUTH is only offered after STARTTLS, as on a real submission port.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "alerts@example.org", "smtp-pass-9f2c"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@dataclass
class Received:
    """What the server was given: the envelope and the parsed message."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return self.message.get_content()


@dataclass
class SMTPServer:
    """Start/stop on a fixed port; ``messages`` holds everything received."""

    port: int
    cert: Path
    key: Path
    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)
    tls_sessions: int = 0
    """Messages received over STARTTLS."""
    controller: Controller | None = None

    def env(self, **extra: str) -> dict[str, str]:
        """The NX_EMAIL_* settings that reach this server."""
        return {"NX_EMAIL_SMTP_HOST": "127.0.0.1", "NX_EMAIL_SMTP_PORT": str(self.port),
                "NX_EMAIL_SMTP_USERNAME": USER, "NX_EMAIL_SMTP_PASSWORD": PASSWORD,
                "NX_EMAIL_USE_TLS": "true", "NX_EMAIL_SENDER": "nexuslims@example.org",
                "NX_EMAIL_RECIPIENTS": "admin@example.org, team@example.org",
                "NX_CERT_BUNDLE_FILE": str(self.cert), **extra}

    def start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        server = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope) -> str:  # noqa: N802
                server.tls_sessions += bool(session.ssl)  # the message came over TLS
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                server.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                                message))  # type: ignore[arg-type]
                return "250 OK"

        def authenticator(smtp, session, envelope, mechanism, data) -> AuthResult:
            ok = (isinstance(data, LoginPassword) and data.login.decode() == USER
                  and data.password.decode() == PASSWORD)
            self.logins.append((data.login.decode() if isinstance(data, LoginPassword)
                                else "?", ok))
            return AuthResult(success=ok, handled=False)

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     tls_context=context, require_starttls=True,
                                     auth_required=True, auth_require_tls=True,
                                     authenticator=authenticator)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
