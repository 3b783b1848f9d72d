"""The web process: Daphne, with everything it prints (its access log included) redacted.

Daphne writes its access log straight to stdout, past Django's logging and its redacting
filter, and a request line holds the query string: an admin search for an email or a card
number would be logged in full. `python -m config.web ARGS` takes Daphne's own arguments,
after Django's system checks pass.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from privacy.redaction import redact_log_line


class RedactingStream:
    """A text stream that redacts each write before passing it on."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(redact_log_line(text))

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def main() -> None:
    import django
    from daphne.cli import CommandLineInterface
    from django.core.management import call_command

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    # The system checks at start-up, as every manage.py command runs them: a production
    # process without its own SECRET_KEY (chat.E003) does not start.
    call_command("check", fail_level="ERROR")
    from django.conf import settings

    from config import backpressure

    backpressure.install(settings.CHAT_MAX_UNSENT_BYTES)
    sys.stdout = RedactingStream(sys.stdout)
    sys.stderr = RedactingStream(sys.stderr)
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
