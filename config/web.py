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


# glibc's M_ARENA_MAX (mallopt's parameter -8): the same as MALLOC_ARENA_MAX in the environment.
M_ARENA_MAX = -8


def cap_malloc_arenas(arenas: int = 2) -> None:
    """Let the process's threads share `arenas` malloc arenas (glibc only; elsewhere nothing).

    glibc gives each thread that allocates under contention an arena of its own, up to eight per
    core, and keeps what each arena freed for its thread: the web process's database threads
    held ~4 MB more after 2,000 messages (docs/benchmarks.md, "Fifth pass"). Called
    before the process starts any thread.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.mallopt(M_ARENA_MAX, arenas)
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return


def main() -> None:
    cap_malloc_arenas()
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
