"""A real SMTP server (aiosmtpd) on 127.0.0.1 that the registry's e-mail settings point at."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

RELAY_USER, RELAY_PASSWORD = "registry", "relay-secret"


@dataclass
class Mailbox:
    """What the server accepted: one parsed message per recipient envelope, and who authenticated."""

    messages: list = field(default_factory=list)
    logins: list = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        for rcpt in envelope.rcpt_tos:
            self.messages.append((rcpt, msg))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for rcpt, m in self.messages if rcpt == address]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _authenticator(mailbox: Mailbox):
    def check(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == RELAY_USER and auth_data.password.decode() == RELAY_PASSWORD
        if ok:
            mailbox.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    return check


@pytest.fixture
def smtp_server(settings):
    """An SMTP relay on 127.0.0.1 that requires AUTH (as a company relay does), with the registry's
    settings pointed at it the way REGISTRY_EMAIL_* would."""
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator(mailbox),
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = RELAY_USER
    settings.EMAIL_HOST_PASSWORD = RELAY_PASSWORD
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    settings.EMAIL_NOTIFICATIONS = True
    settings.DEFAULT_FROM_EMAIL = "Model Registry <registry@example.com>"
    settings.REGISTRY_PUBLIC_URL = "https://registry.example.com"
    mailbox.port = port
    try:
        yield mailbox
    finally:
        controller.stop()
