"""Sending one email, over real SMTP or to a local file or the console.

``MAIL_BACKEND``: ``smtp`` (production: ``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_SECURITY`` =
``none`` | ``starttls`` | ``ssl``, ``SMTP_USER``, ``SMTP_PASSWORD``, and always an explicit
``SMTP_TIMEOUT``, so a silent server cannot hang the job), ``file`` (each message written as a
``.eml`` file under ``MAIL_FILE_DIR``: the default, so that nothing leaves the machine until
someone configures SMTP) or ``console`` (printed).

A failure is either *transient* (a 4xx reply, a timeout, a refused or dropped connection: the
outbox tries again later) or *permanent* (a 5xx reply: the message is marked failed and shown
to managers).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

BACKENDS = ("smtp", "file", "console")
SECURITY = ("none", "starttls", "ssl")


class MailError(Exception):
    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class MailSettings:
    backend: str = "file"
    sender: str = "Needle Registry <registry@localhost>"
    host: str = "localhost"
    port: int = 25
    security: str = "none"
    user: str = ""
    password: str = ""
    timeout: float = 10.0
    file_dir: str = "mail"

    @classmethod
    def from_config(cls, config) -> MailSettings:
        return cls(
            backend=config["MAIL_BACKEND"], sender=config["MAIL_SENDER"], host=config["SMTP_HOST"],
            port=config["SMTP_PORT"], security=config["SMTP_SECURITY"], user=config["SMTP_USER"],
            password=config["SMTP_PASSWORD"], timeout=config["SMTP_TIMEOUT"], file_dir=config["MAIL_FILE_DIR"],
        )


def build(settings: MailSettings, *, recipient: str, subject: str, text: str, html: str, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Deliver ``message`` or raise ``MailError``."""
    if settings.backend == "console":
        print(message.as_string(), file=sys.stdout, flush=True)
        return
    if settings.backend == "file":
        folder = Path(settings.file_dir)
        folder.mkdir(parents=True, exist_ok=True)
        name = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in message["Message-ID"].strip("<>"))
        (folder / f"{name}.eml").write_bytes(bytes(message))
        return
    _send_smtp(settings, message)


def _send_smtp(settings: MailSettings, message: EmailMessage) -> None:
    try:
        if settings.security == "ssl":
            client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with client:
            if settings.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.user:
                client.login(settings.user, settings.password)
            client.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        raise MailError(f"recipient refused: {error.recipients}", transient=all(400 <= c < 500 for c in codes)) from error
    except smtplib.SMTPResponseException as error:  # sender refused, data error, auth, ...
        raise MailError(f"SMTP {error.smtp_code}: {_text(error.smtp_error)}", transient=400 <= error.smtp_code < 500) from error
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.timeout, TimeoutError, ConnectionError) as error:
        raise MailError(f"SMTP server unreachable or silent: {error!r}", transient=True) from error
    except OSError as error:  # DNS failure, network unreachable, TLS trouble
        raise MailError(f"SMTP connection failed: {error!r}", transient=True) from error
    except smtplib.SMTPException as error:
        raise MailError(f"SMTP error: {error!r}", transient=False) from error


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
