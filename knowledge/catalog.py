"""The curated intents and answers, cached in each process and reloaded when any changes.

The reply policy looks an intent up on every message; reading them from this cache instead of
the database saves two queries per message. Freshness is checked at most every few seconds
(one aggregate query), so an admin's edit reaches every web process within that time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.db.models import Count, Max

from knowledge.models import Intent

CHECK_SECONDS = 2.0


@dataclass(frozen=True)
class Answer:
    name: str
    description: str
    answer: str
    quick_replies: list[str]
    handoff: bool


class Catalog:
    def __init__(self) -> None:
        self._by_name: dict[str, Answer] = {}
        self._by_description: dict[str, Answer] = {}
        self._stamp: tuple[object, ...] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def _fresh(self) -> None:
        now = time.monotonic()
        if self._stamp is not None and now - self._checked < CHECK_SECONDS:
            return
        with self._lock:
            if self._stamp is not None and now - self._checked < CHECK_SECONDS:
                return
            stamp = tuple(Intent.objects.aggregate(n=Count("id"), last=Max("updated")).values())
            if stamp != self._stamp:
                answers = [
                    Answer(i.name, i.description, i.answer, list(i.quick_replies or []), i.handoff)
                    for i in Intent.objects.all()
                ]
                self._by_name = {a.name: a for a in answers}
                self._by_description = {a.description.lower(): a for a in answers if a.description and a.answer}
                self._stamp = stamp
            self._checked = time.monotonic()

    def get(self, name: str) -> Answer | None:
        self._fresh()
        return self._by_name.get(name)

    def by_description(self, text: str) -> Answer | None:
        """The intent whose button label ("did you mean", quick reply) is exactly this text."""
        self._fresh()
        return self._by_description.get(text.strip().lower())

    def reset(self) -> None:
        with self._lock:
            self._stamp = None


catalog = Catalog()
