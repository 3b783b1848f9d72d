"""Insights' own data: daily roll-ups of the chat's figures, and content-gap runs with their topics.

Insights sit on top of chat and point down at it (`Site`, `knowledge.Intent`); chat knows
nothing of them.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from chat.models import Site
from knowledge.models import Intent


class DailyStat(models.Model):
    """One site's figures for one day, for the model version that first answered each conversation.

    A conversation counts on the day it was opened. Every rolled-up (site, day) has at least
    the row of version "" (all zeros when nothing happened), so a missing row means "not rolled
    up yet", never "no traffic".
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    model_version = models.CharField(max_length=64, blank=True, default="")
    conversations = models.PositiveIntegerField(default=0)  # with at least one customer message
    customer_messages = models.PositiveIntegerField(default=0)
    contained = models.PositiveIntegerField(default=0)  # answered by the bot, never handed to a person
    handed_off = models.PositiveIntegerField(default=0)
    bot_replies = models.PositiveIntegerField(default=0)
    answers = models.PositiveIntegerField(default=0)
    tickets = models.PositiveIntegerField(default=0)
    clarify = models.PositiveIntegerField(default=0)
    fallback = models.PositiveIntegerField(default=0)
    thumbs_up = models.PositiveIntegerField(default=0)
    thumbs_down = models.PositiveIntegerField(default=0)
    csat_count = models.PositiveIntegerField(default=0)
    csat_sum = models.PositiveIntegerField(default=0)
    csat_scores = models.JSONField(default=list)  # how many ratings of 1, 2, 3, 4, 5
    # Medians do not add up, so the distribution is kept: a histogram of milliseconds (rounded by
    # insights.metrics.bucket) → conversations, e.g. {"490": 12, "1200": 3}.
    first_response_ms = models.JSONField(default=dict)
    agent_response_ms = models.JSONField(default=dict)
    intents = models.JSONField(default=dict)  # intent → [bot replies, thumbs up, thumbs down]
    computed = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "day", "model_version"], name="dailystat_site_day_version"),
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.day} {self.model_version or '-'}"


class GapRun(models.Model):
    """One computation of a site's content gaps: progress while it runs, its topics when done."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    days = models.PositiveIntegerField(default=30)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    stage = models.CharField(max_length=100, blank=True)
    messages = models.PositiveIntegerField(default=0)  # questions the bot did not answer well
    encoder = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"gaps of {self.site_id} ({self.status}, {self.progress}%)"


class GapTopic(models.Model):
    """A group of badly answered questions that mean the same thing."""

    run = models.ForeignKey(GapRun, on_delete=models.CASCADE, related_name="topics")
    rank = models.PositiveIntegerField()  # 1 = affects the most customers
    label = models.CharField(max_length=200)
    size = models.PositiveIntegerField()  # messages
    customers = models.PositiveIntegerField()  # distinct visitors
    recent = models.PositiveIntegerField(default=0)  # messages in the newer half of the window
    earlier = models.PositiveIntegerField(default=0)  # messages in the older half
    reasons = models.JSONField(default=dict)  # why the bot's answers missed: reason → count
    samples = models.JSONField(default=list)  # redacted texts, most typical first
    message_ids = models.JSONField(default=list)  # the customer messages (chat.Message ids)
    intent = models.ForeignKey(Intent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    promoted = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "rank"]

    def __str__(self) -> str:
        return f"#{self.rank} {self.label} ({self.size})"

    def reason_list(self) -> list[tuple[str, int]]:
        """Why the answers missed, for people: ("clarify not taken", 3), most frequent first."""
        return [(reason.replace("_", " "), n) for reason, n in self.reasons.items()]

    @property
    def trend(self) -> str:
        """Newer half of the window against the older half: rising, falling or steady."""
        if self.recent > self.earlier * 1.25 and self.recent - self.earlier >= 2:
            return "rising"
        if self.earlier > self.recent * 1.25 and self.earlier - self.recent >= 2:
            return "falling"
        return "steady"
