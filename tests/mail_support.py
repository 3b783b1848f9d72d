"""A real local SMTP server (aiosmtpd) for the mail tests, and Celery tasks run where they are sent."""

from __future__ import annotations

from typing import Any

import pytest


class Inbox:
    """Mail received by a real local SMTP server (aiosmtpd), for tests to wait on."""

    def __init__(self) -> None:
        import threading

        self.messages: list[Any] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's hook name)
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.arrived:
            self.messages.append(message)
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10) -> list[Any]:
        """The first `count` messages, once that many arrived (fails after `timeout` seconds)."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"expected {count} mails, got {len(self.messages)}")
            return self.messages[:count]


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on a free local port; Django's mail goes there."""
    from aiosmtpd.controller import Controller

    import socket

    with socket.socket() as probe:  # aiosmtpd checks its port by connecting to it: no port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def eager_tasks():
    """Celery tasks run where they are sent (the live-stack tests run a real worker instead)."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before
